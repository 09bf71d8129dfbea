"""Journey store speed over HTTP: event ingestion, scoring a stored lead by id, and how soon
a lead's stored score follows its new events, on SQLite and on PostgreSQL. Prints figures;
asserts nothing.

    PYTHONPATH=. python benchmarks/bench_store.py                  # SQLite, then PostgreSQL
    PYTHONPATH=. python benchmarks/bench_store.py --skip-postgres

Each store gets a fresh `leadscore serve` (production mode, an API key, one uvicorn worker,
a small model from tests/serving_fixtures.py) on loopback; PostgreSQL is a throwaway cluster
started by tests/postgres.py, switched back to durable commits (fsync, synchronous_commit) so
that it is compared with SQLite's WAL, whose event commits are synced, on equal terms
(`--pg-no-sync` keeps the test cluster's fsync=off).

Targets (the journey store issue, 2 cores, loopback): at least 20,000 events/s ingested into
SQLite from one client sending 1,000-event batches; p99 at most 5 ms scoring a stored lead with
200 events by id (reasons included) at 1 connection on SQLite, PostgreSQL beside it.

The client is httpx (one keep-alive connection, request bodies built before timing), so every
figure includes its few hundred microseconds per call; the `GET /healthz` row shows that floor.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import numpy as np
import orjson

from features.contract.schema import EVENT_TYPES
from tests.processes import running_service
from tests.serving_fixtures import make_model

API_KEY = "bench-store-key-R4tW9mQx2Lp7"
HEADERS = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
ATTRIBUTES = {
    "job_title": "VP Marketing",
    "email": "a@acme.com",
    "industry": "Software",
    "employee_count": 250,
}


# -- helpers ------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def pct(values: list[float] | np.ndarray, q: float) -> float:
    """Percentile `q` of seconds, in ms."""
    return float(np.percentile(np.asarray(values), q) * 1e3)


def check(response: httpx.Response, *ok: int) -> dict[str, Any]:
    if response.status_code not in (ok or (200,)):
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: HTTP "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json()


def events_body(events: list[dict[str, Any]]) -> bytes:
    return orjson.dumps({"events": events})


def random_events(
    rng: np.random.Generator, lead_ids: list[str], n: int, prefix: str, now: datetime
) -> list[dict[str, Any]]:
    """`n` events of random leads, types and times (over the last 90 days), with ids."""
    leads = rng.integers(0, len(lead_ids), n)
    kinds = rng.integers(0, len(EVENT_TYPES), n)
    ages = rng.uniform(0, 90 * 86400, n)
    return [
        {
            "lead_id": lead_ids[leads[j]],
            "event_type": EVENT_TYPES[kinds[j]],
            "occurred_at": iso(now - timedelta(seconds=float(ages[j]))),
            "event_id": f"{prefix}-{j}",
            "properties": {"url": f"https://example.com/p/{kinds[j]}"},
        }
        for j in range(n)
    ]


def put_leads(client: httpx.Client, lead_ids: list[str], now: datetime) -> None:
    """A CRM record for each lead (created_at + attributes), one PUT each."""
    body = orjson.dumps({"created_at": iso(now - timedelta(days=120)), "attributes": ATTRIBUTES})
    for lead_id in lead_ids:
        check(client.put(f"/v1/leads/{lead_id}", content=body), 200, 201)


def rescoring_state(client: httpx.Client) -> tuple[float, float]:
    """(leads waiting to be rescored, leads rescored since start) from /metrics."""
    text = client.get("/metrics").text
    found = {}
    for name in ("leadscore_rescore_pending", "leadscore_rescored_leads"):
        match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
        found[name] = float(match.group(1)) if match else float("nan")
    return found["leadscore_rescore_pending"], found["leadscore_rescored_leads"]


def wait_for_rescoring(client: httpx.Client, timeout: float = 300) -> float:
    """Seconds until the rescoring queue is empty and its count has stopped moving."""
    start = time.perf_counter()
    last = -1.0
    while time.perf_counter() - start < timeout:
        pending, done = rescoring_state(client)
        if pending == 0 and done == last:
            return time.perf_counter() - start
        last = done if pending == 0 else -1.0
        time.sleep(0.05)
    raise RuntimeError(f"rescoring did not catch up within {timeout:.0f} s")


def timed(call: Callable[[], httpx.Response], n: int, ok: int = 200) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        response = call()
        out.append(time.perf_counter() - start)
        if response.status_code != ok:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
    return out


# -- the measurements ---------------------------------------------------------------------


def measure_ingest(client: httpx.Client, args: argparse.Namespace, now: datetime) -> dict:
    """Events/s from one client sending `--batch-events` batches over `--leads` leads."""
    rng = np.random.default_rng(1)
    lead_ids = [f"ingest-{i}" for i in range(args.leads)]
    put_leads(client, lead_ids, now)
    wait_for_rescoring(client)
    total = args.warmup_batches + args.batches
    bodies = [
        events_body(random_events(rng, lead_ids, args.batch_events, f"b{b}", now))
        for b in range(total)
    ]
    for body in bodies[: args.warmup_batches]:
        check(client.post("/v1/events", content=body))
    wait_for_rescoring(client)
    _, rescored_before = rescoring_state(client)
    latencies = []
    retried = 0
    start = time.perf_counter()
    for body in bodies[args.warmup_batches :]:
        while True:
            t0 = time.perf_counter()
            response = client.post("/v1/events", content=body)
            latencies.append(time.perf_counter() - t0)
            if response.status_code != 503:
                break
            retried += 1  # back-pressure: rescoring is behind, nothing was stored
            time.sleep(0.05)
        answer = check(response)
        if answer["stored"] != args.batch_events or answer["failed"]:
            raise RuntimeError(f"a batch was not stored whole: {str(answer)[:300]}")
    elapsed = time.perf_counter() - start
    pending_at_end, rescored_at_end = rescoring_state(client)
    drain = wait_for_rescoring(client)
    _, rescored_after = rescoring_state(client)
    return {
        "events_per_s": args.batches * args.batch_events / elapsed,
        "p50_ms": pct(latencies, 50),
        "p99_ms": pct(latencies, 99),
        "retried_503": retried,
        "rescored_during": rescored_at_end - rescored_before,
        "pending_at_end": pending_at_end,
        "drain_s": drain,
        "rescored_total": rescored_after - rescored_before,
    }


def scored_lead(client: httpx.Client, lead_id: str, n_events: int, now: datetime) -> bytes:
    """PUT `lead_id` with a record and send it `n_events` events; the same lead as one
    /v1/score body (for the stateless reference)."""
    rng = np.random.default_rng(2)
    created = now - timedelta(days=120)
    check(
        client.put(
            f"/v1/leads/{lead_id}",
            content=orjson.dumps({"created_at": iso(created), "attributes": ATTRIBUTES}),
        ),
        200,
        201,
    )
    events = random_events(rng, [lead_id], n_events, f"{lead_id}-e", now)
    answer = check(client.post("/v1/events", content=events_body(events)))
    if answer["stored"] != n_events:
        raise RuntimeError(f"the scored lead's events were not all stored: {answer}")
    return orjson.dumps(
        {
            "lead_id": lead_id,
            "created_at": iso(created),
            "attributes": ATTRIBUTES,
            "events": [
                {"event_type": e["event_type"], "occurred_at": e["occurred_at"]} for e in events
            ],
        }
    )


def measure_score_by_id(client: httpx.Client, args: argparse.Namespace, now: datetime) -> dict:
    lead_id = "score-by-id"
    stateless = scored_lead(client, lead_id, args.lead_events, now)
    wait_for_rescoring(client)
    path = f"/v1/leads/{lead_id}/score"
    first = check(client.post(path))
    if first["events_read"] != args.lead_events or not first.get("reasons"):
        raise RuntimeError(f"unexpected answer scoring by id: {str(first)[:400]}")
    timed(lambda: client.post(path), args.warmup_requests)
    by_id = timed(lambda: client.post(path), args.score_requests)
    timed(lambda: client.post("/v1/score", content=stateless), args.warmup_requests)
    whole = timed(lambda: client.post("/v1/score", content=stateless), args.score_requests)
    timed(lambda: client.get("/healthz"), args.warmup_requests)
    floor = timed(lambda: client.get("/healthz"), args.score_requests)
    timed(lambda: client.get(f"/v1/leads/{lead_id}"), args.warmup_requests)
    get = timed(lambda: client.get(f"/v1/leads/{lead_id}"), args.score_requests)
    return {
        name: {q: pct(values, q) for q in (50, 90, 99)}
        for name, values in (
            ("by_id", by_id),
            ("stateless", whole),
            ("get", get),
            ("floor", floor),
        )
    }


def measure_lag(client: httpx.Client, args: argparse.Namespace, now: datetime) -> dict:
    """Seconds from an ingest call's answer until GET /v1/leads/{id} shows a newer score."""
    lead_ids = [f"lag-{i}" for i in range(args.lag_trials)]
    put_leads(client, lead_ids, now)
    wait_for_rescoring(client)
    lags = []
    polls = []
    for i, lead_id in enumerate(lead_ids):
        before = check(client.get(f"/v1/leads/{lead_id}"))["latest"]
        event = {
            "lead_id": lead_id,
            "event_type": "demo_request",
            "occurred_at": iso(datetime.now(UTC) - timedelta(seconds=1)),
            "event_id": f"lag-{i}",
        }
        answer = check(client.post("/v1/events", content=events_body([event])))
        sent = time.perf_counter()
        if answer["leads_to_rescore"] != 1:
            raise RuntimeError(f"the lead was not queued for rescoring: {answer}")
        n = 0
        while True:
            n += 1
            latest = check(client.get(f"/v1/leads/{lead_id}"))["latest"]
            if latest is not None and latest != before:
                break
            if time.perf_counter() - sent > 30:
                raise RuntimeError(f"{lead_id} was not rescored within 30 s")
            time.sleep(args.poll_ms / 1e3)
        lags.append(time.perf_counter() - sent)
        polls.append(n)
        time.sleep(0.02)
    return {
        "p50_ms": pct(lags, 50),
        "p90_ms": pct(lags, 90),
        "max_ms": max(lags) * 1e3,
        "polls": statistics.median(polls),
    }


# -- stores -------------------------------------------------------------------------------


@contextmanager
def postgres_store(durable: bool):
    """A throwaway PostgreSQL cluster on loopback; a function that creates an empty database
    on it by name and answers its SQLAlchemy URL."""
    import psycopg
    import sqlalchemy as sa

    from tests.postgres import start_postgres

    # As root the server runs as `postgres`, which needs a directory it can reach: /tmp.
    with (
        tempfile.TemporaryDirectory(prefix="bench-store-pg-", dir="/tmp") as directory,
        start_postgres(Path(directory)) as server,
    ):
        if durable:
            url = sa.engine.make_url(server.url)
            with psycopg.connect(
                host=url.host,
                port=url.port,
                user=url.username,
                dbname=url.database,
                autocommit=True,
            ) as connection:
                for name in ("fsync", "synchronous_commit", "full_page_writes"):
                    connection.execute(f"ALTER SYSTEM SET {name} = on")
                connection.execute("SELECT pg_reload_conf()")
                time.sleep(0.5)
                shown = {
                    name: connection.execute(f"SHOW {name}").fetchone()[0]
                    for name in ("fsync", "synchronous_commit", "full_page_writes")
                }
            print(f"  PostgreSQL settings: {shown}")
        url = sa.engine.make_url(server.url)

        def fresh_database(tag: str) -> str:
            with psycopg.connect(
                host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
            ) as connection:
                connection.execute(f'CREATE DATABASE "{tag}"')
            return url.set(database=tag).render_as_string(hide_password=False)

        yield fresh_database


def run_store(
    name: str, fresh_url: Callable[[str], str], model: Path, workdir: Path, args, now
) -> dict:
    """The figures of one store; `fresh_url(tag)` gives an empty store for each service."""
    env = {"LEADSCORE_MODE": "production", "LEADSCORE_API_KEYS": API_KEY}
    workdir.mkdir(parents=True, exist_ok=True)
    url = fresh_url("bench")
    print(f"{name}: starting the service on {url} ...", flush=True)
    with (
        running_service(
            env | {"LEADSCORE_MODEL_URI": str(model), "LEADSCORE_STORE_URL": url}, workdir
        ) as service,
        httpx.Client(base_url=service.url, headers=HEADERS, timeout=60) as client,
    ):
        figures = {"ingest": measure_ingest(client, args, now)}
        print(f"  ingest: {figures['ingest']}", flush=True)
        figures["score"] = measure_score_by_id(client, args, now)
        print(f"  score: {figures['score']}", flush=True)
        figures["lag"] = measure_lag(client, args, now)
        print(f"  lag: {figures['lag']}", flush=True)
    if not args.skip_unscored:
        # The same ingest into a service with no model: nothing is rescored, so this is what
        # storing events costs alone (the service starts, answering 503 on /readyz).
        url = fresh_url("unscored")
        print(f"{name}: the same ingest without a model, on {url} ...", flush=True)
        missing = workdir / "no-model"
        with (
            running_service(
                env | {"LEADSCORE_MODEL_URI": str(missing), "LEADSCORE_STORE_URL": url},
                workdir,
                ready="/healthz",
            ) as service,
            httpx.Client(base_url=service.url, headers=HEADERS, timeout=60) as client,
        ):
            figures["unscored"] = measure_ingest(client, args, now)
            print(f"  ingest without rescoring: {figures['unscored']}", flush=True)
    return figures


def print_table(name: str, f: dict, args) -> None:
    ingest, score, lag = f["ingest"], f["score"], f["lag"]
    print(f"\n== {name} ==")
    print(f"{'':46}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}   other")
    print(
        f"{f'ingest, {args.batch_events:,}-event batches':46}{ingest['p50_ms']:9.1f}{'':9}"
        f"{ingest['p99_ms']:9.1f}   {ingest['events_per_s']:,.0f} events/s"
        f" (target >= 20,000 on SQLite)"
    )
    print(
        f"{'  rescoring meanwhile':46}{'':27}   {ingest['rescored_during']:,.0f} leads rescored "
        f"during the run, {ingest['pending_at_end']:,.0f} waiting at its end, drained "
        f"{ingest['drain_s']:.1f} s later; {ingest['retried_503']} calls refused (503)"
    )
    if "unscored" in f:
        plain = f["unscored"]
        print(
            f"{'  the same, no model loaded (nothing rescored)':46}{plain['p50_ms']:9.1f}{'':9}"
            f"{plain['p99_ms']:9.1f}   {plain['events_per_s']:,.0f} events/s"
        )
    rows = (
        (f"POST /v1/leads/{{id}}/score, {args.lead_events} events", "by_id", "target p99 <= 5"),
        ("POST /v1/score, the same lead sent whole", "stateless", "reference"),
        ("GET /v1/leads/{id}", "get", ""),
        ("GET /healthz (client + HTTP floor)", "floor", ""),
    )
    for label, key, note in rows:
        s = score[key]
        print(f"{label:46}{s[50]:9.2f}{s[90]:9.2f}{s[99]:9.2f}   {note}")
    print(
        f"{'rescoring lag: events answered -> new score':46}{lag['p50_ms']:9.1f}"
        f"{lag['p90_ms']:9.1f}{'':9}   max {lag['max_ms']:.0f} ms over {args.lag_trials} "
        f"trials (GET polled every ~{args.poll_ms:g} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=100, help="timed ingest calls")
    parser.add_argument("--warmup-batches", type=int, default=10)
    parser.add_argument("--batch-events", type=int, default=1000, help="events per call")
    parser.add_argument("--leads", type=int, default=2000, help="leads the events spread over")
    parser.add_argument("--lead-events", type=int, default=200, help="events of the scored lead")
    parser.add_argument("--score-requests", type=int, default=2000)
    parser.add_argument("--warmup-requests", type=int, default=200)
    parser.add_argument("--lag-trials", type=int, default=50)
    parser.add_argument("--poll-ms", type=float, default=1.0, help="GET interval, lag trials")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument(
        "--skip-unscored",
        action="store_true",
        help="skip the reference ingest into a service without a model (no rescoring)",
    )
    parser.add_argument(
        "--pg-no-sync",
        action="store_true",
        help="keep the test cluster's fsync=off, synchronous_commit=off",
    )
    args = parser.parse_args()

    print("$ " + shlex.join([Path(sys.executable).name, *sys.argv]))
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work on the "
        "machine skews every figure); one uvicorn worker, loopback, httpx client, 1 connection"
    )
    now = datetime.now(UTC).replace(microsecond=0)
    tables: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp, ExitStack() as stack:
        model = make_model(seed=0).save(Path(tmp) / "model")
        tables["SQLite (WAL, event commits synced)"] = run_store(
            "sqlite",
            lambda tag: f"sqlite:///{Path(tmp) / f'store-{tag}.db'}",
            model,
            Path(tmp) / "sqlite",
            args,
            now,
        )
        if not args.skip_postgres:
            durable = not args.pg_no_sync
            print("postgresql: starting a cluster ...", flush=True)
            fresh_database = stack.enter_context(postgres_store(durable))
            label = "durable commits" if durable else "fsync=off, synchronous_commit=off"
            tables[f"PostgreSQL ({label})"] = run_store(
                "postgresql", fresh_database, model, Path(tmp) / "postgresql", args, now
            )
    for name, figures in tables.items():
        print_table(name, figures, args)
    print(
        f"\n(ingest: {args.batches} timed calls after {args.warmup_batches} warm-up ones, events "
        f"spread over {args.leads:,} leads that have records, so each call queues ~"
        f"{min(args.leads, args.batch_events):,}+ leads to rescore; score: {args.score_requests:,}"
        " sequential requests, reasons included)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
