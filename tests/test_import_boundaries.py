"""The rooms keep their boundaries: the service and the runtime model load no training code
and no MLflow, and `leadscore --help` loads none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("lightgbm", "sklearn", "mlflow", "pandas")


def _loaded_after(code: str) -> set[str]:
    """Top-level packages in sys.modules after running `code` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    "code",
    [
        "import serving.app",
        "import runtime.model, runtime.leads, runtime.source",
    ],
)
def test_serving_and_runtime_import_neither_training_nor_mlflow(code):
    loaded = _loaded_after(code)
    assert not loaded & {"training", "mlflow", "sklearn", "lightgbm"}, sorted(loaded)


def test_loading_a_model_directory_does_not_load_mlflow(tmp_path):
    from tests.serving_fixtures import make_model

    path = make_model(seed=1, n_leads=200, rounds=5).save(tmp_path / "model")
    loaded = _loaded_after(f"from runtime.source import load_model\nload_model({str(path)!r})")
    assert "lightgbm" in loaded
    assert not loaded & {"training", "mlflow"}


def test_help_loads_no_heavy_library():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "leadscore", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Usage" in result.stdout
    imported = {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
    }
    assert not imported & set(HEAVY), sorted(imported & set(HEAVY))
