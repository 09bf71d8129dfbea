"""The journey routes through FastAPI's TestClient, on a SQLite store and on a real
PostgreSQL server: ingestion rules, lead records, scoring by id (equal to the stateless
endpoint), history and trend, rescoring on ingest, erasure, auth and limits."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract.schema import EVENT_TYPES
from serving.app import create_app
from serving.journey_schemas import EventsResponse, LeadScoreResponse, StoredLeadResponse
from serving.settings import ServiceSettings
from serving.store.store import JourneyStore, ScoreRecord
from tests.serving_fixtures import AS_OF_TIME, lead_payload, make_model, synthetic_leads

API_KEY = "scoring-key-7Hq2vXn9LpR4"
ADMIN_KEY = "admin-key-3Wm8cKt5ZyB1"
SCORING = {"X-API-Key": API_KEY}
ADMIN = {"X-API-Key": ADMIN_KEY}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(seed=0).save(tmp_path_factory.mktemp("models") / "lead-conversion")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'store.db'}"


def _client(model_dir: Path, shared_store_url: str, **options) -> TestClient:
    settings = ServiceSettings(
        mode="production",
        model_uri=str(model_dir),
        store_url=shared_store_url,
        api_keys=API_KEY,
        admin_keys=ADMIN_KEY,
        **options,
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(model_dir: Path, shared_store_url: str) -> Iterator[TestClient]:
    with _client(model_dir, shared_store_url, max_events_per_lead=50) as c:
        yield c


@pytest.fixture(scope="module")
def payloads() -> list[dict]:
    leads, events = synthetic_leads(20, seed=5)
    return [lead_payload(leads, events, i, AS_OF_TIME) for i in range(len(leads))]


def _new_id() -> str:
    """Lead ids unique per test: the module's store is shared (and PostgreSQL's by all)."""
    return f"lead-{uuid.uuid4().hex[:12]}"


def _store(client: TestClient, payload: dict, lead_id: str) -> None:
    """PUT the lead's record and POST its events, with event ids."""
    record = {"created_at": payload["created_at"], "attributes": payload["attributes"]}
    assert client.put(f"/v1/leads/{lead_id}", json=record, headers=SCORING).status_code == 201
    events = [
        {"lead_id": lead_id, **event, "event_id": f"{lead_id}-{i}"}
        for i, event in enumerate(payload["events"])
    ]
    answer = client.post("/v1/events", json={"events": events}, headers=SCORING).json()
    assert answer["stored"] == len(events), answer


def test_bad_events_are_reported_by_index_and_the_rest_stored_once(client):
    lead = _new_id()
    good = {"lead_id": lead, "event_type": "demo_request", "occurred_at": "2025-05-01T10:00:00Z"}
    events = [
        good | {"event_id": "a"},
        good | {"occurred_at": "last tuesday"},
        good | {"event_id": "a"},  # a repeat within the call
        good | {"event_type": ""},
        good,  # no event_id: always stored
        good | {"lead_id": None},
    ]
    response = client.post("/v1/events", json={"events": events}, headers=SCORING)
    assert response.status_code == 200, response.text
    answer = EventsResponse.model_validate(response.json())
    assert (answer.received, answer.stored, answer.duplicates) == (6, 2, [2])
    assert [(f.index, f.errors[0].loc) for f in answer.failed] == [
        (1, ["occurred_at"]),
        (3, ["event_type"]),
        (5, ["lead_id"]),
    ]
    assert "ISO 8601" in answer.failed[0].errors[0].msg
    # A retry of the whole call stores nothing twice that has an id.
    again = client.post("/v1/events", json={"events": events}, headers=SCORING).json()
    assert (again["stored"], again["duplicates"]) == (1, [0, 2])
    stored = client.get(f"/v1/leads/{lead}", headers=SCORING).json()
    assert stored["events"]["count"] == 3  # "a" once, and the id-less event twice


def test_the_call_itself_wrong_is_refused_whole(client):
    response = client.post("/v1/events", json=[{"lead_id": "x"}], headers=SCORING)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    extra = {"events": [], "batch": 1}
    response = client.post("/v1/events", json=extra, headers=SCORING)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "batch"]


def test_upsert_creates_then_merges_attributes(client):
    lead = _new_id()
    first = {"created_at": "2025-03-01T12:00:00+01:00", "attributes": {"industry": "Retail"}}
    response = client.put(f"/v1/leads/{lead}", json=first, headers=SCORING)
    assert response.status_code == 201, response.text
    second = {"attributes": {"job_title": "CTO", "industry": None}}
    response = client.put(f"/v1/leads/{lead}", json=second, headers=SCORING)
    assert response.status_code == 200
    body = StoredLeadResponse.model_validate(response.json())
    assert body.attributes == {"industry": None, "job_title": "CTO"}
    assert body.created_at == datetime(2025, 3, 1, 11, tzinfo=UTC)  # kept, in UTC
    assert body.events.count == 0 and body.latest is None and body.trend.direction == "new"


def test_score_by_id_equals_the_stateless_answer_and_is_recorded(client, payloads):
    lead = _new_id()
    payload = payloads[3]
    _store(client, payload, lead)
    stateless = client.post("/v1/score", json=payload | {"lead_id": lead}, headers=SCORING).json()
    response = client.post(
        f"/v1/leads/{lead}/score", json={"as_of": payload["as_of"]}, headers=SCORING
    )
    assert response.status_code == 200, response.text
    by_id = LeadScoreResponse.model_validate(response.json()).model_dump(mode="json")
    for field in ("probability", "score", "tier", "fit", "engagement", "grade", "reasons"):
        assert by_id[field] == stateless[field], field
    for field in ("as_of", "warnings"):
        assert by_id[field] == stateless[field], field
    assert by_id["events_read"] == len(payload["events"])
    # A score as of another time is answered, not recorded; one as of now is recorded.
    assert all(h["as_of"] != payload["as_of"] for h in by_id["history"])
    now = client.post(f"/v1/leads/{lead}/score", headers=SCORING).json()
    assert now["history"][0]["trigger"] == "request"
    assert now["history"][0]["probability"] == now["probability"]
    for field in ("fit", "engagement", "grade"):  # the sub-scores are in the history too
        assert now["history"][0][field] == now[field] is not None, field
    assert now["history"][0]["model"]["name"] == "lead-conversion"


def test_stored_features_equal_stateless_ones_for_any_journey(model_dir, tmp_path_factory):
    """The property: whatever the journey (order, repeats, unknown types, times on the same
    microsecond), the stored lead scores exactly as the same lead sent whole."""
    url = f"sqlite:///{tmp_path_factory.mktemp('property') / 'store.db'}"
    kinds = st.sampled_from([*EVENT_TYPES, "trade_show_visit"])
    offsets = st.integers(min_value=0, max_value=200 * 86_400_000_000)
    journeys = st.lists(st.tuples(kinds, offsets), max_size=40)
    as_of = AS_OF_TIME

    with _client(model_dir, url) as client:

        @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(journey=journeys, age_days=st.floats(1, 300), title=st.sampled_from(["CEO", None]))
        def check(journey: list[tuple[str, int]], age_days: float, title: str | None) -> None:
            lead = _new_id()
            events = [
                {
                    "event_type": kind,
                    "occurred_at": (as_of - timedelta(microseconds=offset)).isoformat(),
                }
                for kind, offset in journey
            ]
            payload = {
                "lead_id": lead,
                "created_at": (as_of - timedelta(days=age_days)).isoformat(),
                "attributes": {"job_title": title, "industry": "Software"},
                "events": events,
                "as_of": as_of.isoformat(),
            }
            record = {k: payload[k] for k in ("created_at", "attributes")}
            client.put(f"/v1/leads/{lead}", json=record, headers=SCORING)
            client.post(
                "/v1/events",
                json={"events": [{"lead_id": lead, **e} for e in events]},
                headers=SCORING,
            )
            stateless = client.post("/v1/score", json=payload, headers=SCORING).json()
            by_id = client.post(
                f"/v1/leads/{lead}/score", json={"as_of": payload["as_of"]}, headers=SCORING
            ).json()
            for field in ("probability", "score", "tier", "fit", "engagement", "grade", "reasons"):
                assert by_id[field] == stateless[field], field

        check()


def test_ingest_rescores_touched_leads_in_the_background(client, payloads):
    lead = _new_id()
    _store(client, payloads[4], lead)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        latest = client.get(f"/v1/leads/{lead}", headers=SCORING).json()["latest"]
        if latest is not None:
            break
        time.sleep(0.05)
    assert latest is not None and latest["trigger"] == "ingest"
    assert latest["model"]["name"] == "lead-conversion"


def test_trend_compares_with_the_oldest_score_of_the_window(client, shared_store_url, payloads):
    lead = _new_id()
    _store(client, payloads[5], lead)
    store = JourneyStore.open(shared_store_url)
    now = datetime.now(UTC)
    current = client.post(f"/v1/leads/{lead}/score", headers=SCORING).json()["score"]
    old = [(now - timedelta(days=30), 0), (now - timedelta(days=6), current - 20)]
    store.record_scores(
        [ScoreRecord(lead, t, t, 0.01, score, "nurture", "m", "1", "batch") for t, score in old]
    )
    store.close()
    trend = client.post(f"/v1/leads/{lead}/score", headers=SCORING).json()["trend"]
    assert trend["direction"] == "improving" and trend["change"] == 20
    assert trend["window_days"] == 7


def test_a_journey_longer_than_the_limit_scores_its_newest_events_and_says_so(client):
    lead = _new_id()
    client.put(f"/v1/leads/{lead}", json={"created_at": "2025-01-01T00:00:00Z"}, headers=SCORING)
    events = [
        {
            "lead_id": lead,
            "event_type": "blog_page_view",
            "occurred_at": f"2025-03-01T00:{m:02}:00Z",
        }
        for m in range(53)
    ]
    client.post("/v1/events", json={"events": events}, headers=SCORING)
    answer = client.post(
        f"/v1/leads/{lead}/score", json={"as_of": "2025-04-01T00:00:00Z"}, headers=SCORING
    ).json()
    assert answer["events_read"] == 50
    assert any(w.startswith("3 older stored events not read") for w in answer["warnings"])


def test_unknown_lead_404_missing_created_at_409_with_the_fix(client):
    response = client.get("/v1/leads/nobody-here", headers=SCORING)
    assert response.status_code == 404
    assert "PUT /v1/leads/nobody-here" in response.json()["detail"]
    lead = _new_id()
    event = {"lead_id": lead, "event_type": "demo_request", "occurred_at": "2025-05-01T10:00:00Z"}
    client.post("/v1/events", json={"events": [event]}, headers=SCORING)
    response = client.post(f"/v1/leads/{lead}/score", headers=SCORING)
    assert response.status_code == 409
    assert "has no created_at" in response.json()["detail"]
    # The body may supply it.
    response = client.post(
        f"/v1/leads/{lead}/score", json={"created_at": "2025-04-01T00:00:00Z"}, headers=SCORING
    )
    assert response.status_code == 200, response.text


def test_erasure_needs_the_admin_key_and_removes_everything(client, payloads):
    lead = _new_id()
    _store(client, payloads[6], lead)
    client.post(f"/v1/leads/{lead}/score", headers=SCORING)
    assert client.delete(f"/v1/leads/{lead}", headers=SCORING).status_code == 403
    response = client.delete(f"/v1/leads/{lead}", headers=ADMIN)
    assert response.status_code == 200
    erased = response.json()
    assert erased["leads"] == 1 and erased["events"] == len(payloads[6]["events"])
    assert erased["scores"] >= 1
    assert client.get(f"/v1/leads/{lead}", headers=SCORING).status_code == 404
    again = client.delete(f"/v1/leads/{lead}", headers=ADMIN).json()
    assert (again["leads"], again["events"], again["scores"]) == (0, 0, 0)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/events"),
        ("PUT", "/v1/leads/x"),
        ("GET", "/v1/leads/x"),
        ("POST", "/v1/leads/x/score"),
        ("DELETE", "/v1/leads/x"),
    ],
)
def test_journey_routes_need_a_key(client, method, path):
    response = client.request(method, path, json={})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("missing API key")


def test_without_a_store_journey_routes_say_why_and_scoring_goes_on(model_dir, payloads):
    with _client(model_dir, "none") as client:
        response = client.get("/v1/leads/x", headers=SCORING)
        assert response.status_code == 503
        assert "journey store is off (LEADSCORE_STORE_URL=none)" in response.json()["detail"]
        assert client.post("/v1/score", json=payloads[0], headers=SCORING).status_code == 200


def test_a_store_that_cannot_open_names_the_setting(model_dir, tmp_path):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'store.db'}"
    with _client(model_dir, url) as client:
        response = client.post("/v1/events", json={"events": []}, headers=SCORING)
        assert response.status_code == 503
        assert "check LEADSCORE_STORE_URL" in response.json()["detail"]
