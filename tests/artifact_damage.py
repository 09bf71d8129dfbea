"""Ways to damage a saved scoring artifact, for tests that loading refuses it and lives.

`damage(directory, name)` applies one of `DAMAGES` to an artifact directory in place (damage
a copy); `BLAMED[name]` is the file the refusal must name. The `+resealed` damages rewrite
`checksums.json` to match the damaged files, so only the structure check of `booster.txt`
can catch them, as it must for "model-one-feature-short".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from runtime.artifact import BOOSTER_FILE, CHECKSUMS_FILE, MODEL_FILE
from runtime.integrity import ARTIFACT_FILES, seal

RESEALED = "+resealed"
# Where booster.txt is cut: a fraction of its size, or a number of bytes short of its end.
CUTS: dict[str, float | int] = {
    "5%": 0.05,
    "20%": 0.20,
    "40%": 0.40,
    "60%": 0.60,
    "90%": 0.90,
    "100-bytes-short": 100,
}


def truncate(path: Path, keep: int) -> None:
    """Keep the first `keep` bytes of a file."""
    path.write_bytes(path.read_bytes()[:keep])


def cut_at(size: int, cut: float | int) -> int:
    """Bytes kept of a file of `size` bytes: a fraction of it (float) or all but some (int)."""
    return int(size * cut) if isinstance(cut, float) else size - cut


def flip_bytes(path: Path, count: int = 4) -> None:
    """Invert `count` bytes in the middle of a file (same size, different content)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def drop_feature(directory: Path) -> None:
    """model.json describes one feature fewer than the booster has: its last attribute goes."""
    path = directory / MODEL_FILE
    spec = json.loads(path.read_text())
    dropped = spec["pipeline"]["attributes"]["specs"].pop()
    spec["categories"].pop(dropped["name"], None)
    path.write_text(json.dumps(spec, indent=2))


def reseal(directory: Path) -> None:
    """Rewrite checksums.json to match the files as they are now."""
    seal(directory, {name: (directory / name).read_bytes() for name in ARTIFACT_FILES})


def _cut_booster(cut: float | int, resealed: bool) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        path = directory / BOOSTER_FILE
        truncate(path, cut_at(path.stat().st_size, cut))
        if resealed:
            reseal(directory)

    return apply


def _then_reseal(change: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(directory: Path) -> None:
        change(directory)
        reseal(directory)

    return apply


# name -> (the file the refusal must name, the damage)
_KIT: dict[str, tuple[str, Callable[[Path], None]]] = {
    **{
        f"booster-cut-{label}{RESEALED if resealed else ''}": (
            BOOSTER_FILE,
            _cut_booster(cut, resealed),
        )
        for resealed in (False, True)
        for label, cut in CUTS.items()
    },
    "booster-bytes-flipped": (BOOSTER_FILE, lambda d: flip_bytes(d / BOOSTER_FILE)),
    "model-bytes-flipped": (MODEL_FILE, lambda d: flip_bytes(d / MODEL_FILE)),
    "booster-deleted": (BOOSTER_FILE, lambda d: (d / BOOSTER_FILE).unlink()),
    "model-deleted": (MODEL_FILE, lambda d: (d / MODEL_FILE).unlink()),
    "checksums-deleted": (CHECKSUMS_FILE, lambda d: (d / CHECKSUMS_FILE).unlink()),
    f"model-one-feature-short{RESEALED}": (MODEL_FILE, _then_reseal(drop_feature)),
}
DAMAGES: tuple[str, ...] = tuple(_KIT)
BLAMED: dict[str, str] = {name: blamed for name, (blamed, _) in _KIT.items()}


def damage(directory: Path, name: str) -> None:
    """Apply the damage `name` (one of `DAMAGES`) to the artifact in `directory`."""
    _KIT[name][1](Path(directory))
