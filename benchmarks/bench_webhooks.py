"""Webhook latency: how soon after the ingest call that caused it a tier change reaches a
receiver on loopback. Prints figures; asserts nothing.

    PYTHONPATH=. python benchmarks/bench_webhooks.py                 # 1,000 changes, twice
    PYTHONPATH=. python benchmarks/bench_webhooks.py --rates 0 --changes 2000

Target (the webhooks issue, 2 cores, loopback): a tier change is delivered within 1 s of the
ingest call that caused it, p99 over 1,000 tier changes.

A real `leadscore serve` (production mode, one uvicorn worker, SQLite store in a temporary
directory, default webhook settings, a small model from tests/serving_fixtures.py) and a
receiver process (tests/webhook_receiver.py, answering 200, logging the unix time each
request arrived) run on loopback; one subscription takes `* -> *`. Every lead is stored
(PUT, which scores nothing) before timing; then each gets one `POST /v1/events` call with one
event, whose rescoring gives the lead its first score: a change from none, one delivery. The
latency of a change is its arrival at the receiver minus the moment its ingest call was sent
(both wall clock, one machine), matched by the payload's lead id; it splits into rescoring
(the payload's scored_at minus sent) and delivery (arrival minus scored_at).

Each `--rates` entry is a phase of `--changes` new leads: 0 sends the ingest calls back to back
from one client (a burst: rescoring batches them), a number paces them at that many calls/s.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np
import orjson

from tests.processes import free_port, running_service
from tests.serving_fixtures import make_model
from tests.webhook_receiver import Received, running_receiver

API_KEY = "bench-webhooks-key-T8qN3vLx5Rk2"
ADMIN_KEY = "bench-webhooks-admin-M6wP9zQc4Hj7"
HEADERS = {"X-API-Key": ADMIN_KEY, "Content-Type": "application/json"}
ATTRIBUTES = {
    "job_title": "VP Marketing",
    "email": "a@acme.com",
    "industry": "Software",
    "employee_count": 250,
}
TARGET_SECONDS = 1.0


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def check(response: httpx.Response, *ok: int) -> dict[str, Any]:
    if response.status_code not in (ok or (200,)):
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: HTTP "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def unix(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_phase(
    client: httpx.Client, receiver_log: Any, name: str, n: int, rate: float
) -> dict[str, Any]:
    """`n` first scores by ingest calls (back to back, or `rate` calls/s); the latencies."""
    now = datetime.now(UTC)
    lead_ids = [f"{name}-{i}" for i in range(n)]
    record = orjson.dumps({"created_at": iso(now - timedelta(days=30)), "attributes": ATTRIBUTES})
    for lead_id in lead_ids:
        check(client.put(f"/v1/leads/{lead_id}", content=record), 201)
    bodies = [
        orjson.dumps(
            {
                "events": [
                    {
                        "lead_id": lead_id,
                        "event_type": "pricing_page_view",
                        "occurred_at": iso(now - timedelta(minutes=5)),
                        "event_id": f"{lead_id}-e",
                    }
                ]
            }
        )
        for lead_id in lead_ids
    ]
    already = len(receiver_log())
    sent: dict[str, float] = {}
    call_seconds = []
    refused = 0
    start = time.perf_counter()
    for i, (lead_id, body) in enumerate(zip(lead_ids, bodies, strict=True)):
        if rate > 0:
            pause = start + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        while True:
            sent[lead_id] = time.time()
            t0 = time.perf_counter()
            response = client.post("/v1/events", content=body)
            call_seconds.append(time.perf_counter() - t0)
            if response.status_code != 503:
                break
            refused += 1  # rescoring is behind: nothing stored, send it again
            time.sleep(0.05)
        if check(response)["leads_to_rescore"] != 1:
            raise RuntimeError(f"{lead_id} was not queued for rescoring: {response.text}")
    sending = time.perf_counter() - start

    deadline = time.monotonic() + 120
    while True:
        got: list[Received] = receiver_log()[already:]
        mine = [r for r in got if r.payload["lead_id"] in sent]
        if len({r.payload["lead_id"] for r in mine}) >= n or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    first: dict[str, Received] = {}
    for r in mine:
        first.setdefault(r.payload["lead_id"], r)
    total = np.array([r.received_at - sent[lead] for lead, r in first.items()])
    rescoring = np.array([unix(r.payload["scored_at"]) - sent[lead] for lead, r in first.items()])
    delivery = np.array([r.received_at - unix(r.payload["scored_at"]) for r in first.values()])
    return {
        "name": name,
        "rate": rate,
        "changes": n,
        "delivered": len(first),
        "requests": len(mine),
        "distinct_ids": len({r.delivery_id for r in mine}),
        "not_2xx": sum(1 for r in mine if r.answer != 200),
        "sending_s": sending,
        "calls_per_s": n / sending,
        "call_p50_ms": float(np.percentile(call_seconds, 50) * 1e3),
        "call_p99_ms": float(np.percentile(call_seconds, 99) * 1e3),
        "refused_503": refused,
        "total": total,
        "rescoring": rescoring,
        "delivery": delivery,
    }


def print_phase(f: dict[str, Any]) -> None:
    how = "back to back" if f["rate"] <= 0 else f"paced at {f['rate']:g} calls/s"
    print(
        f"\n== {f['changes']:,} tier changes, ingest calls {how}: sent in {f['sending_s']:.1f} s "
        f"({f['calls_per_s']:,.0f} calls/s; call p50 {f['call_p50_ms']:.1f} ms, p99 "
        f"{f['call_p99_ms']:.1f} ms; {f['refused_503']} refused with 503) =="
    )
    print(
        f"delivered {f['delivered']:,} of {f['changes']:,} ({f['requests']:,} requests, "
        f"{f['distinct_ids']:,} delivery ids, {f['not_2xx']} not answered 200)"
    )
    print(f"{'':34}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, key in (
        ("ingest call sent -> received", "total"),
        ("  sent -> scored (rescoring)", "rescoring"),
        ("  scored -> received (delivery)", "delivery"),
    ):
        values = f[key] * 1e3
        if not len(values):
            print(f"{label:34}{'-':>9}")
            continue
        q = np.percentile(values, [50, 90, 99])
        print(f"{label:34}{q[0]:9.0f}{q[1]:9.0f}{q[2]:9.0f}{values.max():9.0f}")
    if len(f["total"]):
        within = float(np.mean(f["total"] <= TARGET_SECONDS) * 100)
        p99 = float(np.percentile(f["total"], 99))
        verdict = "meets" if p99 <= TARGET_SECONDS and f["delivered"] == f["changes"] else "MISSES"
        print(
            f"within {TARGET_SECONDS:g} s: {within:.1f} %; p99 {p99 * 1e3:.0f} ms {verdict} the "
            f"target (p99 <= {TARGET_SECONDS * 1e3:.0f} ms, every change delivered)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=1000, help="Tier changes per phase.")
    parser.add_argument(
        "--rates",
        default="0,50",
        help="Comma-separated phases: ingest calls/s, 0 for back to back.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the work directory.")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]

    work = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    print(f"work directory: {work}", flush=True)
    model = make_model(seed=0).save(work / "model")
    env = {
        "LEADSCORE_MODE": "production",
        "LEADSCORE_API_KEYS": API_KEY,
        "LEADSCORE_ADMIN_KEYS": ADMIN_KEY,
        "LEADSCORE_MODEL_URI": str(model),
        "LEADSCORE_STORE_URL": f"sqlite:///{work / 'store.db'}",
    }
    with (
        running_receiver(free_port(), work / "received.jsonl", "ok") as receiver,
        running_service(env, work) as service,
        httpx.Client(base_url=service.url, headers=HEADERS, timeout=60) as client,
    ):
        hook = check(
            client.post("/v1/webhooks", json={"url": receiver.url, "transitions": ["* -> *"]}),
            201,
        )
        print(f"service {service.url}, receiver {receiver.url}, webhook {hook['webhook_id']}")
        # Warm up: a few changes through the whole path, not counted.
        run_phase(client, receiver.received, "warmup", 20, 0)
        results = [
            run_phase(client, receiver.received, f"phase{i}", args.changes, rate)
            for i, rate in enumerate(rates)
        ]
        metrics = client.get("/metrics").text
        log = service.log.read_text()
    for figures in results:
        print_phase(figures)
    outcomes = re.findall(r"^leadscore_webhook\w*_total\{[^}]*\} \S+$", metrics, re.MULTILINE)
    print(f"\nservice metrics: {'; '.join(outcomes) or '(no webhook metrics found)'}")
    failed_claims = log.count("reading webhook deliveries failed")
    failed_records = len(re.findall(r"recording delivery \S+ failed", log))
    print(
        f"service log: 'reading webhook deliveries failed' x{failed_claims}, "
        f"'recording delivery failed' x{failed_records}"
    )
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
