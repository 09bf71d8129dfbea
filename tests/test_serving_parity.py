"""One model, one answer: the service, `leadscore score` and `ScoringModel.score_frame` (what
training measured and notebooks load) give the same probability for the same lead."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from features.journeys import Journeys
from features.pipeline import AS_OF
from leadscore import app as cli
from serving.app import create_app
from serving.settings import ServiceSettings
from tests.serving_fixtures import AS_OF_TIME, lead_payload, make_model, synthetic_leads
from training.registry.tracking import load_model


def test_service_batch_command_and_score_frame_agree(tmp_path):
    model_dir = make_model(seed=2).save(tmp_path / "model")
    leads, events = synthetic_leads(40, seed=11)
    leads.to_parquet(tmp_path / "leads.parquet")
    events.to_parquet(tmp_path / "events.parquet")

    # The notebook / training path: features of a frame, booster.predict.
    loaded = load_model(model_dir)
    rows = pd.DataFrame({"lead_id": leads["lead_id"], AS_OF: pd.Timestamp(AS_OF_TIME)})
    frame = loaded.score_frame(leads, Journeys.from_frame(events, leads["lead_id"]), rows)

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
    # The same reasons in the same words, online and offline.
    for single, offline in zip(singles, batch["reasons"], strict=True):
        assert [r["text"] for r in single["reasons"]] == [r["text"] for r in offline]
        assert len(single["reasons"]) > 0
