"""Test-wide setup."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _mlflow_store_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Point MLflow at a store in the session's tmp directory, so that no test (e.g. one
    running `leadscore train`, which logs by default) writes to the repository's mlflow.db."""
    store = tmp_path_factory.getbasetemp() / "mlflow-default"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
