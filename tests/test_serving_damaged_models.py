"""A damaged model never takes scoring down: real `leadscore serve` processes on loopback and
real `leadscore score` runs, with a registry version whose files are damaged in every way of
`tests.artifact_damage` (truncated at several offsets, bytes flipped, a file missing, one
feature short).

- Reloading onto it under load: the process lives, not one scoring request fails, the old
  version keeps answering, and /readyz, the reload answer and /metrics name the bad version.
- Starting on it: the service starts, answers 503 with the reason, and recovers on reload.
- `leadscore score` with it: one line naming the file, a non-zero exit, no output written.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from leadscore import app
from runtime.source import RegistrySettings, tracking
from tests.artifact_damage import BLAMED, DAMAGES, damage
from tests.processes import running_service
from tests.serving_fixtures import AS_OF_TIME, lead_payload, make_model, register, synthetic_leads

NAME = "lead-conversion-damage"
API_KEY = "damage-scoring-key-7Hq2vXn9"
ADMIN_KEY = "damage-admin-key-Zq8vN3xP0a"
# A few damages for the (slower) start-up test: one of each kind of failure.
STARTUP_DAMAGES = ("booster-cut-40%", "booster-cut-60%+resealed", "model-deleted")


class Registry:
    """A registry with a good version and a version whose files the tests damage and mend."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.settings = RegistrySettings(
            tracking_uri=f"sqlite:///{root / 'mlflow.db'}", model_name=NAME
        )
        self.good = register(make_model(seed=0), self.settings, 0).version
        before = set(self._boosters())
        self.bad = register(make_model(seed=1), self.settings, 1).version
        # The version's scoring artifact in the store, where the service downloads it from.
        (booster,) = set(self._boosters()) - before
        self.artifact = booster.parent
        self.pristine = shutil.copytree(self.artifact, root / "pristine")

    def _boosters(self) -> list[Path]:
        return list(self.root.glob("mlartifacts/**/booster.txt"))

    def point_champion(self, version: int) -> None:
        with tracking(self.settings) as client:
            client.set_registered_model_alias(NAME, "champion", version)

    def damage(self, name: str) -> None:
        """The bad version's files: pristine, then damaged by `name`."""
        self.mend()
        damage(self.artifact, name)

    def mend(self) -> None:
        shutil.rmtree(self.artifact)
        shutil.copytree(self.pristine, self.artifact)

    def env(self) -> dict[str, str]:
        return {
            "MLFLOW_TRACKING_URI": self.settings.tracking_uri,
            "LEADSCORE_MODEL_URI": f"models:/{NAME}@champion",
            "LEADSCORE_MODE": "production",
            "LEADSCORE_API_KEYS": API_KEY,
            "LEADSCORE_ADMIN_KEYS": ADMIN_KEY,
        }


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    return Registry(tmp_path_factory.mktemp("registry"))


@pytest.fixture(scope="module")
def payloads() -> list[dict]:
    leads, events = synthetic_leads(10, seed=21)
    return [lead_payload(leads, events, i, AS_OF_TIME) for i in range(len(leads))]


def _admin(url: str, method: str, path: str) -> httpx.Response:
    return httpx.request(method, f"{url}{path}", headers={"X-API-Key": ADMIN_KEY}, timeout=60)


class Stream:
    """Scoring requests sent back to back from a thread while the test does something else."""

    def __init__(self, url: str, payloads: list[dict]) -> None:
        self.url, self.payloads = url, payloads
        self.answers: list[tuple[int, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        headers = {"X-API-Key": API_KEY}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            i = 0
            while not self._stop.is_set():
                try:
                    response = client.post("/v1/score", json=self.payloads[i % len(self.payloads)])
                    version = response.json().get("model", {}).get("version")
                    self.answers.append((response.status_code, version))
                except httpx.HTTPError as exc:  # a dead server shows here as a failed request
                    self.answers.append((0, repr(exc)))
                i += 1

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.mark.slow
def test_reloading_onto_a_damaged_version_under_load_keeps_the_old_one_serving(
    registry: Registry, payloads: list[dict]
):
    registry.mend()
    registry.point_champion(registry.good)
    good, bad = str(registry.good), str(registry.bad)
    with (
        running_service(registry.env(), registry.root) as service,
        Stream(service.url, payloads) as stream,
    ):
        url, process = service.url, service.process
        for name in DAMAGES:
            registry.damage(name)
            registry.point_champion(registry.bad)
            reload = _admin(url, "POST", "/v1/admin/reload?wait=true")
            assert process.poll() is None, f"{name}: the server died"
            assert reload.status_code == 503, (name, reload.text)
            state = reload.json()["reload"]
            assert (state["state"], state["version"]) == ("failed", bad), name
            assert f"version {bad} of {NAME}" in state["error"], name
            assert BLAMED[name] in state["error"], (name, state["error"])
            assert reload.json()["model"]["version"] == good, name

            ready = httpx.get(f"{url}/readyz", timeout=10)
            assert ready.status_code == 200, name
            assert ready.json()["status"] == "degraded", name
            assert f"version {bad}" in ready.json()["reason"], name
            assert ready.json()["model"]["version"] == good, name
            info = _admin(url, "GET", "/v1/model").json()
            assert info["last_reload"]["version"] == bad, name
            metrics = httpx.get(f"{url}/metrics", timeout=10).text
            assert f'leadscore_model_last_load_failed{{version="{bad}"}} 1.0' in metrics, name

        # Mended, the same version loads, and the service is ready again.
        registry.mend()
        reload = _admin(url, "POST", "/v1/admin/reload?wait=true")
        assert reload.status_code == 200, reload.text
        assert httpx.get(f"{url}/readyz", timeout=10).json()["status"] == "ready"
        assert process.poll() is None

    statuses = {status for status, _ in stream.answers}
    assert statuses == {200}, [a for a in stream.answers if a[0] != 200][:5]
    versions = [version for _, version in stream.answers]
    assert versions[0] == good and versions[-1] == bad
    assert len(stream.answers) > 100  # the load was real


@pytest.mark.slow
@pytest.mark.parametrize("name", STARTUP_DAMAGES)
def test_starting_on_a_damaged_champion_answers_503_with_the_reason(
    registry: Registry, payloads: list[dict], name: str
):
    registry.damage(name)
    registry.point_champion(registry.bad)
    # /healthz, not /readyz: the process must come up although no model can load.
    with running_service(registry.env(), registry.root, ready="/healthz") as service:
        url, process = service.url, service.process
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready"
        assert f"version {registry.bad} of {NAME}" in ready.json()["reason"]
        assert BLAMED[name] in ready.json()["reason"]
        scored = httpx.post(
            f"{url}/v1/score", json=payloads[0], headers={"X-API-Key": API_KEY}, timeout=10
        )
        assert scored.status_code == 503
        assert BLAMED[name] in scored.json()["detail"]

        registry.mend()
        assert _admin(url, "POST", "/v1/admin/reload?wait=true").status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=10).json()["status"] == "ready"
        assert process.poll() is None
    assert f"loading version {registry.bad} of {NAME}" in service.log.read_text()


@pytest.fixture(scope="module")
def scoring_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A saved model to copy and damage, and leads and events to score with it."""
    folder = tmp_path_factory.mktemp("inputs")
    leads, events = synthetic_leads(20, seed=3)
    leads.to_csv(folder / "leads.csv", index=False)
    events.to_csv(folder / "events.csv", index=False)
    return make_model(seed=2).save(folder / "model"), folder / "leads.csv", folder / "events.csv"


# In process: the structure check, not a child process, is what keeps LightGBM from seeing a
# damaged booster (tests/test_artifact_integrity.py sweeps truncations in a child process).
@pytest.mark.parametrize("name", DAMAGES)
def test_score_refuses_a_damaged_model_with_one_line(
    tmp_path: Path, scoring_inputs: tuple[Path, Path, Path], name: str
):
    pristine, leads, events = scoring_inputs
    model = shutil.copytree(pristine, tmp_path / "model")
    damage(model, name)
    out = tmp_path / "scores.csv"
    args = ["score", "--model", str(model), "--leads", str(leads), "--events", str(events)]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert BLAMED[name] in lines[0] and str(model) in lines[0], lines[0]
    assert not out.exists()


@pytest.mark.slow
def test_promote_refuses_a_damaged_version_even_with_force(registry: Registry):
    registry.damage("booster-cut-40%")
    registry.point_champion(registry.good)
    args = ["models", "promote", "--name", NAME, "--version", str(registry.bad), "--force"]
    result = CliRunner().invoke(
        app, args, env={"MLFLOW_TRACKING_URI": registry.settings.tracking_uri}
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"booster.txt in models:/{NAME}/{registry.bad}" in lines[0]
    with tracking(registry.settings) as client:
        assert client.get_registered_model(NAME).aliases["champion"] == registry.good
