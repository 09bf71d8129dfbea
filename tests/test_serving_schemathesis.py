"""Schemathesis over every route of a real `leadscore serve` process, with an admin key:
no generated request, valid or not, gets a 5xx or an answer outside the documented schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api_fuzz import fuzz_service
from tests.processes import running_service
from tests.serving_fixtures import make_model

ADMIN_KEY = "fuzz-admin-key-Zq8vN3xP0aLr"
# Per route and generation mode: about 500 requests in all, ~15 s on two cores.
EXAMPLES = 100


@pytest.mark.slow
def test_generated_requests_get_no_5xx_and_documented_answers(tmp_path: Path):
    model = make_model(seed=0).save(tmp_path / "model")
    env = {
        "LEADSCORE_MODE": "production",
        "LEADSCORE_MODEL_URI": str(model),
        "LEADSCORE_API_KEYS": "fuzz-scoring-key-7Hq2vXn9",
        "LEADSCORE_ADMIN_KEYS": ADMIN_KEY,
    }
    with running_service(env, tmp_path) as service:
        counts = fuzz_service(service.url, ADMIN_KEY, max_examples=EXAMPLES)
    assert counts.server_errors == 0, counts.failures
    assert counts.violations == 0, counts.failures
    # The run reached every outcome worth reaching: scored leads and refused ones.
    assert counts.requests >= 300, counts.summary()
    assert counts.statuses[200] and counts.statuses[422], counts.summary()
