"""An acknowledged event survives the service being killed mid-ingest (SIGKILL: no shutdown,
no flush), on SQLite and on PostgreSQL.

A real `leadscore serve` takes batches of events with unique ids from one client as fast as it
answers, while it also rescores the touched leads; it is killed after a second or two, started
again on the same store, and every event id it acknowledged (2xx, all stored) must be there.
An event of the call in flight at the kill may or may not be there (it was never
acknowledged), but nothing that was never sent; sending that call again after the restart
stores exactly what is missing.

On PostgreSQL only the service is killed, not the database server (the test cluster runs with
fsync off): what is tested is that the service answers 2xx only after its commit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from features.contract.schema import EVENT_TYPES
from serving.store.engine import create_engine
from tests.processes import running_service
from tests.serving_fixtures import make_model

pytestmark = pytest.mark.slow

API_KEY = "durability-key-Vb7nQ2xK9wLm"
HEADERS = {"X-API-Key": API_KEY}
LEADS = [f"dur-{i}" for i in range(50)]
BATCH = 200
# Kill once this much ingesting was acknowledged, and at least this long after the first ack.
MIN_ACKED_CALLS = 5
MIN_INGEST_SECONDS = 1.5
DEADLINE_SECONDS = 60


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(seed=0).save(tmp_path_factory.mktemp("durability-model") / "model")


@dataclass
class Ingest:
    """What the client thread sent: acknowledged event ids, and the call in flight at the end."""

    acked: set[str] = field(default_factory=set)
    acked_calls: int = 0
    refused_503: int = 0
    in_flight: list[dict] | None = None
    first_ack: float | None = None
    error: BaseException | None = None


def events(call: int, now: datetime) -> list[dict]:
    return [
        {
            "lead_id": LEADS[(call * BATCH + j) % len(LEADS)],
            "event_type": EVENT_TYPES[(call + j) % len(EVENT_TYPES)],
            "occurred_at": (now - timedelta(minutes=call * BATCH + j)).isoformat(),
            "event_id": f"c{call}-e{j}",
        }
        for j in range(BATCH)
    ]


def ingest_until_cut(url: str, state: Ingest, stop: threading.Event) -> None:
    """Send batches back to back; a 503 (rescoring behind: nothing stored) is sent again. Ends
    when the connection breaks (the kill), leaving the unanswered call in `in_flight`."""
    now = datetime.now(UTC)
    call = 0
    try:
        with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
            while not stop.is_set():
                batch = events(call, now)
                try:
                    response = client.post("/v1/events", json={"events": batch})
                except httpx.TransportError:
                    state.in_flight = batch
                    return
                if response.status_code == 503:
                    state.refused_503 += 1
                    time.sleep(0.05)
                    continue  # the same call again
                assert response.status_code == 200, response.text
                answer = response.json()
                assert answer["stored"] == BATCH, answer
                assert not answer["duplicates"] and not answer["failed"], answer
                state.acked.update(e["event_id"] for e in batch)
                state.acked_calls += 1
                if state.first_ack is None:
                    state.first_ack = time.monotonic()
                call += 1
    except BaseException as exc:  # reported by the test, not lost in the thread
        state.error = exc


def stored_event_ids(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    sa.text("SELECT event_id FROM events WHERE lead_id LIKE 'dur-%'")
                ).scalars()
            )
    finally:
        engine.dispose()


def test_acknowledged_events_survive_sigkill_mid_ingest(
    store_url: str, model_dir: Path, tmp_path: Path
) -> None:
    env = {
        "LEADSCORE_MODE": "production",
        "LEADSCORE_API_KEYS": API_KEY,
        "LEADSCORE_MODEL_URI": str(model_dir),
        "LEADSCORE_STORE_URL": store_url,
    }
    state = Ingest()
    stop = threading.Event()
    with running_service(env, tmp_path) as service:
        record = {"created_at": "2025-01-01T00:00:00Z", "attributes": {"job_title": "CEO"}}
        for lead_id in LEADS:  # records, so that rescoring scores and writes meanwhile
            assert httpx.put(
                f"{service.url}/v1/leads/{lead_id}", json=record, headers=HEADERS, timeout=30
            ).status_code in (200, 201)
        client = threading.Thread(target=ingest_until_cut, args=(service.url, state, stop))
        client.start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not (
            state.first_ack is not None
            and state.acked_calls >= MIN_ACKED_CALLS
            and time.monotonic() - state.first_ack >= MIN_INGEST_SECONDS
        ):
            if not client.is_alive():
                raise AssertionError(f"the client stopped before the kill: {state.error!r}")
            assert time.monotonic() < deadline, f"too little was acknowledged: {state}"
            time.sleep(0.01)
        service.process.kill()  # SIGKILL: no shutdown of any kind
        # running_service's terminate() then does nothing: the process is reaped here.
        assert service.process.wait(timeout=30) == -9
        stop.set()
        client.join(timeout=60)
        assert not client.is_alive()
    assert state.error is None, state.error

    with running_service(env, tmp_path) as service:
        present = stored_event_ids(store_url)
        in_flight = {e["event_id"] for e in state.in_flight or []}
        missing = state.acked - set(present)
        unknown = set(present) - state.acked - in_flight
        present_in_flight = len(in_flight & set(present))
        backend = sa.engine.make_url(store_url).get_backend_name()
        print(
            f"\n{backend}: acknowledged {len(state.acked):,} events in "
            f"{state.acked_calls} calls ({state.refused_503} refused with 503 and sent again), "
            f"present after the restart {len(state.acked) - len(missing):,}, missing "
            f"{len(missing)}; in flight at the kill {len(in_flight)}, of which present "
            f"{present_in_flight}"
        )
        assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:5]}"
        assert not unknown, f"events never sent are stored: {sorted(unknown)[:5]}"
        assert len(present) == len(set(present)), "an event is stored twice"

        # The restarted service sees the same journeys, and a retry of the cut call stores
        # exactly what is missing of it (the rest are reported as duplicates).
        with httpx.Client(base_url=service.url, headers=HEADERS, timeout=30) as client:
            if state.in_flight:
                answer = client.post("/v1/events", json={"events": state.in_flight}).json()
                assert answer["stored"] == len(in_flight) - present_in_flight, answer
                assert len(answer["duplicates"]) == present_in_flight, answer
            counts = {
                lead_id: client.get(f"/v1/leads/{lead_id}").json()["events"]["count"]
                for lead_id in LEADS
            }
        assert sum(counts.values()) == len(state.acked | in_flight)
        assert sorted(stored_event_ids(store_url)) == sorted(state.acked | in_flight)
    if store_url.startswith("sqlite"):
        engine = create_engine(store_url)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        engine.dispose()
