"""Webhook subscriptions through the API (TestClient), and the pieces behind them: which tier
changes match, which targets are allowed, how deliveries are signed, what the outbox writes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import ServiceSettings
from serving.store.store import JourneyStore, ScoreRecord
from serving.store.webhooks import Subscription, WebhookStore
from serving.webhook_schemas import TierChangeEvent, WebhookCreated
from serving.webhooks.outbox import Outbox
from serving.webhooks.signing import signature, verify
from serving.webhooks.targets import check_target
from serving.webhooks.transitions import matches, parse_transition
from tests.serving_fixtures import make_model

API_KEY = "scoring-key-7Hq2vXn9LpR4"
ADMIN_KEY = "admin-key-3Wm8cKt5ZyB1"
ADMIN = {"X-API-Key": ADMIN_KEY}
# Nothing listens on port 9 (discard) of loopback: deliveries fail fast and stay pending.
TARGET = "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("webhooks")
    settings = ServiceSettings(
        mode="production",
        model_uri=str(make_model(seed=0).save(tmp / "model")),
        store_url=f"sqlite:///{tmp / 'store.db'}",
        api_keys=API_KEY,
        admin_keys=ADMIN_KEY,
        webhook_allowed_hosts="127.0.0.1,.example.com",
        webhook_backoff_seconds=60,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def test_a_subscription_answers_its_secret_once(client):
    response = client.post(
        "/v1/webhooks",
        json={"url": TARGET, "transitions": ["* -> SQL", "nurture->mql"], "description": "s"},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    created = WebhookCreated.model_validate(response.json())
    assert created.transitions == ["* -> sql", "nurture -> mql"]  # written one way
    assert created.secret.startswith("whsec-") and len(created.secret) > 40
    listed = client.get("/v1/webhooks", headers=ADMIN).json()["webhooks"]
    mine = next(w for w in listed if w["webhook_id"] == created.webhook_id)
    assert "secret" not in mine and mine["url"] == TARGET
    removed = client.delete(f"/v1/webhooks/{created.webhook_id}", headers=ADMIN)
    assert removed.status_code == 200
    again = client.delete(f"/v1/webhooks/{created.webhook_id}", headers=ADMIN)
    assert again.status_code == 404 and "GET /v1/webhooks lists them" in again.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"url": "ftp://127.0.0.1/x", "transitions": ["* -> sql"]}, "http:// or https://"),
        ({"url": "http://10.0.0.5/x", "transitions": ["* -> sql"]}, "not an allowed webhook"),
        ({"url": "http://u:p@127.0.0.1/x", "transitions": ["* -> sql"]}, "credentials"),
        ({"url": TARGET, "transitions": ["sql"]}, "is not a transition"),
        ({"url": TARGET, "transitions": ["mql -> mql"]}, "is no change"),
        ({"url": TARGET, "transitions": ["sql -> none"]}, "none can only be"),
        ({"url": TARGET, "transitions": []}, "at least 1 item"),
        ({"url": TARGET, "transitions": ["* -> sql"], "secret": "short"}, "at least 16"),
    ],
)
def test_bad_subscriptions_are_refused_with_the_fix(client, body, message):
    response = client.post("/v1/webhooks", json=body, headers=ADMIN)
    assert response.status_code == 422
    [error] = response.json()["detail"]  # located, as every 422 is
    assert error["loc"][:2] in (["body", "url"], ["body", "transitions"], ["body", "secret"])
    assert message in error["msg"]


def test_subdomains_of_an_allowed_domain_are_allowed(client):
    url = "https://hooks.crm.example.com/in"
    response = client.post(
        "/v1/webhooks", json={"url": url, "transitions": ["* -> sql"]}, headers=ADMIN
    )
    assert response.status_code == 201
    client.delete(f"/v1/webhooks/{response.json()['webhook_id']}", headers=ADMIN)


def test_webhook_routes_need_the_admin_key(client):
    scoring = {"X-API-Key": API_KEY}
    for method, path in [("GET", "/v1/webhooks"), ("POST", "/v1/webhooks")]:
        assert client.request(method, path, json={}, headers=scoring).status_code == 403
        assert client.request(method, path, json={}).status_code == 401


def test_a_tier_change_is_written_to_the_outbox_with_its_payload(client):
    created = client.post(
        "/v1/webhooks", json={"url": TARGET, "transitions": ["none -> *"]}, headers=ADMIN
    ).json()
    lead = f"lead-{time.time_ns()}"
    record = {"created_at": "2025-01-01T00:00:00Z", "attributes": {"job_title": "CEO"}}
    client.put(f"/v1/leads/{lead}", json=record, headers=ADMIN)
    scored = client.post(f"/v1/leads/{lead}/score", headers=ADMIN).json()
    client.post(f"/v1/leads/{lead}/score", headers=ADMIN)  # same tier again: no delivery
    log = client.get(f"/v1/webhooks/{created['webhook_id']}/deliveries", headers=ADMIN).json()
    [delivery] = [d for d in log["deliveries"] if d["lead_id"] == lead]
    event = TierChangeEvent.model_validate(delivery["payload"])
    assert (event.previous_tier, event.tier) == (None, scored["tier"])
    assert event.delivery_id == delivery["delivery_id"] and event.trigger == "request"
    assert event.probability == scored["probability"]
    assert (event.fit, event.grade) == (scored["fit"], scored["grade"])
    assert delivery["status"] in ("pending", "parked")  # nothing listens on port 9
    # Erasing the lead removes its deliveries too.
    assert client.delete(f"/v1/leads/{lead}", headers=ADMIN).json()["deliveries"] == 1
    client.delete(f"/v1/webhooks/{created['webhook_id']}", headers=ADMIN)


def test_transitions_match_changes_only():
    assert parse_transition(" Nurture->SQL ") == ("nurture", "sql")
    assert matches(("* -> sql",), "mql", "sql") and matches(("* -> sql",), None, "sql")
    assert not matches(("* -> sql",), "sql", "sql")  # no change, no delivery
    assert matches(("none -> *",), None, "nurture") and not matches(("none -> *",), "mql", "sql")
    assert matches(("nurture -> mql",), "nurture", "mql")
    assert not matches(("nurture -> mql",), "sql", "mql")


def test_signatures_verify_and_refuse_tampering_and_replays():
    body = b'{"lead_id": "a"}'
    header = signature("s" * 20, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify("s" * 20, header, body, now=1_700_000_100)
    assert not verify("s" * 20, header, body + b" ", now=1_700_000_100)  # tampered
    assert not verify("x" * 20, header, body, now=1_700_000_100)  # another secret
    assert not verify("s" * 20, header, body, now=1_700_000_000 + 301)  # too old: a replay
    assert not verify("s" * 20, "garbage", body, now=1_700_000_000)


def test_targets_are_checked():
    assert check_target("https://a.example.com/x", []) is None  # no list: any host
    assert check_target("https://example.com/x", [".example.com"]) is None
    assert "not an allowed" in check_target("https://evil.com/x?h=example.com", [".example.com"])
    assert "invalid port" in check_target("http://a.example.com:99999999/", [])
    assert "names no host" in check_target("http:///x", [])
    assert "is not a URL: Invalid IPv6 URL" in check_target("http://[::1/x", [])  # fuzz found


def test_the_outbox_writes_deliveries_with_the_score_in_one_transaction(tmp_path: Path):
    store = JourneyStore.open(f"sqlite:///{tmp_path / 'store.db'}")
    webhooks = WebhookStore(store.engine)
    now = datetime.now(UTC)
    webhooks.subscribe(Subscription("wh_1", TARGET, ("* -> sql",), "s" * 20, None, now))
    outbox = Outbox(webhooks)
    answers = [
        {
            "lead_id": lead,
            "tier": tier,
            "probability": 0.5,
            "score": 90,
            "reasons": [],
            "model": {"name": "m", "version": "1", "alias": None},
            "as_of": now,
            "scored_at": now,
        }
        for lead, tier in (("a", "sql"), ("b", "mql"))
    ]
    records = [
        ScoreRecord(a["lead_id"], now, now, 0.5, 90, a["tier"], "m", "1", "ingest") for a in answers
    ]
    before = store.record_scores(records, outbox.for_answers(answers, "ingest", now))
    assert before == [None, None]
    [delivery] = webhooks.claim_due(
        now, lease=__import__("datetime").timedelta(seconds=30), limit=10
    )
    assert delivery.lead_id == "a" and orjson.loads(delivery.payload)["tier"] == "sql"
    # A second claim finds it held; the same tier again adds nothing.
    assert webhooks.claim_due(now, timedelta(seconds=30), 10) == []
    assert store.record_scores(records[:1], outbox.for_answers(answers[:1], "ingest", now)) == [
        "sql"
    ]
    assert len(webhooks.deliveries("wh_1", None, 10)) == 1
    store.close()
