"""End to end, real processes on loopback: `leadscore serve` (uvicorn) follows the registry's
@champion while the alias moves twice mid-stream (admin reload, then SIGHUP) and not one request
fails; `mlflow models serve` of a registered version answers lead records as the service does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from runtime.source import RegistrySettings, tracking
from serving.app import create_app
from serving.settings import ServiceSettings
from tests.processes import free_port, wait_until_ok
from tests.serving_fixtures import (
    AS_OF_TIME,
    lead_payload,
    make_model,
    register,
    synthetic_leads,
)

API_KEY = "e2e-scoring-key-0123456789"
ADMIN_KEY = "e2e-admin-key-0123456789ab"
NAME = "lead-conversion-e2e"


def _register(settings: RegistrySettings, seed: int) -> int:
    logged = register(make_model(seed=seed), settings, seed)
    _point_champion(settings, logged.version)
    return logged.version


def _point_champion(settings: RegistrySettings, version: int) -> None:
    with tracking(settings) as client:
        client.set_registered_model_alias(NAME, "champion", version)


def _version(url: str) -> str:
    info = httpx.get(f"{url}/v1/model", headers={"X-API-Key": API_KEY}, timeout=5).json()
    return info["model"]["version"]


@pytest.mark.slow
def test_real_server_scores_and_reloads_without_a_failed_request(tmp_path: Path):
    settings = RegistrySettings(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", model_name=NAME)
    first = _register(settings, seed=0)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "LEADSCORE_MODEL_URI": f"models:/{NAME}@champion",
        "LEADSCORE_MODE": "production",
        "LEADSCORE_API_KEYS": API_KEY,
        "LEADSCORE_ADMIN_KEYS": ADMIN_KEY,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "leadscore", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    leads, events = synthetic_leads(10, seed=21)
    payloads = [lead_payload(leads, events, i, AS_OF_TIME) for i in range(len(leads))]
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=10) as client:
            i = 0
            while not stop.is_set():
                response = client.post("/v1/score", json=payloads[i % len(payloads)])
                body = response.json()
                answers.append((response.status_code, body.get("model", {}).get("version")))
                i += 1

    try:
        wait_until_ok(f"{url}/readyz", process, 120, lambda: process.stdout.read())
        assert _version(url) == str(first)
        streamer = threading.Thread(target=stream)
        streamer.start()
        time.sleep(0.5)

        second = _register(settings, seed=1)
        reload = httpx.post(
            f"{url}/v1/admin/reload?wait=true", headers={"X-API-Key": ADMIN_KEY}, timeout=60
        )
        assert reload.status_code == 200, reload.text
        assert reload.json()["model"]["version"] == str(second)
        time.sleep(0.5)

        # Roll back by moving the alias, and tell the server with SIGHUP.
        _point_champion(settings, first)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while _version(url) != str(first):
            assert time.monotonic() < deadline, "SIGHUP did not reload the model"
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        stop.set()
        if "streamer" in locals():
            streamer.join(timeout=30)
        process.terminate()
        output = process.communicate(timeout=30)[0]

    statuses = {status for status, _ in answers}
    assert statuses == {200}, output[-3000:]
    versions = [version for _, version in answers]
    assert {str(first), str(second)} <= set(versions)
    # The stream saw first -> second -> first, each swap once.
    changes = [v for i, v in enumerate(versions) if i == 0 or v != versions[i - 1]]
    assert changes == [str(first), str(second), str(first)]


@pytest.mark.slow
def test_mlflow_models_serve_answers_leads_as_the_service_does(tmp_path: Path):
    settings = RegistrySettings(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", model_name=NAME)
    version = _register(settings, seed=4)
    leads, events = synthetic_leads(20, seed=22)
    payloads = [lead_payload(leads, events, i, AS_OF_TIME) for i in range(len(leads))]
    service = ServiceSettings(mode="development", model_uri=f"models:/{NAME}/{version}")
    with (
        _environment("MLFLOW_TRACKING_URI", settings.tracking_uri),
        TestClient(create_app(service)) as client,
    ):
        served = client.post("/v1/score/batch", json={"leads": payloads}).json()["results"]

    port = free_port()
    process = subprocess.Popen(
        [
            *(str(Path(sys.executable).with_name("mlflow")), "models", "serve"),
            *("-m", f"models:/{NAME}/{version}", "--env-manager", "local"),
            *("-h", "127.0.0.1", "-p", str(port), "-w", "1"),
        ],
        # It runs `uvicorn` from PATH: the one of this environment.
        env=os.environ
        | {
            "MLFLOW_TRACKING_URI": settings.tracking_uri,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: stopping it stops its workers
    )
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/ping", process, 180, process.stdout.read)
        response = httpx.post(
            f"http://127.0.0.1:{port}/invocations",
            json={"dataframe_records": payloads},
            timeout=60,
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=30)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["lead_id"] for p in predictions] == [s["lead_id"] for s in served]
    assert [p["tier"] for p in predictions] == [s["tier"] for s in served]
    assert [p["probability"] for p in predictions] == [s["probability"] for s in served]
    assert [p["score"] for p in predictions] == [s["score"] for s in served]


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before
