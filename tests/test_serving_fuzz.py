"""No request body, however odd, makes the service answer 5xx: Hypothesis generates hundreds
of bodies, from near-valid leads with one field gone wrong to arbitrary JSON and bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from features.contract.schema import EVENT_TYPES
from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving_fixtures import make_model

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(
        [
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "2025-02-30T00:00:00Z",
            "2025-05-01",
            "1748736000",
            "yesterday",
            "",
        ]
    ),
    st.integers(min_value=-(2**40), max_value=2**40),
    json_values,
)
events = st.lists(
    st.fixed_dictionaries(
        {
            "event_type": st.one_of(
                st.sampled_from(EVENT_TYPES), st.text(max_size=30), json_values
            ),
            "occurred_at": timestamps,
        },
        optional={"page": json_values, "campaign": json_values},
    )
    | json_values,
    max_size=60,
)
attributes = st.dictionaries(
    st.sampled_from(["job_title", "email", "industry", "employee_count"]) | st.text(max_size=10),
    st.one_of(
        st.text(max_size=40),
        st.floats(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.booleans(),
        st.none(),
        json_values,
    ),
    max_size=6,
)
leads = st.fixed_dictionaries(
    {"created_at": timestamps},
    optional={
        "lead_id": st.text(max_size=10) | json_values,
        "attributes": attributes | json_values,
        "events": events | json_values,
        "as_of": timestamps,
        "unexpected": json_values,
    },
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    model_dir = make_model(seed=3).save(Path(tmp_path_factory.mktemp("fuzz")) / "model")
    options = ServiceSettings(
        mode="development", model_uri=str(model_dir), max_events_per_lead=50, max_leads_per_batch=8
    )
    with TestClient(create_app(options), raise_server_exceptions=False) as c:
        yield c


def _post(client: TestClient, path: str, body: bytes) -> int:
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, (path, body[:300], response.text[:300])
    event(f"{path} -> {response.status_code}")  # shown by --hypothesis-show-statistics
    return response.status_code


def _dumps(value: object) -> bytes:
    # allow_nan: JSON-ish bodies with NaN/Infinity literals are part of what clients send.
    return json.dumps(value, allow_nan=True).encode()


FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@FUZZ
@given(lead=leads)
def test_single_lead_bodies_never_5xx(client, lead):
    assert _post(client, "/v1/score", _dumps(lead)) in (200, 422)


@FUZZ
@given(batch=st.lists(leads | json_values, max_size=10), as_of=st.none() | timestamps)
def test_batch_bodies_never_5xx(client, batch, as_of):
    status = _post(client, "/v1/score/batch", _dumps({"leads": batch, "as_of": as_of}))
    assert status in (200, 422)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=200) | json_values.map(_dumps))
def test_arbitrary_bytes_never_5xx(client, body):
    for path in ("/v1/score", "/v1/score/batch"):
        assert _post(client, path, body) == 422
