"""`leadscore quickstart` end to end on a small data set, in an empty working directory."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from leadscore import app
from runtime.source import RegistrySettings, load_model

pytestmark = pytest.mark.slow


def test_quickstart_runs_the_whole_job_from_an_empty_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default store, sqlite:///mlflow.db, lands here
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = CliRunner().invoke(app, ["quickstart", "--leads", "6000", "--workdir", "qs"])
    assert result.exit_code == 0, result.output

    out = result.output
    assert all(f"[{stage}/6]" in out for stage in range(1, 7))
    assert "| ROC AUC |" in out and "hand-weighted points" in out and "oracle" in out
    assert "PROMOTED: version 1 is the first champion" in out
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in out
    assert (tmp_path / "qs" / "report" / "report.md").exists()
    assert (tmp_path / "mlflow.db").exists() and (tmp_path / "mlartifacts").is_dir()

    settings = RegistrySettings(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    champion = load_model(settings.model_uri("champion"), settings)
    assert champion.spec.metadata.metrics["test_roc_auc"] > 0.6
