"""Tier-change webhooks end to end: a real `leadscore serve` sends to a real receiver process
(tests/webhook_receiver.py) on loopback, with settings that make retrying fast.

A receiver failing the first attempts gets the same delivery (same Leadscore-Delivery id, same
body) again until it answers 2xx, and the log says how many attempts it took (SQLite and
PostgreSQL); one that never answers gets it parked after the last attempt, and `leadscore
webhooks redeliver` (the real CLI, against the store) has it sent again once a receiver
answers; deliveries pending when the service is killed (SIGKILL) are all sent by the service
started again on the same store; and a receiver checking the signature exactly as the README
shows accepts every delivery, and refuses a tampered body, another secret or an old timestamp.

Tier changes come from ingesting events: a lead's first score (rescoring on ingest) is a change
from `none`, so subscriptions here take `* -> *`.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import itertools
import re
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import httpx
import pytest
import sqlalchemy as sa

from serving.store.engine import create_engine
from serving.webhook_schemas import TierChangeEvent
from tests.processes import Service, free_port, running_service
from tests.serving_fixtures import make_model
from tests.webhook_receiver import Received, running_receiver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "webhooks-api-Qm7vT2xR9pLw"
ADMIN_KEY = "webhooks-admin-Zt4kW8nB3qHs"
# Fast retrying: 0.2 s after the first failure, doubling; a receiver has 1 s to answer.
FAST = {
    "LEADSCORE_WEBHOOK_BACKOFF_SECONDS": "0.2",
    "LEADSCORE_WEBHOOK_MAX_BACKOFF_SECONDS": "2",
    "LEADSCORE_WEBHOOK_MAX_ATTEMPTS": "3",
    "LEADSCORE_WEBHOOK_TIMEOUT_SECONDS": "1",
}
T = TypeVar("T")


# -- the receiver's check, as the README tells receivers to write it -------------------------


def verify(secret: str, header: str, body: bytes, tolerance: float = 300) -> bool:
    """`header` is Leadscore-Signature: t=<unix seconds>,v1=<hex digest>; `body` the raw bytes."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = fields["t"].encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) <= tolerance  # an old replay fails here
    return fresh and hmac.compare_digest(expected, fields["v1"])


# -- fixtures and helpers --------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(seed=0).save(tmp_path_factory.mktemp("webhooks-model") / "model")


def service_env(model_dir: Path, store_url: str, **settings: str) -> dict[str, str]:
    return (
        {
            "LEADSCORE_MODE": "production",
            "LEADSCORE_API_KEYS": API_KEY,
            "LEADSCORE_ADMIN_KEYS": ADMIN_KEY,
            "LEADSCORE_MODEL_URI": str(model_dir),
            "LEADSCORE_STORE_URL": store_url,
            "LEADSCORE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        }
        | FAST
        | settings
    )


def admin_client(service: Service) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30)


def subscribe(
    client: httpx.Client, url: str, transitions: tuple[str, ...] = ("* -> *",), **more: Any
) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url, "transitions": transitions} | more)
    assert response.status_code == 201, response.text
    return response.json()


def first_scores(client: httpx.Client, lead_ids: list[str], calls: int = 1) -> None:
    """Store the leads, then send each one event (in `calls` ingest calls): rescoring gives
    each its first score, a tier change from none."""
    now = datetime.now(UTC)
    record = {
        "created_at": (now - timedelta(days=30)).isoformat(),
        "attributes": {"job_title": "VP Marketing", "email": "a@acme.com", "industry": "Software"},
    }
    for lead_id in lead_ids:
        response = client.put(f"/v1/leads/{lead_id}", json=record)
        assert response.status_code == 201, response.text
    events = [
        {
            "lead_id": lead_id,
            "event_type": "pricing_page_view",
            "occurred_at": (now - timedelta(hours=1)).isoformat(),
            "event_id": f"{lead_id}-e1",
        }
        for lead_id in lead_ids
    ]
    size = -(-len(events) // calls)
    for start in range(0, len(events), size):
        response = client.post("/v1/events", json={"events": events[start : start + size]})
        assert response.status_code == 200, response.text
        assert response.json()["stored"] == len(events[start : start + size]), response.text


def deliveries(client: httpx.Client, webhook_id: str, status: str | None = None) -> list[dict]:
    params = {"limit": 1000} | ({"status": status} if status else {})
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]


def wait_for(found: Callable[[], T | None], timeout: float, what: str) -> T:
    """`found()`'s first truthy value, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g}s (last: {value!r})")
        time.sleep(0.1)


def leadscore(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The real CLI, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "leadscore", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def store_deliveries(url: str) -> list[sa.Row]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sa.text("SELECT * FROM webhook_deliveries")))
    finally:
        engine.dispose()


def one_delivery_id(received: list[Received]) -> str:
    ids = {r.delivery_id for r in received}
    assert len(ids) == 1, ids
    return ids.pop()


# -- the tests -------------------------------------------------------------------------------


def test_a_failing_receiver_gets_the_same_delivery_again_until_it_answers_2xx(
    store_url: str, model_dir: Path, tmp_path: Path
) -> None:
    env = service_env(model_dir, store_url)
    with (
        running_receiver(free_port(), tmp_path / "received.jsonl", "fail-first:2") as receiver,
        running_service(env, tmp_path) as service,
        admin_client(service) as client,
    ):
        subscription = subscribe(client, receiver.url)
        hook = subscription["webhook_id"]
        first_scores(client, ["a-1"])
        [delivery] = wait_for(
            lambda: [d for d in deliveries(client, hook) if d["status"] != "pending"],
            20,
            "the delivery delivered or parked",
        )
        tier = client.get("/v1/leads/a-1").json()["latest"]["tier"]
    got = receiver.received()

    assert delivery["status"] == "delivered", delivery
    assert delivery["attempts"] == 3
    assert (delivery["last_status_code"], delivery["last_error"]) == (200, None)
    assert [r.answer for r in got] == [500, 500, 200]
    assert one_delivery_id(got) == delivery["delivery_id"]
    assert len({r.body for r in got}) == 1, "every attempt sends the same bytes"
    assert all(verify(subscription["secret"], r.signature, r.body.encode()) for r in got)
    event = TierChangeEvent.model_validate_json(got[0].body)
    assert (event.delivery_id, event.webhook_id, event.lead_id) == (
        delivery["delivery_id"],
        hook,
        "a-1",
    )
    assert (event.previous_tier, event.tier, event.trigger) == (None, tier, "ingest")
    assert delivery["payload"] == got[0].payload
    # Backed off between attempts: 0.2 s, then 0.4 s, each with jitter of +-50 %.
    gaps = [later.received_at - earlier.received_at for earlier, later in itertools.pairwise(got)]
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2, gaps


def test_a_parked_delivery_is_sent_again_by_leadscore_webhooks_redeliver(
    model_dir: Path, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    port = free_port()
    with (
        running_service(service_env(model_dir, store), tmp_path) as service,
        admin_client(service) as client,
    ):
        with running_receiver(port, tmp_path / "hanging.jsonl", "hang") as hanging:
            hook = subscribe(client, hanging.url)["webhook_id"]
            first_scores(client, ["b-1"])
            [parked] = wait_for(
                lambda: deliveries(client, hook, "parked"), 25, "the delivery parked"
            )
            hung = hanging.received()
        assert parked["attempts"] == 3, parked
        assert parked["last_status_code"] is None
        assert parked["last_error"] == "no answer within 1 s"
        assert [r.answer for r in hung] == [None, None, None]
        assert one_delivery_id(hung) == parked["delivery_id"]

        listed = leadscore("webhooks", "list", "--store", store, cwd=tmp_path)
        assert listed.returncode == 0, listed.stderr
        assert re.search(rf"^{hook} .*pending 0, delivered 0, parked 1$", listed.stdout, re.M)
        unknown = leadscore(
            "webhooks", "redeliver", "--store", store, "--webhook", "wh_nope", cwd=tmp_path
        )
        assert unknown.returncode == 2
        assert unknown.stderr.startswith("error: ") and "wh_nope" in unknown.stderr
        assert unknown.stderr.count("\n") == 1, unknown.stderr
        assert deliveries(client, hook, "parked") == [parked], "nothing was queued"

        # An answering receiver takes the port over; the CLI queues the delivery in the
        # store, and the service finds it at its next poll.
        with running_receiver(port, tmp_path / "answering.jsonl", "ok") as answering:
            asked = time.time()
            queued = leadscore(
                "webhooks", "redeliver", "--store", store, "--webhook", hook, cwd=tmp_path
            )
            assert queued.returncode == 0, queued.stderr
            assert queued.stdout == f"queued 1 parked delivery of webhook {hook} in {store}\n"
            [delivered] = wait_for(
                lambda: deliveries(client, hook, "delivered"), 10, "the delivery delivered"
            )
            got = answering.received()
        assert delivered["delivery_id"] == parked["delivery_id"]
        assert delivered["attempts"] == 1, "redelivery starts from a first attempt"
        assert [r.answer for r in got] == [200]
        assert one_delivery_id(got) == parked["delivery_id"]
        assert got[0].body == hung[0].body
        assert got[0].received_at - asked < 5, "running services poll the store every 1 s"

        again = leadscore("webhooks", "redeliver", "--store", store, cwd=tmp_path)
        assert again.stdout == f"queued 0 parked deliveries of every webhook in {store}\n"
        listed = leadscore("webhooks", "list", "--store", store, cwd=tmp_path)
        assert re.search(rf"^{hook} .*pending 0, delivered 1, parked 0$", listed.stdout, re.M)


def test_deliveries_pending_when_the_service_is_killed_are_sent_after_it_starts_again(
    model_dir: Path, tmp_path: Path
) -> None:
    """Nobody listens at first, so every attempt is refused and the deliveries wait for their
    next attempt (1.5 to 4.5 s later); the service is killed between two rounds of attempts,
    when no delivery is claimed (a claim held at the kill is only freed when its lease runs
    out, 31 s with these settings). Started again on the store, with a receiver listening,
    it sends every one of them."""
    store = f"sqlite:///{tmp_path / 'store.db'}"
    port, log = free_port(), tmp_path / "received.jsonl"
    slow_retries = {
        "LEADSCORE_WEBHOOK_BACKOFF_SECONDS": "3",
        "LEADSCORE_WEBHOOK_MAX_BACKOFF_SECONDS": "3",
        "LEADSCORE_WEBHOOK_MAX_ATTEMPTS": "20",
    }
    env = service_env(model_dir, store, **slow_retries)
    leads = [f"c-{i}" for i in range(40)]

    def between_rounds() -> list[sa.Row] | None:
        rows = store_deliveries(store)
        now_us = time.time() * 1e6
        quiet = (
            len(rows) == len(leads)
            and all(r.attempts >= 1 and r.status == "pending" for r in rows)
            and all(r.claimed_until_us is None for r in rows)
            and min(r.next_attempt_at_us for r in rows) > now_us + 0.5e6
        )
        return rows if quiet else None

    with running_service(env, tmp_path) as service:
        with admin_client(service) as client:
            hook = subscribe(client, f"http://127.0.0.1:{port}/hook")["webhook_id"]
            first_scores(client, leads, calls=4)
        before = wait_for(between_rounds, 25, "every delivery refused once, none claimed")
        service.process.kill()  # SIGKILL: no shutdown of any kind
        assert service.process.wait(timeout=30) == -9
    assert all("could not reach" in r.last_error for r in before)
    recorded = {r.delivery_id for r in before}

    with (
        running_receiver(port, log, "ok") as receiver,
        running_service(env, tmp_path) as service,
        admin_client(service) as client,
    ):
        done = wait_for(
            lambda: len(deliveries(client, hook, "delivered")) == len(recorded),
            25,
            "every recorded delivery delivered after the restart",
        )
        assert done
        after = deliveries(client, hook)
        got = receiver.received()
    assert {d["delivery_id"] for d in after} == recorded, "no delivery lost or made up"
    assert all(d["status"] == "delivered" for d in after)
    assert {r.delivery_id for r in got} == recorded
    assert {r.payload["lead_id"] for r in got} == set(leads)
    assert all(r.answer == 200 for r in got)
    print(
        f"\n{len(recorded)} deliveries pending at the kill; after the restart "
        f"{len(got)} requests received, {len({r.delivery_id for r in got})} distinct"
    )


def test_a_receiver_checking_signatures_as_the_readme_shows_accepts_only_ours(
    model_dir: Path, tmp_path: Path
) -> None:
    readme = (ROOT / "README.md").read_text()
    assert inspect.getsource(verify) in readme, "the test checks as the README tells receivers"
    store = f"sqlite:///{tmp_path / 'store.db'}"
    leads = ["d-1", "d-2", "d-3"]
    with (
        running_receiver(free_port(), tmp_path / "received.jsonl", "ok") as receiver,
        running_service(service_env(model_dir, store), tmp_path) as service,
        admin_client(service) as client,
    ):
        made = subscribe(client, receiver.url)  # the service makes the secret
        given = subscribe(client, receiver.url, secret="whsec-given-7Kq2Lm9Xv4Rt")
        secrets = {made["webhook_id"]: made["secret"], given["webhook_id"]: given["secret"]}
        assert made["secret"] != given["secret"]
        first_scores(client, leads)
        got = wait_for(
            lambda: (lambda r: r if len(r) == 2 * len(leads) else None)(receiver.received()),
            20,
            "each lead's tier change at both subscriptions",
        )

    assert {(r.payload["webhook_id"], r.payload["lead_id"]) for r in got} == {
        (hook, lead) for hook in secrets for lead in leads
    }
    for r in got:
        body = r.body.encode()
        secret = secrets[r.payload["webhook_id"]]
        [other] = set(secrets.values()) - {secret}
        assert verify(secret, r.signature, body), r
        assert not verify(other, r.signature, body), "another subscription's secret"
        assert not verify(secret, r.signature, body.replace(b'"tier":"', b'"tier":"x', 1))
        assert not verify(secret, r.signature, body + b"\n")
        sent = int(re.fullmatch(r"t=(\d+),v1=[0-9a-f]{64}", r.signature).group(1))
        assert abs(r.received_at - sent) < 5
        with mock.patch("time.time", return_value=sent + 299):
            assert verify(secret, r.signature, body), "within 5 minutes"
        with mock.patch("time.time", return_value=sent + 301):
            assert not verify(secret, r.signature, body), "a replay after 5 minutes"
        with mock.patch("time.time", return_value=sent - 301):
            assert not verify(secret, r.signature, body), "a timestamp from the future"
        # An old delivery replayed with a fresh timestamp: the digest covers the timestamp.
        refreshed = r.signature.replace(f"t={sent},", f"t={sent + 1},")
        with mock.patch("time.time", return_value=sent + 1):
            assert not verify(secret, refreshed, body)


def test_a_receiver_that_never_answers_does_not_hold_back_another_ones_deliveries(
    model_dir: Path, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    env = service_env(model_dir, store, LEADSCORE_WEBHOOK_TIMEOUT_SECONDS="5")
    leads = [f"e-{i}" for i in range(8)]
    sent: dict[str, float] = {}
    with (
        running_receiver(free_port(), tmp_path / "answering.jsonl", "ok") as answering,
        running_receiver(free_port(), tmp_path / "hanging.jsonl", "hang") as hanging,
        running_service(env, tmp_path) as service,
        admin_client(service) as client,
    ):
        subscribe(client, hanging.url)
        subscribe(client, answering.url)
        for lead_id in leads:
            sent[lead_id] = time.time()
            first_scores(client, [lead_id])
            time.sleep(0.3)
        got = wait_for(
            lambda: (lambda r: r if len(r) == len(leads) else None)(answering.received()),
            20,
            "every change at the answering receiver",
        )
    late = {r.payload["lead_id"]: round(r.received_at - sent[r.payload["lead_id"]], 2) for r in got}
    assert max(late.values()) < 2, f"seconds from ingest to the answering receiver: {late}"
