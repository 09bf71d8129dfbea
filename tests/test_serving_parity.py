"""One model, one answer: the service, `leadscore score`, `ScoringModel.predict_rows` (what
training measured and notebooks load) and the logged MLflow pyfunc give the same probability
for the same lead."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from features.contract.schema import AS_OF
from features.journeys import Journeys
from leadscore import app as cli
from runtime.leads import predict_records
from runtime.source import RegistrySettings, load_model, tracking
from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving_fixtures import (
    AS_OF_TIME,
    lead_payload,
    make_model,
    register,
    synthetic_leads,
)


def test_service_batch_command_and_predict_rows_agree(tmp_path):
    model_dir = make_model(seed=2).save(tmp_path / "model")
    leads, events = synthetic_leads(40, seed=11)
    leads.to_parquet(tmp_path / "leads.parquet")
    events.to_parquet(tmp_path / "events.parquet")

    # The notebook / training path: features of a frame, booster.predict.
    loaded = load_model(model_dir)
    rows = pd.DataFrame({"lead_id": leads["lead_id"], AS_OF: pd.Timestamp(AS_OF_TIME)})
    journeys = Journeys.from_frame(events, leads["lead_id"])
    frame = loaded.predict_rows(leads, journeys, rows).frame()

    # The batch command.
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        cli,
        [
            "score",
            "--leads", str(tmp_path / "leads.parquet"),
            "--events", str(tmp_path / "events.parquet"),
            "--as-of", "2025-06-01T00:00:00",
            "--model", str(model_dir),
            "--out", str(out),
            "--reasons",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "scored 40 leads" in result.output
    batch = pd.read_parquet(out)

    # The service, one lead at a time and as a batch.
    payloads = [lead_payload(leads, events, i, AS_OF_TIME) for i in range(len(leads))]
    settings = ServiceSettings(mode="development", model_uri=str(model_dir))
    with TestClient(create_app(settings)) as client:
        singles = [client.post("/v1/score", json=p).json() for p in payloads]
        batched = client.post("/v1/score/batch", json={"leads": payloads}).json()["results"]

    expected = frame["probability"].to_numpy()
    np.testing.assert_array_equal(batch["probability"].to_numpy(), expected)
    np.testing.assert_array_equal([s["probability"] for s in singles], expected)
    np.testing.assert_array_equal([b["probability"] for b in batched], expected)
    assert [s["tier"] for s in singles] == frame["tier"].tolist() == batch["tier"].tolist()
    assert [s["score"] for s in singles] == frame["score"].astype(int).tolist()
    assert batch["score"].tolist() == frame["score"].astype(int).tolist()
    # Fit, engagement and grade too: one computation (runtime.model), whatever the path.
    for field in ("fit", "engagement", "grade"):
        assert [s[field] for s in singles] == [b[field] for b in batched], field
        assert [s[field] for s in singles] == frame[field].tolist() == batch[field].tolist()
    assert all(s["grade"] and len(s["grade"]) == 2 for s in singles)
    # The same reasons in the same words, online and offline.
    for single, offline in zip(singles, batch["reasons"], strict=True):
        assert [r["text"] for r in single["reasons"]] == [r["text"] for r in offline]
        assert len(single["reasons"]) > 0


def test_the_logged_pyfunc_answers_lead_records_as_the_service_does(tmp_path):
    model = make_model(seed=3)
    settings = RegistrySettings(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_location=(tmp_path / "mlartifacts").as_uri(),
    )
    logged = register(model, settings)
    leads, events = synthetic_leads(25, seed=12)
    payloads = [lead_payload(leads, events, i, AS_OF_TIME) for i in range(len(leads))]
    del payloads[1]["attributes"]["industry"]  # an attribute the model uses, missing

    with tracking(settings):
        pyfunc = mlflow.pyfunc.load_model(logged.model_uri)
    # A list of records, and the frame `mlflow models serve` makes of `dataframe_records`.
    answers = [pyfunc.predict(payloads), pyfunc.predict(pd.DataFrame(payloads))]
    service = ServiceSettings(mode="development", model_uri=str(model.save(tmp_path / "m")))
    with TestClient(create_app(service)) as client:
        served = client.post("/v1/score/batch", json={"leads": payloads}).json()["results"]

    for out in answers:
        assert out["lead_id"].tolist() == [s["lead_id"] for s in served]
        assert out["tier"].tolist() == [s["tier"] for s in served]
        assert out["score"].tolist() == [s["score"] for s in served]
        for field in ("fit", "engagement", "grade"):
            assert out[field].tolist() == [s[field] for s in served], field
        np.testing.assert_array_equal(
            out["probability"].to_numpy(), [s["probability"] for s in served]
        )
        assert [r["text"] for r in out["reasons"].iloc[2]] == [
            r["text"] for r in served[2]["reasons"]
        ]
    # The pyfunc ships the runtime and the features it computes, not the training code.
    with tracking(settings):
        logged_dir = Path(mlflow.artifacts.download_artifacts(logged.model_uri, dst_path=tmp_path))
    shipped = {
        p.relative_to(logged_dir / "code").as_posix() for p in logged_dir.glob("code/**/*.py")
    }
    assert {"runtime/model.py", "features/pipeline.py", "features/behaviour.py"} <= shipped
    assert not any(p.startswith(("training", "serving", "features/synth")) for p in shipped)


def test_the_pyfunc_names_the_lead_and_field_of_a_bad_record():
    model = make_model(seed=3)
    with pytest.raises(ValueError, match=r"lead 1: created_at"):
        predict_records(model, [{"created_at": "2025-01-01"}, {"created_at": "not a time"}])
