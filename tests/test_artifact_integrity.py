"""A damaged artifact is refused with one ArtifactError naming the file and the fix, and the
process lives: LightGBM aborts the whole process on a truncated booster, so loads of damaged
artifacts run in a child process and the test checks it survived them all."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from runtime.artifact import (
    BOOSTER_FILE,
    CHECKSUMS_FILE,
    MODEL_FILE,
    REEXPORT,
    ArtifactError,
)
from runtime.integrity import booster_text
from runtime.model import ScoringModel
from runtime.source import load_model
from tests.artifact_damage import BLAMED, DAMAGES, damage, reseal

ROOT = Path(__file__).resolve().parents[1]
# Truncation offsets the child sweeps: every 2% of booster.txt, and a few bytes short of its end.
SWEEP_PERCENT = range(0, 100, 2)
SWEEP_SHORT = (100, 10, 2, 1)
_TRYING = "loading: "


@pytest.fixture(scope="module")
def model() -> ScoringModel:
    # Imported here: the child processes import this module and need no training code.
    from tests.serving_fixtures import make_model

    return make_model(seed=5, n_leads=600, rounds=20)


@pytest.fixture(scope="module")
def pristine(model: ScoringModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("integrity") / "model")


@pytest.fixture
def artifact(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the pristine artifact to damage."""
    return Path(shutil.copytree(pristine, tmp_path / "model"))


def _in_child(call: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `call(*args)` of this module in a fresh interpreter."""
    code = f"import sys\nfrom tests.test_artifact_integrity import {call}\n{call}(*sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def _trying(what: object) -> None:
    """Say on stderr what the child loads next: if it dies, the last one killed it."""
    print(f"{_TRYING}{what}", file=sys.stderr, flush=True)


def _last_tried(stderr: str) -> str:
    tried = [line.removeprefix(_TRYING) for line in stderr.splitlines() if line.startswith(_TRYING)]
    return tried[-1] if tried else "?"


def _result(child: subprocess.CompletedProcess[str]) -> dict[str, dict]:
    """The child's JSON, or a failure naming what it died loading."""
    if child.returncode != 0:
        pytest.fail(
            f"the loading process died (rc {child.returncode}) loading "
            f"{_last_tried(child.stderr)}:\n{child.stderr[-2000:]}"
        )
    return json.loads(child.stdout.splitlines()[-1])


def _outcome(load: Callable[[Path], ScoringModel], directory: Path) -> dict[str, object]:
    """How loading `directory` ended, as JSON the parent reads."""
    try:
        load(directory)
    except Exception as exc:
        return {
            "error": type(exc).__name__,
            "artifact": isinstance(exc, ArtifactError),
            "message": str(exc),
        }
    return {"error": None}


def refuse_damages(pristine: str, workdir: str) -> None:
    """(In the child.) Each damage of `DAMAGES` loaded both ways; the outcomes as JSON."""
    outcomes = {}
    for name in DAMAGES:
        _trying(name)
        directory = Path(shutil.copytree(pristine, Path(workdir) / name))
        damage(directory, name)
        outcomes[name] = {
            "directory": str(directory),
            "load": _outcome(ScoringModel.load, directory),
            "load_model": _outcome(load_model, directory),
        }
    print(json.dumps(outcomes))


def sweep_truncations(pristine: str, workdir: str) -> None:
    """(In the child.) booster.txt cut at every offset of the sweep, checksums rewritten to
    match, so only the structure check stands between the cut file and LightGBM."""
    directory = Path(shutil.copytree(pristine, Path(workdir) / "model"))
    data = (directory / BOOSTER_FILE).read_bytes()
    keeps = [len(data) * p // 100 for p in SWEEP_PERCENT] + [len(data) - n for n in SWEEP_SHORT]
    results = {}
    for keep in keeps:
        _trying(keep)
        (directory / BOOSTER_FILE).write_bytes(data[:keep])
        reseal(directory)
        results[keep] = _outcome(ScoringModel.load, directory)
    print(json.dumps(results))


@pytest.fixture(scope="module")
def refusals(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return _result(
        _in_child("refuse_damages", str(pristine), str(tmp_path_factory.mktemp("damaged")))
    )


# -- intact artifacts ---------------------------------------------------------------------
def test_save_writes_the_sha256_and_size_of_each_file(pristine: Path):
    manifest = json.loads((pristine / CHECKSUMS_FILE).read_text())
    assert manifest["algorithm"] == "sha256"
    for name in (BOOSTER_FILE, MODEL_FILE):
        data = (pristine / name).read_bytes()
        assert manifest["files"][name] == hashlib.sha256(data).hexdigest()
        assert manifest["sizes"][name] == len(data)
    assert set(manifest["files"]) == set(manifest["sizes"]) == {BOOSTER_FILE, MODEL_FILE}


def test_an_intact_artifact_loads_and_predicts_bitwise_the_same(model, pristine):
    matrix = np.random.default_rng(0).normal(2, 3, (500, len(model.feature_names)))
    matrix[::7, -5:] = np.nan
    before = model.predict_matrix(matrix)
    for loaded in (ScoringModel.load(pristine), load_model(pristine)):
        assert loaded.booster.model_to_string() == model.booster.model_to_string()
        assert loaded.spec == model.spec
        after = loaded.predict_matrix(matrix)
        for field in ("raw", "probability", "score", "tier"):
            np.testing.assert_array_equal(getattr(after, field), getattr(before, field))


def test_saving_again_over_an_artifact_gives_a_loadable_one(model, artifact):
    model.save(artifact)
    assert ScoringModel.load(artifact).spec == model.spec


# -- damaged artifacts --------------------------------------------------------------------
@pytest.mark.parametrize("name", DAMAGES)
def test_every_damage_is_refused_naming_the_file_and_the_fix(refusals, name):
    directory = refusals[name]["directory"]
    for loader in ("load", "load_model"):
        outcome = refusals[name][loader]
        assert outcome["artifact"], (loader, outcome)
        message = outcome["message"]
        assert f" in {directory} " in message and BLAMED[name] in message, (loader, message)
        assert REEXPORT in message and "\n" not in message, (loader, message)


def test_no_truncation_of_the_booster_reaches_lightgbm(pristine, tmp_path):
    results = _result(_in_child("sweep_truncations", str(pristine), str(tmp_path)))
    assert len(results) == len(SWEEP_PERCENT) + len(SWEEP_SHORT)
    loaded = [keep for keep, outcome in results.items() if not outcome.get("artifact")]
    assert loaded == [], {keep: results[keep] for keep in loaded}


def test_the_structure_check_refuses_a_cut_at_every_line_boundary(model, pristine):
    """Pure Python, so in this process: cuts just before, at and after every line end, where
    a cut file looks most like a whole one."""
    data = (pristine / BOOSTER_FILE).read_bytes()
    names = model.feature_names
    assert booster_text(data, names, pristine) == data.decode()
    ends = [i for i, byte in enumerate(data) if byte == ord("\n")]
    keeps = sorted({k for end in ends for k in (end, end + 1) if k < len(data)})
    accepted = []
    for keep in keeps:
        try:
            booster_text(data[:keep], names, pristine)
            accepted.append(keep)
        except ArtifactError as exc:
            assert str(exc).startswith(f"{BOOSTER_FILE} in {pristine} ")
    assert accepted == []


def test_a_directory_without_checksums_is_refused_with_the_fix(artifact):
    (artifact / CHECKSUMS_FILE).unlink()
    with pytest.raises(ArtifactError) as refused:
        ScoringModel.load(artifact)
    assert str(refused.value) == (
        f"{CHECKSUMS_FILE} in {artifact} is missing, so {BOOSTER_FILE} and {MODEL_FILE} cannot "
        "be verified (saved by a version without checksums, or by a save that did not finish); "
        "re-export it with `leadscore models export`, or retrain."
    )


def test_a_directory_without_any_artifact_is_still_no_model(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^no scoring model in .*`leadscore train`"):
        ScoringModel.load(tmp_path)


def test_a_save_that_dies_half_way_leaves_no_checksums(model, artifact, monkeypatch):
    real = Path.write_bytes

    def crash_on_model_json(path: Path, data: bytes) -> int:
        if path.name == MODEL_FILE:
            raise OSError("disk full")
        return real(path, data)

    monkeypatch.setattr(Path, "write_bytes", crash_on_model_json)
    with pytest.raises(OSError, match="disk full"):
        model.save(artifact)
    monkeypatch.undo()
    assert not (artifact / CHECKSUMS_FILE).exists()
    with pytest.raises(ArtifactError, match=f"^{CHECKSUMS_FILE} in .* is missing"):
        ScoringModel.load(artifact)


def test_an_invalid_model_json_is_an_artifact_error_naming_the_field(artifact):
    spec = json.loads((artifact / MODEL_FILE).read_text())
    spec["calibrator"]["kind"] = "magic"
    (artifact / MODEL_FILE).write_text(json.dumps(spec))
    reseal(artifact)
    with pytest.raises(ArtifactError) as refused:
        ScoringModel.load(artifact)
    assert str(refused.value).startswith(
        f"{MODEL_FILE} in {artifact} is not a valid model description (calibrator.kind: "
        "Input should be 'isotonic', 'sigmoid' or 'identity'); re-export it"
    )


@pytest.mark.parametrize(
    ("spec_name", "booster_name", "accepted"),
    [
        ("Revenue, USD", "Revenue__USD", True),  # what LightGBM and training write
        ("employee_count", "employee_total", False),
        ("employee_count", "employee_coun", False),
    ],
)
def test_booster_feature_names_must_be_model_json_s(
    model, pristine, spec_name, booster_name, accepted
):
    names = list(model.feature_names)
    text = (pristine / BOOSTER_FILE).read_text()
    header = "feature_names=" + " ".join(names)  # the fixture model is trained with its names
    assert header in text
    names[-1], in_booster = spec_name, [*names[:-1], booster_name]
    data = text.replace(header, "feature_names=" + " ".join(in_booster)).encode()
    if accepted:
        booster_text(data, names, pristine)
        return
    with pytest.raises(ArtifactError, match=f"feature {len(names) - 1} is '{booster_name}'"):
        booster_text(data, names, pristine)
