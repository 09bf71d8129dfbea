"""The HTTP API through FastAPI's TestClient: answers, error texts, limits, auth, reloads,
metrics and the OpenAPI document."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from serving.app import create_app
from serving.schemas import BatchResponse, ScoreResponse
from serving.settings import ServiceSettings
from tests.serving_fixtures import AS_OF_TIME, lead_payload, make_model, synthetic_leads

API_KEY = "scoring-key-7Hq2vXn9LpR4"
ADMIN_KEY = "admin-key-3Wm8cKt5ZyB1"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(seed=0).save(tmp_path_factory.mktemp("models") / "lead-conversion")


@pytest.fixture(scope="module")
def payloads() -> list[dict]:
    leads, events = synthetic_leads(20, seed=5)
    return [lead_payload(leads, events, i, AS_OF_TIME) for i in range(len(leads))]


def _client(model_uri: Path | str, **settings) -> TestClient:
    options = {"mode": "development", "model_uri": str(model_uri)} | settings
    return TestClient(create_app(ServiceSettings(**options)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(model_dir: Path):
    with _client(model_dir, max_events_per_lead=100, max_leads_per_batch=5) as c:
        yield c


def test_one_lead_gets_probability_score_tier_reasons_and_model(client, payloads):
    response = client.post("/v1/score", json=payloads[0])
    assert response.status_code == 200, response.text
    body = ScoreResponse.model_validate(response.json())  # the answer matches its schema
    assert body.lead_id == payloads[0]["lead_id"]
    assert 0 < body.probability < 1
    assert body.tier in ("sql", "mql", "nurture")
    assert body.reasons and {r.direction for r in body.reasons} <= {"positive", "negative"}
    assert all(r.text and r.feature for r in body.reasons)
    assert body.model.name == "lead-conversion"
    assert response.json()["as_of"] == "2025-06-01T00:00:00Z"
    assert body.warnings == []


def test_missing_field_is_named(client, payloads):
    lead = {k: v for k, v in payloads[0].items() if k != "created_at"}
    response = client.post("/v1/score", json=lead)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "created_at"] and error["type"] == "missing"
    # Only a model that reads the journey needs it, and the message says so.
    assert error["msg"].startswith("Field required by this model: it reads the journey")


def test_bad_timestamp_is_located_to_the_event(client, payloads):
    lead = payloads[0] | {"events": [*payloads[0]["events"][:1], _event("pricing_page_view")]}
    lead["events"][1]["occurred_at"] = "last tuesday"
    response = client.post("/v1/score", json=lead)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "events", 1, "occurred_at"]
    assert "ISO 8601 string with a date (years 0002-9998) and a time" in error["msg"]


def test_invalid_json_and_unknown_fields_are_422_not_500(client, payloads):
    response = client.post(
        "/v1/score", content=b'{"created_at": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "Invalid JSON" in response.json()["detail"][0]["msg"]
    response = client.post("/v1/score", json=payloads[0] | {"evnts": []})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "evnts"]


def test_too_many_events_says_the_limit(client, payloads):
    lead = payloads[0] | {"events": [_event("blog_page_view")] * 101}
    response = client.post("/v1/score", json=lead)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "events"]
    assert "101 events, more than the 100 allowed per lead" in error["msg"]


def test_unknown_event_type_counts_as_other_with_a_warning(client, payloads):
    base = payloads[0] | {"events": [_event("demo_request")]}
    unknown = client.post(
        "/v1/score", json=base | {"events": [*base["events"], _event("trade_show_visit")]}
    ).json()
    other = client.post(
        "/v1/score", json=base | {"events": [*base["events"], _event("other")]}
    ).json()
    assert unknown["probability"] == other["probability"]
    assert unknown["warnings"] == [
        "1 event of unknown type counted as 'other' (e.g. 'trade_show_visit'); known types: "
        "see the event_type field of the API docs"
    ]
    assert other["warnings"] == []


def test_timestamps_without_zone_are_utc(client, payloads):
    lead = payloads[1]
    naive = lead | {
        "created_at": lead["created_at"].replace("+00:00", ""),
        "as_of": "2025-06-01T00:00:00",
        "events": [e | {"occurred_at": e["occurred_at"][:-6]} for e in lead["events"]],
    }
    with_zone = client.post("/v1/score", json=lead).json()
    without = client.post("/v1/score", json=naive).json()
    assert without["probability"] == with_zone["probability"]
    assert without["as_of"] == "2025-06-01T00:00:00Z"


def test_missing_attributes_and_late_events_are_warned_about(client, payloads):
    lead = payloads[2] | {"attributes": {"industry": "Retail"}}
    lead["events"] = [*lead["events"], _event("demo_request", "2025-07-01T00:00:00Z")]
    warnings = client.post("/v1/score", json=lead).json()["warnings"]
    assert "1 event at or after as_of ignored" in warnings
    assert any("missing" in w and "job_title" in w for w in warnings)


def test_batch_keeps_order_and_reports_a_bad_lead_by_index(client, payloads):
    bad = {k: v for k, v in payloads[1].items() if k != "created_at"}
    leads = [payloads[0], bad, payloads[2], 42]
    response = client.post("/v1/score/batch", json={"leads": leads})
    assert response.status_code == 200, response.text
    body = BatchResponse.model_validate(response.json())
    assert (body.scored, body.failed) == (2, 2)
    assert [r.index for r in body.results] == [0, 1, 2, 3]
    assert [r.status for r in body.results] == ["scored", "failed", "scored", "failed"]
    assert body.results[1].lead_id == payloads[1]["lead_id"]
    assert body.results[1].errors[0].loc == ["created_at"]
    alone = client.post("/v1/score", json=payloads[2]).json()
    assert body.results[2].probability == alone["probability"]


def test_batch_envelope_errors_fail_the_whole_request(client, payloads):
    response = client.post("/v1/score/batch", json={"leads": [payloads[0]] * 6})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "leads"]
    assert "6 leads, more than the 5 allowed per batch" in error["msg"]
    response = client.post("/v1/score/batch", json={"lead": []})
    assert response.status_code == 422
    assert {tuple(e["loc"]) for e in response.json()["detail"]} == {
        ("body", "leads"),
        ("body", "lead"),
    }


def test_body_over_the_limit_is_413(model_dir, payloads):
    with _client(model_dir, max_body_bytes=2048) as c:
        big = payloads[0] | {"events": [_event("blog_page_view")] * 200}
        response = c.post("/v1/score", json=big)
        assert response.status_code == 413
        assert "larger than 2,048 bytes" in response.json()["detail"]

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b" " * 1000

        response = c.post(
            "/v1/score", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413


def test_no_model_means_503_with_the_reason_never_a_stub(tmp_path, payloads):
    with _client(tmp_path / "nothing-here") as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not ready"
        assert "nothing-here" in ready.json()["reason"]
        response = c.post("/v1/score", json=payloads[0])
        assert response.status_code == 503
        assert response.json()["detail"].startswith("no model to score with: loading")
        assert "nothing-here" in response.json()["detail"]
        assert c.get("/v1/model").status_code == 503


def test_auth_missing_wrong_and_non_admin_keys(model_dir, payloads):
    with _client(model_dir, mode="production", api_keys=[API_KEY], admin_keys=[ADMIN_KEY]) as c:
        missing = c.post("/v1/score", json=payloads[0])
        assert missing.status_code == 401
        assert missing.json()["detail"].startswith("missing API key")
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = c.post("/v1/score", json=payloads[0], headers={"X-API-Key": "x" * 24})
        assert (wrong.status_code, wrong.json()["detail"]) == (401, "invalid API key")
        # The key is checked before the body is read.
        assert c.post("/v1/score", content=b"{").status_code == 401
        for headers in ({"Authorization": f"Bearer {API_KEY}"}, {"X-API-Key": API_KEY}):
            assert c.post("/v1/score", json=payloads[0], headers=headers).status_code == 200
        not_admin = c.post("/v1/admin/reload", headers={"X-API-Key": API_KEY})
        assert not_admin.status_code == 403
        assert "needs an admin key" in not_admin.json()["detail"]
        admin = c.post("/v1/admin/reload?wait=true", headers={"X-API-Key": ADMIN_KEY})
        assert admin.status_code == 200
        # Probes and metrics stay open for the orchestrator.
        assert c.get("/readyz").status_code == 200
        assert c.get("/metrics").status_code == 200


def test_production_refuses_to_start_without_a_real_key(tmp_path):
    with pytest.raises(ValidationError, match="production mode needs an API key"):
        ServiceSettings(mode="production", api_keys=[])
    with pytest.raises(ValidationError, match="weak API key in production: it has 8 char"):
        ServiceSettings(mode="production", api_keys=["changeme"])
    keys = tmp_path / "keys.txt"
    keys.write_text(f"# scoring keys\n{API_KEY}\n\n")
    assert ServiceSettings(mode="production", api_keys_file=keys).auth_required
    assert not ServiceSettings(mode="development").auth_required


def test_reload_swaps_the_model_and_a_failed_load_keeps_the_old_one(tmp_path, payloads):
    served = make_model(seed=0).save(tmp_path / "model")
    with _client(served) as c:
        before = c.post("/v1/score", json=payloads[3]).json()["probability"]
        shutil.rmtree(served)
        make_model(seed=1).save(served)
        reloaded = c.post("/v1/admin/reload?wait=true")
        assert reloaded.status_code == 200
        assert reloaded.json()["reload"]["state"] == "loaded"
        after = c.post("/v1/score", json=payloads[3]).json()["probability"]
        assert after != before
        (served / "booster.txt").unlink()
        failed = c.post("/v1/admin/reload?wait=true")
        assert failed.status_code == 503
        assert "previous model keeps serving" in failed.json()["reload"]["error"]
        assert "booster.txt" in failed.json()["reload"]["error"]
        assert c.post("/v1/score", json=payloads[3]).json()["probability"] == after
        assert c.get("/v1/model").json()["last_reload"]["state"] == "failed"
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded"
        assert "booster.txt" in ready.json()["reason"]
        assert 'leadscore_model_last_load_failed{version=""} 1.0' in c.get("/metrics").text


def test_model_info_describes_the_model(client):
    info = client.get("/v1/model").json()
    assert info["target"] == "closed_won"
    assert info["horizon_days"] == 90
    assert [t["name"] for t in info["tiers"]] == ["sql", "mql", "nurture"]
    assert info["tiers"][-1]["min_probability"] is None
    assert info["metrics"] == {"roc_auc": 0.8}
    assert "days_since_last_demo_request" in info["features"]


def test_metrics_count_requests_by_route_and_status_and_scores_by_tier(client, payloads):
    client.post("/v1/score", json=payloads[4])
    client.post("/v1/score", json={})
    text = client.get("/metrics").text
    assert 'leadscore_http_requests_total{method="POST",route="/v1/score",status="200"}' in text
    assert 'leadscore_http_requests_total{method="POST",route="/v1/score",status="422"}' in text
    assert 'leadscore_http_request_duration_seconds_bucket{le="0.005",method="POST",' in text
    assert "leadscore_scores_total{tier=" in text
    assert "leadscore_model_loaded 1.0" in text
    assert 'leadscore_model_info{alias="",name="lead-conversion",version=""} 1.0' in text


def test_openapi_documents_every_field_with_bodies(client):
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert {"LeadIn", "EventIn", "BatchRequest", "ScoreResponse", "BatchResponse"} <= set(
        components
    )
    for name, component in components.items():
        for field, spec in component["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"
            nested = "$ref" in spec or "const" in spec or "items" in spec or "anyOf" in spec
            # Plain values carry an example; nested models carry theirs in their own schema.
            assert nested or spec.get("examples"), f"{name}.{field} has no example"
    body = schema["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/LeadIn"}
    assert components["LeadIn"]["examples"]
    security = schema["paths"]["/v1/score"]["post"]["security"]
    assert {next(iter(s)) for s in security} == {"HTTPBearer", "APIKeyHeader"}


def test_batch_answers_validate_against_the_union_schema(client, payloads):
    response = client.post("/v1/score/batch", json={"leads": payloads[:3]})
    results = TypeAdapter(BatchResponse).validate_python(response.json()).results
    assert len(results) == 3


def _event(kind: str, when: str = "2025-05-20T10:00:00+00:00") -> dict:
    return {"event_type": kind, "occurred_at": when}
