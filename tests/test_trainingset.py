"""Cut-offs, labels (horizon, exclusions, censoring), attribute inference and the build command."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from features.attributes import email_domain_kind, infer_attributes, normalize_title
from features.contract.schema import AS_OF, LABEL, Milestone
from features.journeys import Journeys
from features.trainingset import (
    CutoffPolicy,
    TrainingSetConfig,
    build_training_set,
    label_rows,
    make_cutoffs,
    read_training_set,
    write_training_set,
)
from leadscore import app

ts = pd.Timestamp


def utc(text: str) -> pd.Timestamp:
    return ts(text, tz="UTC")


LEADS = pd.DataFrame(
    {
        "lead_id": ["won", "lost", "open", "late"],
        "created_at": [utc("2024-01-01"), utc("2024-01-01"), utc("2024-01-01"), utc("2024-11-01")],
        "industry": ["Software", "Retail", "Select", "Software"],
        "job_title": ["VP Sales", "Student", "CTO", "Data Analyst"],
        "email": ["a@acme.com", "b@gmail.com", "c@uni.edu", "d@rival.io"],
        "newsletter": ["Yes", "No", "No", "Yes"],
        "notes": [f"free text {i}" for i in range(4)],
    }
)
OUTCOMES = pd.DataFrame(
    {
        "lead_id": ["won", "won", "lost"],
        "milestone": ["sql", "closed_won", "closed_lost"],
        "occurred_at": [utc("2024-01-20"), utc("2024-02-15"), utc("2024-01-05")],
    }
)
EVENTS = pd.DataFrame(
    {
        "lead_id": ["won", "won", "open"],
        "occurred_at": [utc("2024-01-03"), utc("2024-01-10"), utc("2024-01-04")],
        "event_type": ["pricing_page_view", "demo_request", "careers_page_view"],
    }
)
END = utc("2024-12-31")


def test_labels_respect_horizon_exclusions_and_censoring():
    rows = pd.DataFrame(
        {
            "lead_id": ["won", "won", "won", "lost", "lost", "open", "late"],
            AS_OF: [
                utc("2024-01-02"),  # won 44 days later: inside a 60-day horizon
                utc("2023-12-01"),  # before the lead existed
                utc("2024-02-20"),  # already won: excluded
                utc("2024-01-02"),  # lost later: negative
                utc("2024-01-06"),  # already closed: excluded
                utc("2024-01-02"),  # never converts: negative
                utc("2024-11-02"),  # horizon runs past the data end: censored
            ],
        }
    )
    labelled, counts = label_rows(rows, LEADS, OUTCOMES, Milestone.CLOSED_WON, 60, END)
    assert labelled[["lead_id", LABEL]].values.tolist() == [["won", 1], ["lost", 0], ["open", 0]]
    assert counts == {
        "candidate_rows": 7,
        "excluded_already_reached": 2,
        "excluded_censored": 1,
        "excluded_before_creation": 1,
    }


def test_label_outside_horizon_is_negative_and_target_sql_counts_later_stages():
    rows = pd.DataFrame({"lead_id": ["won"], AS_OF: [utc("2024-01-02")]})
    short, _ = label_rows(rows, LEADS, OUTCOMES, Milestone.CLOSED_WON, 30, END)
    assert short[LABEL].tolist() == [0]  # won on day 44, horizon 30
    sql, _ = label_rows(rows, LEADS, OUTCOMES, Milestone.SQL, 30, END)
    assert sql[LABEL].tolist() == [1]  # sql on day 19


def test_cutoff_policies():
    offsets = make_cutoffs(LEADS, CutoffPolicy.parse("offsets:1,7"), END)
    assert len(offsets) == 8
    assert offsets[AS_OF].iloc[1] == utc("2024-01-08")
    periodic = make_cutoffs(LEADS, CutoffPolicy.parse("periodic:30"), END)
    assert periodic[AS_OF].max() <= END
    assert (periodic.groupby("lead_id").size() <= 12).all()
    with pytest.raises(ValueError, match="unknown cut-off policy"):
        CutoffPolicy.parse("weekly")


def test_attribute_inference_and_normalisation():
    transform, skipped = infer_attributes(LEADS, competitor_domains=["rival.io"])
    kinds = {s.name: s.kind for s in transform.specs}
    assert kinds == {
        "industry": "categorical",
        "seniority": "seniority",
        "department": "department",
        "email_kind": "email_kind",
        "newsletter": "boolean",
        "notes": "categorical",  # 4 distinct values is too few to call free text
    }
    frame = transform.frame(LEADS)
    assert frame["industry"].isna().tolist() == [False, False, True, False]  # "Select" = missing
    assert frame["email_kind"].tolist() == ["corporate", "free", "education", "competitor"]
    assert frame["newsletter"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert not skipped
    wide = pd.DataFrame({"lead_id": range(1000), "comment": [f"c{i}" for i in range(1000)]})
    _, skipped = infer_attributes(wide)
    assert "free text" in skipped["comment"]
    assert normalize_title("Sr. VP, Marketing") == ("vp", "marketing")
    assert normalize_title("Vice President, Marketing") == ("vp", "marketing")
    assert normalize_title("CHRO") == ("c_level", "hr")
    assert normalize_title("Marketing Intern")[0] == "student"
    assert email_domain_kind("x@gmail.com") == "free"


def test_build_training_set_and_cli_round_trip(tmp_path):
    journeys = Journeys.from_frame(EVENTS, LEADS["lead_id"])
    config = TrainingSetConfig(horizon_days=60, data_end=END, competitor_domains=("rival.io",))
    built = build_training_set(LEADS, journeys, OUTCOMES, config)
    assert built.report.rows == len(built.frame) > 0
    frame = built.frame.set_index(["lead_id", AS_OF])
    day_7 = frame.loc[("won", utc("2024-01-08"))]
    assert day_7["n_pricing_page_view_total"] == 1  # Jan 3: before the cut-off
    assert day_7["n_demo_request_total"] == 0  # Jan 10: after it

    data = tmp_path / "data"
    data.mkdir()
    LEADS.to_parquet(data / "leads.parquet")
    EVENTS.to_parquet(data / "events.parquet")
    OUTCOMES.to_parquet(data / "outcomes.parquet")
    out = tmp_path / "ts.parquet"
    result = CliRunner().invoke(
        app,
        [
            "features",
            "build",
            "--data",
            str(data),
            "--out",
            str(out),
            "--horizon-days",
            "60",
            "--data-end",
            "2024-12-31",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "censored" in result.output
    frame, pipeline = read_training_set(out)
    assert len(frame) == built.report.rows
    assert pipeline.feature_names == built.pipeline.feature_names
    assert out.with_suffix(".report.md").read_text().startswith("# Training set")


def test_build_cli_names_missing_inputs(tmp_path):
    result = CliRunner().invoke(app, ["features", "build", "--data", str(tmp_path)])
    assert result.exit_code != 0
    assert "not a contract data directory" in str(result.exception)


def test_training_set_written_in_chunks_is_the_built_one(tmp_path):
    journeys = Journeys.from_frame(EVENTS, LEADS["lead_id"])
    config = TrainingSetConfig(horizon_days=60, data_end=END, competitor_domains=("rival.io",))
    built = build_training_set(LEADS, journeys, OUTCOMES, config)
    path = tmp_path / "ts.parquet"
    seen = []
    report = write_training_set(
        LEADS,
        journeys,
        OUTCOMES,
        config,
        path,
        leads_per_chunk=3,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(3, 4), (4, 4)]
    assert report == built.report
    frame, pipeline = read_training_set(path)
    assert pipeline == built.pipeline
    # Two row groups, one per chunk; the rows and values as built in one piece.
    assert pq.ParquetFile(path).num_row_groups == 2
    categorical = [c for c in built.frame if isinstance(built.frame[c].dtype, pd.CategoricalDtype)]
    as_values = dict.fromkeys(categorical, object)
    pd.testing.assert_frame_equal(frame.astype(as_values), built.frame.astype(as_values))
    # Nothing staged is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ts.parquet",
        "ts.report.json",
        "ts.report.md",
    ]
