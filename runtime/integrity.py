"""Is an artifact directory whole? Its checksums, and the structure of its `booster.txt`.

LightGBM's model parser trusts its input: a `booster.txt` cut anywhere from a fifth of the
way in to near its end makes LightGBM 4.7 abort or crash the whole process ("[Fatal] Model
format error, expect a tree here"), and one cut a few bytes short loads with fewer trees. So
`ScoringModel.load` reads each file once, matches it to the sha256 saved with it, checks the
booster's text here in plain Python, and only then gives LightGBM the very text it checked.
The checksums catch any change to a file; the structure check catches a damaged file whose
manifest was rewritten to match, and a booster and `model.json` of different models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from runtime.artifact import BOOSTER_FILE, CHECKSUMS_FILE, MODEL_FILE, ArtifactError, no_model

# The files the manifest must vouch for, in the order they are written and checked.
ARTIFACT_FILES = (BOOSTER_FILE, MODEL_FILE)
_HEADER_KEYS = ("version", "num_class", "max_feature_idx", "feature_names", "tree_sizes")
# Per-node arrays of a tree with n leaves have n - 1 values; per-leaf arrays have n.
_NODE_ARRAYS = (
    "split_feature",
    "split_gain",
    "threshold",
    "decision_type",
    "left_child",
    "right_child",
    "internal_value",
    "internal_weight",
    "internal_count",
)
_LEAF_ARRAYS = ("leaf_value", "leaf_weight", "leaf_count")
_CATEGORICAL_SPLIT = 1  # bit of decision_type: the threshold indexes cat_boundaries
# What follows the trees, in order; LightGBM reads the parameters and the Python package
# the last line (`pandas_categorical:<json>`).
_TAIL_MARKERS = (
    b"\nfeature_importances:\n",
    b"\nparameters:\n",
    b"\nend of parameters\n",
    b"\npandas_categorical:",
)


class Checksums(BaseModel):
    """`checksums.json`: the sha256 and size of each file as it was saved."""

    algorithm: Literal["sha256"] = "sha256"
    files: dict[str, str]
    sizes: dict[str, int]


def write_artifact(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write `files` (name -> bytes) into `directory`, then the checksums that seal them.

    The old manifest is removed first and the new one written last: a save that dies half-way,
    or a reader looking while it runs, finds no manifest or files that do not match it, so it
    is refused. No torn state can look like a complete artifact, which is why the files need no
    temporary names or fsync.
    """
    (directory / CHECKSUMS_FILE).unlink(missing_ok=True)
    for name, data in files.items():
        (directory / name).write_bytes(data)
    seal(directory, files)


def seal(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write the manifest of `files`, the bytes as they are on disk."""
    checksums = Checksums(
        files={name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        sizes={name: len(data) for name, data in files.items()},
    )
    (directory / CHECKSUMS_FILE).write_text(checksums.model_dump_json(indent=2) + "\n")


def read_verified(directory: Path) -> dict[str, bytes]:
    """The bytes of `booster.txt` and `model.json`, each read once and matched to its sha256.

    Raises `ArtifactError` for a missing or unreadable manifest, a missing file or a mismatch;
    `FileNotFoundError` when the directory holds no artifact at all (a wrong path, not damage).
    """
    checksums = _read_checksums(directory)
    files = {}
    for name in ARTIFACT_FILES:
        try:
            data = (directory / name).read_bytes()
        except FileNotFoundError:
            raise ArtifactError.in_file(directory, name, "is missing") from None
        if hashlib.sha256(data).hexdigest() != checksums.files[name]:
            raise ArtifactError.in_file(
                directory, name, _mismatch(len(data), checksums.sizes[name])
            )
        files[name] = data
    return files


def booster_text(data: bytes, feature_names: Sequence[str], directory: Path) -> str:
    """The text of `booster.txt`, once it is a whole LightGBM model of `feature_names`."""
    try:
        _check_booster(data, feature_names)
        return data.decode("utf-8")
    except _Malformed as exc:
        raise ArtifactError.in_file(directory, BOOSTER_FILE, str(exc)) from None
    except UnicodeDecodeError as exc:
        raise ArtifactError.in_file(
            directory, BOOSTER_FILE, f"is not UTF-8 text (byte {exc.start:,})"
        ) from None


class _Malformed(Exception):
    """What is wrong with a booster text: completes "booster.txt in <directory> ..."."""


def _read_checksums(directory: Path) -> Checksums:
    path = directory / CHECKSUMS_FILE
    if not path.exists():
        if not any((directory / name).exists() for name in ARTIFACT_FILES):
            raise no_model(directory)
        raise ArtifactError.in_file(
            directory,
            CHECKSUMS_FILE,
            f"is missing, so {' and '.join(ARTIFACT_FILES)} cannot be verified (saved by a "
            "version without checksums, or by a save that did not finish)",
        )
    try:
        checksums = Checksums.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ArtifactError.in_file(
            directory, CHECKSUMS_FILE, f"is not a checksum manifest ({error['msg']})"
        ) from None
    unlisted = [n for n in ARTIFACT_FILES if n not in checksums.files or n not in checksums.sizes]
    if unlisted:
        raise ArtifactError.in_file(
            directory, CHECKSUMS_FILE, f"does not list {' and '.join(unlisted)}"
        )
    return checksums


def _mismatch(size: int, saved: int) -> str:
    if size < saved:
        return f"is truncated: {size:,} of {saved:,} bytes (it does not match {CHECKSUMS_FILE})"
    if size > saved:
        return f"has grown since it was saved: {size:,} bytes, {saved:,} in {CHECKSUMS_FILE}"
    return f"has changed since it was saved: its sha256 is not the one in {CHECKSUMS_FILE}"


def _check_booster(data: bytes, feature_names: Sequence[str]) -> None:
    header, trees_start = _header(data)
    sizes = _ints(header, "tree_sizes", "header")
    if not sizes or min(sizes) <= 0:
        raise _Malformed(f"has no trees, or tree_sizes {header['tree_sizes'][:40]!r} is damaged")
    n_features = _int(header, "max_feature_idx", "header") + 1
    _check_features(header["feature_names"].decode("utf-8").split(" "), n_features, feature_names)
    trees_end = _check_trees(data, trees_start, sizes, n_features)
    _check_tail(data, trees_end, len(sizes))


def _header(data: bytes) -> tuple[dict[str, bytes], int]:
    """The header's fields, and where the first tree starts."""
    if not data:
        raise _Malformed("is empty")
    if not data.startswith(b"tree\n"):
        raise _Malformed("is not a LightGBM text model (its first line is not 'tree')")
    end = data.find(b"\n\n")
    if end < 0:
        raise _Malformed(f"is truncated: its {len(data):,} bytes end inside the header")
    fields = _fields(data[len(b"tree\n") : end].split(b"\n"), "header")
    missing = [key for key in _HEADER_KEYS if key not in fields]
    if missing:
        raise _Malformed(f"lacks header fields {', '.join(missing)}")
    return fields, end + 2


def _check_features(
    in_booster: Sequence[str], n_features: int, feature_names: Sequence[str]
) -> None:
    if len(in_booster) != n_features:
        raise _Malformed(
            f"names {len(in_booster)} features but its max_feature_idx says {n_features}"
        )
    if n_features != len(feature_names):
        raise _Malformed(
            f"holds {n_features} features but {MODEL_FILE} describes {len(feature_names)}: "
            "the two files are not of the same model"
        )
    # A booster trained on an unnamed matrix (as some tests train) has LightGBM's default
    # names: only its feature count can be checked.
    if list(in_booster) == [f"Column_{i}" for i in range(n_features)]:
        return
    for i, (name, expected) in enumerate(zip(in_booster, feature_names, strict=True)):
        if not _same_feature(name, expected):
            raise _Malformed(
                f"was trained on other features than {MODEL_FILE} describes: feature {i} is "
                f"{name!r} in the booster, {expected!r} in {MODEL_FILE}"
            )


def _same_feature(in_booster: str, expected: str) -> bool:
    """LightGBM writes whitespace in a feature name as "_", and training spells the characters
    it refuses as "_" (`training.fit.booster_feature_name`): any other difference is another
    feature."""
    return in_booster == expected or (
        len(in_booster) == len(expected)
        and all(b == e or b == "_" for b, e in zip(in_booster, expected, strict=True))
    )


def _check_trees(data: bytes, start: int, sizes: Sequence[int], n_features: int) -> int:
    """Check each `Tree=i` block where tree_sizes puts it; the offset after the last."""
    offset = start
    for i, size in enumerate(sizes):
        if offset + size > len(data):
            raise _Malformed(
                f"is truncated: its {len(data):,} bytes end inside Tree={i} of {len(sizes)} trees, "
                f"which need {start + sum(sizes):,} bytes"
            )
        _check_tree(data[offset : offset + size], i, n_features)
        offset += size
    return offset


def _check_tree(block: bytes, i: int, n_features: int) -> None:
    where = f"Tree={i}"
    head = b"Tree=%d\n" % i
    # Each block is "Tree=i", its fields, and two blank lines.
    if not block.startswith(head) or not block.endswith(b"\n\n\n"):
        raise _Malformed(
            f"has a damaged {where}: it does not fill the {len(block):,} bytes tree_sizes gives it"
        )
    fields = _fields(block[len(head) : -3].split(b"\n"), where)
    for key in ("num_cat", "is_linear", "shrinkage"):
        if key not in fields:
            raise _Malformed(f"has a damaged {where}: it lacks {key}")
    leaves = _int(fields, "num_leaves", where)
    if leaves < 1:
        raise _Malformed(f"has a damaged {where}: num_leaves={leaves}")
    _count(fields, "leaf_value", leaves, where)
    if leaves == 1:
        return  # a single leaf: LightGBM reads only its value
    for key in _NODE_ARRAYS:
        _count(fields, key, leaves - 1, where)
    for key in _LEAF_ARRAYS:
        _count(fields, key, leaves, where)
    split_feature = _ints(fields, "split_feature", where)
    if min(split_feature) < 0 or max(split_feature) >= n_features:
        raise _Malformed(
            f"has a damaged {where}: it splits on a feature outside 0-{n_features - 1}"
        )
    _check_links(
        _ints(fields, "left_child", where), _ints(fields, "right_child", where), leaves, where
    )
    _check_categorical_splits(fields, where)


def _check_links(left: list[int], right: list[int], leaves: int, where: str) -> None:
    """The children form one tree rooted at node 0: every other node and every leaf (child
    ~leaf) is a child exactly once, and always of a node numbered before it (LightGBM numbers
    nodes in the order it splits them), so no link loops back."""
    if sorted(left + right) != [*range(-leaves, 0), *range(1, leaves - 1)] or any(
        0 <= child <= node
        for node, pair in enumerate(zip(left, right, strict=True))
        for child in pair
    ):
        raise _Malformed(f"has a damaged {where}: its nodes do not link into one tree")


def _check_categorical_splits(fields: Mapping[str, bytes], where: str) -> None:
    """A categorical split's threshold indexes cat_boundaries, which index cat_threshold."""
    n_cat = _int(fields, "num_cat", where)
    categorical = [
        j
        for j, kind in enumerate(_ints(fields, "decision_type", where))
        if kind & _CATEGORICAL_SPLIT
    ]
    if not n_cat:
        if categorical:
            raise _Malformed(f"has a damaged {where}: categorical splits but num_cat=0")
        return
    boundaries = _ints(fields, "cat_boundaries", where)
    if len(boundaries) != n_cat + 1 or boundaries[0] != 0 or boundaries != sorted(boundaries):
        raise _Malformed(f"has a damaged {where}: cat_boundaries do not fit num_cat={n_cat}")
    _count(fields, "cat_threshold", boundaries[-1], where)
    thresholds = fields["threshold"].split()
    try:
        sets = [int(float(thresholds[j])) for j in categorical]
    except ValueError:
        sets = [-1]
    if any(not 0 <= index < n_cat for index in sets):
        raise _Malformed(f"has a damaged {where}: a categorical split outside its {n_cat} sets")


def _check_tail(data: bytes, offset: int, n_trees: int) -> None:
    """After the trees: their end marker, the importances, parameters and pandas categories."""
    if not data.startswith(b"end of trees\n", offset):
        rest = data[offset:]
        if b"end of trees\n".startswith(rest):
            raise _Malformed(
                f"is truncated: its {len(data):,} bytes end after its {n_trees} "
                "trees, before 'end of trees'"
            )
        raise _Malformed(f"has {rest[:20]!r} after its {n_trees} trees, not 'end of trees'")
    position = offset
    for marker in _TAIL_MARKERS:
        position = data.find(marker, position)
        if position < 0:
            raise _Malformed(
                f"is truncated: its {len(data):,} bytes end before "
                f"{marker.strip().decode()!r}, after its {n_trees} trees"
            )
    last_line = data[position + 1 :]
    # The Python package ends the file with this line and a newline: a cut one lacks the
    # newline, or its JSON does not parse.
    if (
        last_line.count(b"\n") != 1
        or not last_line.endswith(b"\n")
        or not _is_json(last_line.partition(b":")[2])
    ):
        raise _Malformed(
            f"is truncated: its {len(data):,} bytes end inside its last line, {last_line[:40]!r}"
        )


def _is_json(text: bytes) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _fields(lines: Sequence[bytes], where: str) -> dict[str, bytes]:
    """`key=value` lines as a mapping."""
    fields = {}
    for line in lines:
        key, sep, value = line.partition(b"=")
        if not sep:
            raise _Malformed(f"has a damaged {where}: the line {line[:40]!r} is not key=value")
        fields[key.decode("ascii", "replace")] = value
    return fields


def _ints(fields: Mapping[str, bytes], key: str, where: str) -> list[int]:
    if key not in fields:
        raise _Malformed(f"has a damaged {where}: it lacks {key}")
    try:
        return list(map(int, fields[key].split()))
    except ValueError:
        raise _Malformed(f"has a damaged {where}: {key} is not whole numbers") from None


def _int(fields: Mapping[str, bytes], key: str, where: str) -> int:
    values = _ints(fields, key, where)
    if len(values) != 1:
        raise _Malformed(f"has a damaged {where}: {key} is not one whole number")
    return values[0]


def _count(fields: Mapping[str, bytes], key: str, expected: int, where: str) -> None:
    if key not in fields:
        raise _Malformed(f"has a damaged {where}: it lacks {key}")
    value = fields[key]
    found = value.count(b" ") + 1 if value else 0  # what split() counts, without the list
    if found != expected:
        raise _Malformed(f"has a damaged {where}: {key} has {found} values, not {expected}")
