"""What a prober sent to get a 500 or be let through, each pinned: instants at the ends of the
calendar, numbers for timestamps, non-finite numbers, endless strings, duplicate keys, bodies that
are not JSON, ambiguous credentials, weak keys; and the OpenAPI document describing answers,
errors and the fields the loaded model requires."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving_fixtures import AS_OF_TIME, lead_payload, make_model, synthetic_leads

API_KEY = "hardening-key-7Hq2vXn9LpR4"
JSON_TYPE = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(seed=0).save(tmp_path_factory.mktemp("models") / "lead-conversion")


@pytest.fixture(scope="module")
def client(model_dir: Path):
    settings = ServiceSettings(mode="development", model_uri=str(model_dir))
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def lead() -> dict:
    leads, events = synthetic_leads(3, seed=8)
    return lead_payload(leads, events, 0, AS_OF_TIME)


def _errors(response) -> list[tuple[list, str]]:
    assert response.status_code == 422, response.text
    return [(e["loc"], e["msg"]) for e in response.json()["detail"]]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_at", "9999-12-31T23:30:00-01:00"),
        ("as_of", "0001-01-01T00:30:00+01:00"),
    ],
)
def test_an_instant_outside_the_calendar_in_utc_is_a_422_naming_the_field(
    client, lead, field, value
):
    [(loc, msg)] = _errors(client.post("/v1/score", json=lead | {field: value}))
    assert loc == ["body", field]
    assert "years 0002-9998" in msg


def test_the_timestamp_rule_is_in_the_openapi_document_as_validation_applies_it(client):
    from runtime.leads import IsoTimestamp

    doc = client.get("/openapi.json").json()
    created = doc["components"]["schemas"]["LeadIn"]["properties"]["created_at"]["anyOf"][0]
    assert created == {"type": "string", "format": "date-time", "pattern": IsoTimestamp.PATTERN}
    for value in ("0002-01-01T00:30:00+01:00", "9998-12-31T23:30:00-01:00"):
        assert client.post("/v1/score", json={"created_at": value}).status_code == 200


def test_a_string_is_never_read_as_a_number(client, lead):
    # Digits past the length limit would otherwise pass as the number 0.
    [(_, msg)] = _errors(client.post("/v1/score", json=lead | {"attributes": {"k": "0" * 2001}}))
    assert "at most 2,000 characters" in msg


def test_in_a_batch_such_a_lead_fails_by_its_index_and_the_others_are_scored(client, lead):
    leads = [lead, lead | {"created_at": "9999-12-31T23:30:00-01:00"}, lead]
    response = client.post("/v1/score/batch", json={"leads": leads})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["scored"], body["failed"]) == (2, 1)
    failed = body["results"][1]
    assert (failed["index"], failed["status"]) == (1, "failed")
    assert failed["errors"][0]["loc"] == ["created_at"]


@pytest.mark.parametrize("value", [0, 1748736000, "0", "1748736000", "2025-05-01", True])
def test_timestamps_are_iso_strings_with_a_time_never_numbers(client, lead, value):
    [(loc, msg)] = _errors(client.post("/v1/score", json=lead | {"as_of": value}))
    assert loc == ["body", "as_of"]
    assert "ISO 8601 string with a date (years 0002-9998) and a time" in msg


def test_an_event_time_as_a_number_is_located_to_the_event(client, lead):
    events = [*lead["events"][:2], {"event_type": "demo_request", "occurred_at": 1748736000}]
    [(loc, _)] = _errors(client.post("/v1/score", json=lead | {"events": events}))
    assert loc == ["body", "events", 2, "occurred_at"]


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_attribute_numbers_must_be_finite(client, lead, number):
    body = json.dumps(lead | {"attributes": {"employee_count": 7}}).encode()
    body = body.replace(b'"employee_count": 7', b'"employee_count": ' + number)
    [(loc, msg)] = _errors(client.post("/v1/score", content=body, headers=JSON_TYPE))
    assert loc == ["body", "attributes"]
    assert "attribute 'employee_count' should be a string, true/false, a finite number" in msg


def test_strings_have_length_limits(client, lead):
    too_long = {"attributes": {"job_title": "x" * 2001}}
    [(_, msg)] = _errors(client.post("/v1/score", json=lead | too_long))
    assert "'job_title'" in msg and "at most 2,000 characters" in msg
    [(_, msg)] = _errors(client.post("/v1/score", json=lead | {"attributes": {"k" * 201: 1}}))
    assert "attribute name" in msg and "at most 200 characters" in msg
    [(loc, _)] = _errors(client.post("/v1/score", json=lead | {"lead_id": "x" * 201}))
    assert loc == ["body", "lead_id"]
    # At the limits, the lead is scored.
    at_limits = {"lead_id": "x" * 200, "attributes": {"k" * 200: "v" * 2000}}
    assert client.post("/v1/score", json=lead | at_limits).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b'{"created_at": "2025-01-01T00:00:00Z", "created_at": "2025-02-01T00:00:00Z"}',
        b'{"created_at": "2025-01-01T00:00:00Z", "attributes": {"a": 1, "a": 2}}',
        b'{"leads": [], "leads": []}',
    ],
)
def test_a_key_sent_twice_in_one_object_is_refused(client, body):
    route = "/v1/score/batch" if b"leads" in body else "/v1/score"
    [(loc, msg)] = _errors(client.post(route, content=body, headers=JSON_TYPE))
    assert loc == ["body"]
    assert "appears twice in one JSON object" in msg


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_the_body_must_be_sent_as_json(client, lead, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/v1/score", content=json.dumps(lead).encode(), headers=headers)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["detail"]
    ok = client.post("/v1/score", content=json.dumps(lead), headers=JSON_TYPE)
    assert ok.status_code == 200


def test_deep_nesting_and_broken_json_are_422_not_500(client):
    for body in (b"[" * 100_000 + b"]" * 100_000, b'{"created_at": ', b"\xff\xfe{}"):
        response = client.post("/v1/score", content=body, headers=JSON_TYPE)
        assert response.status_code == 422, response.text


def test_ambiguous_credentials_are_refused(model_dir, lead):
    other = "hardening-other-3Wm8cKt5Z"
    settings = ServiceSettings(
        mode="production", model_uri=str(model_dir), api_keys=[API_KEY, other]
    )
    with TestClient(create_app(settings)) as c:
        basic = c.post("/v1/score", json=lead, headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert basic.status_code == 401
        assert "must be `Bearer <API key>`" in basic.json()["detail"]
        # A valid X-API-Key does not make a malformed Authorization header acceptable.
        both = {"Authorization": "Basic dXNlcjpwdw==", "X-API-Key": API_KEY}
        assert c.post("/v1/score", json=lead, headers=both).status_code == 401
        two = {"Authorization": f"Bearer {API_KEY}", "X-API-Key": other}
        response = c.post("/v1/score", json=lead, headers=two)
        assert response.status_code == 401
        assert "two different API keys" in response.json()["detail"]
        same = {"Authorization": f"Bearer {API_KEY}", "X-API-Key": API_KEY}
        assert c.post("/v1/score", json=lead, headers=same).status_code == 200


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("aaaaaaaaaaaaaaaa", "only 1 distinct characters"),
        ("password12345678", "common password"),
        ("changeme-2024!!!", "common password"),
        ("qwertyuiop123456", "keyboard run"),
        ("short-Key1", "fewer than 16"),
    ],
)
def test_production_refuses_weak_keys_and_says_how_to_make_one(key, why):
    with pytest.raises(ValidationError, match=why) as refused:
        ServiceSettings(mode="production", api_keys=[key])
    assert "secrets.token_urlsafe(32)" in str(refused.value)


def test_a_generated_key_is_accepted():
    import secrets

    assert ServiceSettings(mode="production", api_keys=[secrets.token_urlsafe(32)]).auth_required


def test_openapi_describes_answers_errors_and_the_models_required_fields(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]

    def schema(path: str, method: str, status: str) -> dict:
        return paths[path][method]["responses"][status]["content"]["application/json"]["schema"]

    assert schema("/v1/score", "post", "200") == {"$ref": "#/components/schemas/ScoreResponse"}
    assert schema("/v1/score/batch", "post", "200")["$ref"].endswith("/BatchResponse")
    assert schema("/v1/model", "get", "200")["$ref"].endswith("/ModelInfo")
    assert schema("/readyz", "get", "200")["$ref"].endswith("/Readiness")
    for path, method in [("/v1/score", "post"), ("/v1/model", "get"), ("/v1/admin/reload", "post")]:
        assert schema(path, method, "401")["$ref"].endswith("/ErrorBody"), path
    assert {"413", "415", "422", "503"} <= set(paths["/v1/score"]["post"]["responses"])
    # The served model reads journeys: created_at is required, and a string, not null.
    lead = doc["components"]["schemas"]["LeadIn"]
    assert "created_at" in lead["required"]
    assert [b["type"] for b in lead["properties"]["created_at"]["anyOf"]] == ["string"]
