"""Schemathesis over every route of a running service, counting what matters: requests sent,
5xx answers, and answers that break the documented schema (status, content type, body).

The CI test runs it bounded (`tests/test_serving_schemathesis.py`); `benchmarks/fuzz_api.py`
runs it larger and prints the counts.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import negative_data_rejection, positive_data_acceptance
from schemathesis.core.failures import FailureGroup

# Every route is generated both from its schema (positive: must be answered as documented,
# 2xx where the data allows) and against it (negative: must be refused with a 4xx).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Routes that answer 200 and report a bad item by its index (documented), not with a 4xx.
ITEM_ROUTES = ("/v1/score/batch", "/v1/events")
# Routes whose bodies have rules no schema can state (documented under their 422): a webhook
# target must be a host the operator allows, a transition must change the tier.
SEMANTIC_ROUTES = ("/v1/webhooks",)


@dataclass
class FuzzCounts:
    """What a fuzz run sent and found; `failures` holds one line per distinct problem."""

    requests: int = 0
    server_errors: int = 0
    violations: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(self.statuses.items()))
        return (
            f"{self.requests:,} requests, {self.server_errors} 5xx, {self.violations} schema "
            f"violations (statuses {statuses})"
        )


def fuzz_service(url: str, api_key: str, max_examples: int, seed: int = 0) -> FuzzCounts:
    """Fuzz every operation of the service at `url` in both modes, `max_examples` each."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    counts = FuzzCounts()
    for result in schema.get_all_operations():
        for mode in MODES:
            _fuzz_operation(result.ok(), mode, url, api_key, max_examples, seed, counts)
    return counts


def _fuzz_operation(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    url: str,
    api_key: str,
    max_examples: int,
    seed: int,
    counts: FuzzCounts,
) -> None:
    # Batches of leads and of events answer 200 to items that break the item schema,
    # reporting each by its index (documented): schema-invalid items are not refused whole.
    excluded = [negative_data_rejection] if operation.path in ITEM_ROUTES else []
    if operation.path in SEMANTIC_ROUTES and operation.method.upper() == "POST":
        excluded.append(positive_data_acceptance)
    # Both documented ways of sending the key, so Schemathesis does not invent a bearer token.
    headers = {"Authorization": f"Bearer {api_key}", "X-API-Key": api_key}

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed == 0,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=url, headers=headers, timeout=60)
        counts.requests += 1
        counts.statuses[response.status_code] += 1
        if response.status_code >= 500:
            counts.server_errors += 1
        try:
            case.validate_response(response, headers=headers, excluded_checks=excluded)
        except FailureGroup as exc:
            counts.violations += 1
            first = "; ".join(str(e).strip().splitlines()[0][:200] for e in exc.exceptions)
            counts.failures.setdefault(
                f"{operation.label} [{mode.value}] {first}",
                case.as_curl_command(headers=headers)[:1000],
            )

    # A route without parameters or body has no negative cases: Hypothesis finds none to make.
    with contextlib.suppress(Unsatisfiable):
        run()
