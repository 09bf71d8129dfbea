"""Scoring service speed, in process and over HTTP, beside `mlflow models serve` of the same
artifact. Prints figures; asserts nothing.

    python benchmarks/bench_serving.py            # trains a model with `leadscore quickstart` once

Targets (issue 4, one uvicorn worker, 2 cores, loopback): in process, one lead with 50 events
and reasons in under 1 ms median; over HTTP p50 < 2 ms and p99 < 5 ms at 1 connection, at
least 600 requests/s at 8 connections, a 1,000-lead batch in under 150 ms; and at least 5x the
throughput of `mlflow models serve` (pyfunc, `--env-manager local`) of the same registered
model, sent the same lead records (the pyfunc wraps the same runtime model).

The load comes from a small asyncio HTTP/1.1 client in this process (keep-alive connections,
pre-built requests), so the client costs both servers the same few microseconds per request.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pandas as pd

API_KEY = "bench-api-key-0123456789abcdef"
MODEL_URI = "models:/lead-conversion@champion"


# -- a tiny HTTP/1.1 client ----------------------------------------------------------------


def request_bytes(path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection sending pre-built requests and reading whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def latencies(port: int, raw: bytes, n: int) -> np.ndarray:
    """Seconds per request, one connection, one request at a time."""
    conn = await Connection.open(port)
    out = np.empty(n)
    for i in range(n):
        start = time.perf_counter()
        status, body = await conn.send(raw)
        out[i] = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
    conn.close()
    return out


async def throughput(port: int, raw: bytes, connections: int, n: int) -> float:
    """Requests per second with `connections` connections each sending back to back."""
    conns = [await Connection.open(port) for _ in range(connections)]
    per_conn = n // connections

    async def run(conn: Connection) -> None:
        for _ in range(per_conn):
            status, body = await conn.send(raw)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")

    start = time.perf_counter()
    await asyncio.gather(*(run(c) for c in conns))
    elapsed = time.perf_counter() - start
    for conn in conns:
        conn.close()
    return per_conn * connections / elapsed


async def latencies_beside_batches(port: int, single: bytes, batch: bytes, n: int) -> np.ndarray:
    """Single-lead latencies while another connection sends batches back to back: what a
    webhook waits for while a nightly sync is running."""
    done = asyncio.Event()

    async def batches() -> None:
        conn = await Connection.open(port)
        while not done.is_set():
            status, body = await conn.send(batch)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:300]!r}")
        conn.close()

    running = asyncio.create_task(batches())
    await asyncio.sleep(0.2)
    try:
        return await latencies(port, single, n)
    finally:
        done.set()
        await running


# -- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(command: list[str], env: dict[str, str], ready: Callable[[], bool]):
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {process.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{command} did not become ready")
        time.sleep(0.3)
    return process


def http_get_ok(port: int, path: str) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# -- inputs -------------------------------------------------------------------------------


def prepare_model(workdir: Path, env: dict[str, str]) -> None:
    """A realistic model: `leadscore quickstart` (synthetic data, train, register, promote)."""
    marker = workdir / "synth" / "leads.parquet"
    if marker.exists() and (workdir / "mlflow.db").exists():
        return
    subprocess.run(
        [sys.executable, "-m", "leadscore", "quickstart", "--workdir", str(workdir)],
        env=env,
        check=True,
    )


def lead_body(attributes: dict, n_events: int, rng: np.random.Generator, now: datetime) -> dict:
    from features.contract.schema import EVENT_TYPES

    kinds = rng.choice(np.array(EVENT_TYPES[:-1], dtype=object), n_events)
    days = rng.uniform(0, 120, n_events)
    return {
        "lead_id": "bench-lead",
        "created_at": (now - timedelta(days=150)).isoformat(),
        "attributes": attributes,
        "events": [
            {"event_type": k, "occurred_at": (now - timedelta(days=float(d))).isoformat()}
            for k, d in zip(kinds, days, strict=True)
        ],
    }


def attribute_rows(workdir: Path, n: int) -> list[dict]:
    leads = pd.read_parquet(workdir / "synth" / "leads.parquet").head(n)
    columns = [c for c in leads.columns if c not in ("lead_id", "created_at")]
    rows = []
    for record in leads[columns].to_dict("records"):
        # Plain Python values, as a CRM's JSON would carry them.
        rows.append(
            {
                k: (None if pd.isna(v) else getattr(v, "item", lambda v=v: v)())
                for k, v in record.items()
            }
        )
    return rows


# -- the measurements ---------------------------------------------------------------------


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def in_process(body: dict, repeats: int) -> None:
    from runtime.leads import LeadIn
    from serving.scorer import Scorer
    from serving.settings import ServiceSettings

    scorer = Scorer(ServiceSettings(mode="development", model_uri=MODEL_URI))
    state = scorer.load()
    if state.state != "loaded":
        raise RuntimeError(state.error)
    raw = orjson.dumps(body)
    lead = LeadIn.model_validate_json(raw)
    n_trees = scorer.served.model.booster.num_trees()
    print(
        f"model: {scorer.served.ref.name} v{scorer.served.ref.version}, {n_trees} trees, "
        f"{len(scorer.served.model.feature_names)} features"
    )
    score_ms = median_ms(lambda: scorer.score(lead), repeats)

    def whole() -> bytes:
        return orjson.dumps(scorer.score(LeadIn.model_validate_json(raw)), option=orjson.OPT_UTC_Z)

    whole_ms = median_ms(whole, repeats)
    print(
        f"in process, 1 lead x {len(body['events'])} events with reasons: median "
        f"{score_ms:.3f} ms scoring, {whole_ms:.3f} ms with JSON parse + dump (target < 1 ms)"
    )


def load_figures(port: int, single: bytes, batch: bytes, args) -> dict[str, float]:
    async def run() -> dict[str, float]:
        await latencies(port, single, 200)  # warm up
        lat = await latencies(port, single, args.requests)
        rps = await throughput(port, single, args.connections, args.requests * 2)
        batch_lat = await latencies(port, batch, args.batch_repeats)
        mixed = await latencies_beside_batches(port, single, batch, args.requests // 4)
        return {
            "p50_ms": float(np.percentile(lat, 50) * 1e3),
            "p99_ms": float(np.percentile(lat, 99) * 1e3),
            "rps": rps,
            "batch_ms": float(np.median(batch_lat) * 1e3),
            "mixed_p50_ms": float(np.percentile(mixed, 50) * 1e3),
            "mixed_p99_ms": float(np.percentile(mixed, 99) * 1e3),
        }

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("data/bench_serving"))
    parser.add_argument("--requests", type=int, default=2000, help="per latency run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--batch-leads", type=int, default=1000)
    parser.add_argument("--batch-events", type=int, default=20, help="events per batch lead")
    parser.add_argument("--batch-repeats", type=int, default=20)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    tracking = f"sqlite:///{(args.workdir / 'mlflow.db').resolve()}"
    # mlflow models serve runs `uvicorn` from PATH: the one of this environment.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = os.environ | {"MLFLOW_TRACKING_URI": tracking, "PATH": path}
    os.environ["MLFLOW_TRACKING_URI"] = tracking
    prepare_model(args.workdir, env)

    rng = np.random.default_rng(0)
    now = datetime.now(UTC)
    attributes = attribute_rows(args.workdir, args.batch_leads)
    single = lead_body(attributes[0], 50, rng, now)
    batch = {"leads": [lead_body(a, args.batch_events, rng, now) for a in attributes]}
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work on the "
        f"machine skews every figure); {args.requests} requests per latency run"
    )
    in_process(single, repeats=3000)

    figures: dict[str, dict[str, float]] = {}
    port = free_port()
    server = start_server(
        [sys.executable, "-m", "leadscore", "serve", "--port", str(port), "--model", MODEL_URI],
        env | {"LEADSCORE_MODE": "production", "LEADSCORE_API_KEYS": API_KEY},
        lambda: http_get_ok(port, "/readyz"),
    )
    try:
        auth = {"X-API-Key": API_KEY}
        figures["leadscore"] = load_figures(
            port,
            request_bytes("/v1/score", orjson.dumps(single), auth),
            request_bytes("/v1/score/batch", orjson.dumps(batch), auth),
            args,
        )
    finally:
        stop(server)
    print(f"leadscore over HTTP: {figures['leadscore']}")

    if not args.skip_mlflow:
        figures["mlflow"] = mlflow_figures(single, batch, env, args)

    print()
    print(f"{'':28}{'p50 ms':>9}{'p99 ms':>9}{'req/s @' + str(args.connections):>12}"
          f"{'batch ms':>10}{'p50 / p99 ms beside batches':>30}")  # fmt: skip
    for name, f in figures.items():
        print(f"{name:28}{f['p50_ms']:9.2f}{f['p99_ms']:9.2f}{f['rps']:12.0f}{f['batch_ms']:10.1f}"
              f"{f['mixed_p50_ms']:>22.2f} / {f['mixed_p99_ms']:.2f}")  # fmt: skip
    print(
        f"(batch: {args.batch_leads:,} leads; leadscore gets raw leads with "
        f"{args.batch_events} events each; both answer with reasons)"
    )
    if "mlflow" in figures:
        ours, theirs = figures["leadscore"], figures["mlflow"]
        print(
            f"throughput ratio leadscore / mlflow models serve: {ours['rps'] / theirs['rps']:.1f}x"
            f" (target >= 5x); p50 ratio {theirs['p50_ms'] / ours['p50_ms']:.1f}x; "
            f"batch ratio {theirs['batch_ms'] / ours['batch_ms']:.1f}x"
        )
    print("targets: p50 < 2 ms, p99 < 5 ms, >= 600 req/s at 8 connections, batch < 150 ms")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def mlflow_figures(single: dict, batch: dict, env: dict[str, str], args) -> dict[str, float]:
    """The same load against `mlflow models serve` of the registered model: the same lead
    records, as `dataframe_records`."""

    def records(leads: list[dict]) -> bytes:
        return orjson.dumps({"dataframe_records": leads})

    port = free_port()
    server = start_server(
        [
            str(Path(sys.executable).with_name("mlflow")),
            "models",
            "serve",
            "-m",
            MODEL_URI,
            "--env-manager",
            "local",
            "-p",
            str(port),
            "-w",
            "1",
        ],
        env,
        lambda: http_get_ok(port, "/ping"),
    )
    try:
        return load_figures(
            port,
            request_bytes("/invocations", records([single])),
            request_bytes("/invocations", records(batch["leads"])),
            args,
        )
    finally:
        stop(server)


if __name__ == "__main__":
    main()
