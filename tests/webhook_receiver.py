"""A webhook receiver as its own process, for the delivery tests and the benchmark.

    python -m tests.webhook_receiver --port 8123 --log received.jsonl --mode fail-first:2

Every POST is appended to the log as one JSON line (when it was received, its path, headers
and body) before it is answered; what the answer is depends on `--mode`:

    ok             200
    fail-first:N   500 to the first N attempts of each delivery id (Leadscore-Delivery), then 200
    hang           no answer at all (the request sleeps for an hour)
    status:CODE    CODE, always (e.g. 410, or 302 with a Location)
    slow:SECONDS   200 after SECONDS

A GET answers 200 at once and is not logged: it tells that the receiver listens.
`running_receiver` starts one and waits for that; `read_log` reads what it received.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANG_SECONDS = 3600


# -- the receiver process ---------------------------------------------------------------------


class Answers:
    """What to answer each request, per mode; thread-safe."""

    def __init__(self, mode: str) -> None:
        self.kind, _, argument = mode.partition(":")
        if self.kind not in ("ok", "fail-first", "hang", "status", "slow"):
            raise SystemExit(
                f"unknown --mode {mode!r}: ok, fail-first:N, hang, status:CODE, slow:S"
            )
        self.argument = float(argument) if argument else 0.0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def status(self, delivery_id: str) -> int | None:
        """The HTTP status to answer, or None for no answer."""
        if self.kind == "hang":
            return None
        if self.kind == "status":
            return int(self.argument)
        if self.kind == "fail-first":
            with self._lock:
                self._seen[delivery_id] += 1
                attempt = self._seen[delivery_id]
            return 500 if attempt <= self.argument else 200
        return 200


def serve(port: int, log: Path, mode: str, host: str = "127.0.0.1") -> None:
    answers = Answers(mode)
    lock = threading.Lock()
    out = log.open("a", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real receivers do

        def do_GET(self) -> None:
            self._answer(200)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received_at = time.time()
            status = answers.status(self.headers.get("Leadscore-Delivery", ""))
            line = {
                "received_at": received_at,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body.decode("utf-8", errors="surrogateescape"),
                "answer": status,
            }
            with lock:
                out.write(json.dumps(line) + "\n")
                out.flush()
            if status is None:
                time.sleep(HANG_SECONDS)
                return
            if answers.kind == "slow":
                time.sleep(answers.argument)
            self._answer(status)

        def _answer(self, status: int) -> None:
            text = b"ok\n" if status < 300 else b"no\n"
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the log is the record
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True  # a hanging request does not keep the process alive
    print(f"receiving on http://{host}:{port} ({mode}), logging to {log}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    serve(args.port, args.log, args.mode, args.host)


# -- for the tests --------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One request as the receiver logged it."""

    received_at: float  # unix seconds
    path: str
    headers: dict[str, str]  # names lower-cased
    body: str
    answer: int | None  # None: it was never answered (hang)

    @property
    def delivery_id(self) -> str:
        return self.headers.get("leadscore-delivery", "")

    @property
    def signature(self) -> str:
        return self.headers.get("leadscore-signature", "")

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


def read_log(log: Path) -> list[Received]:
    """What was received, in order (a line being written is left for the next read)."""
    if not log.exists():
        return []
    found = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            continue
        found.append(
            Received(
                received_at=raw["received_at"],
                path=raw["path"],
                headers={k.lower(): v for k, v in raw["headers"].items()},
                body=raw["body"],
                answer=raw["answer"],
            )
        )
    return found


@dataclass(frozen=True)
class Receiver:
    """A running receiver process: where it listens and what it received."""

    port: int
    log: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        """The URL to subscribe."""
        return f"http://127.0.0.1:{self.port}/hook"

    def received(self) -> list[Received]:
        return read_log(self.log)


@contextmanager
def running_receiver(
    port: int, log: Path, mode: str = "ok", timeout: float = 20
) -> Iterator[Receiver]:
    """A receiver process on `port` logging to `log` (appended to), once it listens; stopped
    (SIGTERM) afterwards."""
    from tests.processes import wait_until_ok

    output = log.with_name(f"{log.name}.{port}.out")
    with output.open("a") as out:
        arguments = ["--port", str(port), "--log", str(log), "--mode", mode]
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.webhook_receiver", *arguments],
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_ok(f"http://127.0.0.1:{port}/ready", process, timeout, output.read_text)
        yield Receiver(port, log, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()
