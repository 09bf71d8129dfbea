"""Against a real `mlflow server` process on loopback: log a real training run, register,
promote, refuse a worse model, and load the champion back through the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from features.contract.schema import LABEL
from runtime.source import RegistrySettings, load_model
from tests import training_data
from tests.processes import free_port, wait_until_ok
from training.registry.promotion import promote
from training.registry.tracking import list_versions, log_training
from training.train import train_model

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 180


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """URL and directory of a tracking server with its SQLite store and proxied artifacts."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    log = root / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"),
                *("--port", str(port), "--workers", "1"),
                *("--backend-store-uri", f"sqlite:///{root / 'server.db'}"),
                *("--artifacts-destination", str(root / "artifacts"), "--serve-artifacts"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=root,
            start_new_session=True,  # its own process group: stopping it stops its workers
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{url}/health", process, STARTUP_SECONDS, log.read_text)
        yield url, root
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_log_register_promote_and_load_through_a_tracking_server(server):
    url, root = server
    training_set, config, result = (
        training_data.training_set(),
        training_data.config(),
        training_data.trained(),
    )
    settings = RegistrySettings(tracking_uri=url)
    good = log_training(result, config, training_set.frame, training_set.report, settings)
    assert promote(settings).champion_after == good.version

    # The same rows with labels shuffled: a model that learned nothing. It is measured (and
    # logged) with the real test-slice outcomes, on which it must lose.
    shuffled = training_set.frame.copy()
    shuffled[LABEL] = np.random.default_rng(0).permutation(shuffled[LABEL].to_numpy())
    noise = train_model(shuffled, training_set.pipeline, config.model_copy(update={"force": True}))
    worse = log_training(noise, config, training_set.frame, settings=settings)
    refused = promote(settings)
    assert not refused.promoted and refused.champion_after == good.version
    by_version = {s.version: s.metrics.roc_auc for s in refused.scores}
    assert by_version[good.version] > by_version[worse.version] + 0.1

    versions = {v.version: v for v in list_versions(settings)}
    assert versions[good.version].aliases == ("champion",)
    assert versions[worse.version].aliases == ("challenger",)
    assert versions[good.version].metrics["roc_auc"] == pytest.approx(result.report.test.roc_auc)

    # Loaded through the server (artifacts proxied by it), the champion predicts what was trained.
    champion = load_model(settings.model_uri("champion"), settings)
    rows = training_set.frame.head(300)
    expected = result.model.predict_features(rows).probability
    np.testing.assert_array_equal(champion.predict_features(rows).probability, expected)
    # The server stored the artifacts (client-side there is no artifact location to use): each
    # run's served model and the model its test figures belong to.
    assert settings.default_artifact_location() is None
    boosters = list((root / "artifacts").rglob("booster.txt"))
    assert len(boosters) == 4
    assert sum(path.parent.name == "measured_model" for path in boosters) == 2
