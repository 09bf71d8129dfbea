"""Fuzz the HTTP API with Schemathesis, larger than CI does, and print what it found.

Starts `leadscore serve` (production mode, API keys) on loopback with a small model, generates
requests for every route from the OpenAPI document (valid ones and ones that break it), and
prints the requests sent, the 5xx answers and the answers that break the documented schema.

    python benchmarks/fuzz_api.py --examples 1000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.api_fuzz import fuzz_service
from tests.processes import running_service
from tests.serving_fixtures import make_model

ADMIN_KEY = "bench-admin-key-Zq8vN3xP0aLr"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--examples", type=int, default=1000, help="examples per route and mode (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="0: the same requests every run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(seed=0).save(Path(tmp) / "model")
        env = {
            "LEADSCORE_MODE": "production",
            "LEADSCORE_MODEL_URI": str(model),
            "LEADSCORE_API_KEYS": "bench-scoring-key-7Hq2vXn9",
            "LEADSCORE_ADMIN_KEYS": ADMIN_KEY,
        }
        with running_service(env, Path(tmp)) as service:
            started = time.perf_counter()
            counts = fuzz_service(service.url, ADMIN_KEY, args.examples, args.seed)
            elapsed = time.perf_counter() - started
    print(f"schemathesis, {args.examples} examples per route and mode, {elapsed:.0f} s:")
    print(f"  {counts.summary()}")
    for problem, reproduce in counts.failures.items():
        print(f"  - {problem}\n    {reproduce}")
    return 1 if counts.server_errors or counts.violations else 0


if __name__ == "__main__":
    sys.exit(main())
