"""Real servers on loopback for the end-to-end tests: a free port, and waiting until ready."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ok(
    url: str, process: subprocess.Popen, timeout: float, output: Callable[[], str]
) -> None:
    """Return when `url` answers 200; fail with the process's output if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{output()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout:.0f}s:\n{output()}")


@dataclass(frozen=True)
class Service:
    """A running `leadscore serve`: where it answers, its process, and the file of its output."""

    url: str
    process: subprocess.Popen
    log: Path


@contextmanager
def running_service(
    env: dict[str, str], cwd: Path, ready: str = "/readyz", timeout: float = 120
) -> Iterator[Service]:
    """`leadscore serve` on a free loopback port with `env` (LEADSCORE_* settings), once
    `ready` answers 200; stopped afterwards."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "leadscore", "serve", "--port", str(port)],
            env=os.environ | env,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ok(f"{url}{ready}", process, timeout, log.read_text)
        yield Service(url, process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)
