"""A marketplace's real tables, as they come: an MQL table with ISO dates, a closed-deals table
with `m/d/Y H:M` won dates and no milestone column, no events. A mapping (a constant milestone,
a timestamp format per table) takes them through `data validate` to `train --data` and `score`
with no hand edits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from typer.testing import CliRunner

from features.contract.validate import load_contract
from leadscore import app
from tests.serving_fixtures import make_model
from tests.test_validate import problem

# The API-key settings of the environment must not leak into `leadscore score`.
NO_KEYS_ENV = {"LEADSCORE_API_KEYS": "", "LEADSCORE_ADMIN_KEYS": "", "LEADSCORE_MODE": ""}
START = pd.Timestamp("2023-01-01", tz="UTC")
ORIGINS = {"paid_search": 0.35, "organic_search": 0.2, "social": 0.08, "email": 0.04}
MAPPING = {
    "leads": {
        "columns": {
            "mql_id": "lead_id",
            "first_contact_date": "created_at",
            "landing_page_id": "landing_page",
        }
    },
    "outcomes": {
        "columns": {"mql_id": "lead_id", "won_date": "occurred_at"},
        "constants": {"milestone": "closed_won"},
        "timestamps": {"format": "%m/%d/%Y %H:%M"},
    },
}


def marketplace(directory: Path, n: int = 3000, seed: int = 3, *, early_days: bool = False):
    """mqls.csv, deals.csv and mapping.yaml; deals.csv's line 2 is a deal won a day before its
    lead was created. `early_days`: every won date falls on day 1-12 of its month."""
    rng = np.random.default_rng(seed)
    created = START + pd.to_timedelta(np.sort(rng.uniform(0, 700, n)), unit="D")
    origin = rng.choice(list(ORIGINS), n)
    # Conversion depends on the origin and on the weekday of first contact (timing).
    weekday_lift = np.where(created.day_of_week < 5, 1.0, 0.4)
    won = rng.random(n) < np.array([ORIGINS[o] for o in origin]) * weekday_lift
    ids = [f"m{i:05d}" for i in range(n)]
    pd.DataFrame(
        {
            "mql_id": ids,
            "first_contact_date": created.strftime("%Y-%m-%d"),
            "landing_page_id": rng.choice(["lp1", "lp2", "lp3"], n),
            "origin": origin,
        }
    ).to_csv(directory / "mqls.csv", index=False)
    late_lead = np.flatnonzero(~won)[-1]  # a lead without a deal, created late in the data
    deal_ids = [ids[late_lead], *np.asarray(ids)[won]]
    won_at = created[won] + pd.to_timedelta(rng.uniform(5, 60, won.sum()), unit="D")
    won_at = won_at.insert(0, created[late_lead] - pd.Timedelta(days=1))
    if early_days:
        won_at = won_at - pd.to_timedelta(np.maximum(won_at.day - 12, 0), unit="D")
    deals = pd.DataFrame({"mql_id": deal_ids, "won_date": won_at.strftime("%m/%d/%Y %H:%M")})
    deals.to_csv(directory / "deals.csv", index=False)
    (directory / "mapping.yaml").write_text(yaml.safe_dump(MAPPING))
    return ids[late_lead]


def validate_args(directory: Path) -> list[str]:
    return [
        "data",
        "validate",
        "--leads",
        str(directory / "mqls.csv"),
        "--outcomes",
        str(directory / "deals.csv"),
        "--mapping",
        str(directory / "mapping.yaml"),
        "--mode",
        "quarantine",
        "--quarantine-dir",
        str(directory / "quarantine"),
    ]


def test_mql_and_deals_tables_validate_and_train_without_events(tmp_path):
    planted_lead = marketplace(tmp_path)
    clean, report = tmp_path / "clean", tmp_path / "report.md"
    runner = CliRunner()
    result = runner.invoke(
        app, [*validate_args(tmp_path), "--out", str(clean), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    notice = "no events: the model learns from attributes and timing only; behaviour features"
    assert notice in result.output and notice in report.read_text()
    # The deal won before its lead was created is set aside with its line in deals.csv.
    assert "outcomes/before_lead_created: 1 row" in result.output
    quarantined = pd.read_csv(tmp_path / "quarantine" / "outcomes.csv")
    assert quarantined[["lead_id", "source"]].values.tolist() == [
        [planted_lead, f"{tmp_path / 'deals.csv'}:2"]
    ]
    assert quarantined["reason"].str.startswith("before_lead_created").all()
    assert set(pd.read_parquet(clean / "outcomes.parquet")["milestone"]) == {"closed_won"}
    assert "ambiguous" not in result.output  # won dates on days 13-31 tell the order

    model = tmp_path / "model"
    args = ["train", "--data", str(clean), "--out", str(tmp_path / "train")]
    result = runner.invoke(app, [*args, "--export", str(model), "--no-mlflow"])
    assert result.exit_code == 0, result.output
    assert notice in result.output
    assert notice in (tmp_path / "train" / "report.md").read_text()
    # The demo rules' fit rules need columns this business does not have: listed, not fatal.
    for rule in ("seniority", "department", "industry", "company_size", "country"):
        assert f"points rule fit.{rule} not applied" in result.output
    assert "test ROC AUC" in result.output

    scores = tmp_path / "scores.csv"
    args = ["score", "--leads", str(clean / "leads.parquet"), "--model", str(model)]
    args += ["--events", str(clean / "events.parquet"), "--out", str(scores)]
    result = runner.invoke(app, args, env=NO_KEYS_ENV)
    assert result.exit_code == 0, result.output
    assert "pass --as-of <date> to score them as of when they were fresh" in result.output


def test_day_month_order_that_no_date_tells_is_reported(tmp_path):
    marketplace(tmp_path, n=400, early_days=True)
    result = CliRunner().invoke(app, validate_args(tmp_path))
    assert result.exit_code == 0, result.output
    assert "outcomes/ambiguous_day_month" in result.output
    assert "set the format for outcomes.occurred_at" in result.output

    contract = load_contract(
        tmp_path / "mqls.csv", None, tmp_path / "deals.csv", tmp_path / "mapping.yaml", "quarantine"
    )
    found = problem(contract.report, "outcomes", "ambiguous_day_month")
    assert found.severity == "notice"
    assert "could be" in found.message and "read as" in found.message
    # ISO dates never are.
    assert not [p for p in contract.report.problems if p.table == "leads" and "ambiguous" in p.kind]


def test_constant_cannot_overwrite_a_column_of_the_file(tmp_path):
    marketplace(tmp_path, n=50)
    mapping = MAPPING | {
        "outcomes": MAPPING["outcomes"]
        | {"constants": {"milestone": "closed_won", "occurred_at": "x"}}
    }
    (tmp_path / "mapping.yaml").write_text(yaml.safe_dump(mapping))
    result = CliRunner().invoke(app, validate_args(tmp_path))
    assert result.exit_code == 1
    assert "already has them" in result.output


def test_score_hints_at_as_of_when_every_lead_is_old(tmp_path):
    model_dir = make_model(seed=4, n_leads=600, rounds=5).save(tmp_path / "model")
    leads = tmp_path / "leads.csv"
    leads.write_text("lead_id,created_at,job_title\nL1,2019-05-01T00:00:00Z,CEO\n")
    events = tmp_path / "events.csv"
    events.write_text("lead_id,occurred_at,event_type\nL1,2019-05-02T00:00:00Z,demo_request\n")
    args = ["score", "--leads", str(leads), "--events", str(events), "--model", str(model_dir)]
    args += ["--out", str(tmp_path / "scores.csv")]
    hint = "pass --as-of <date> to score them as of when they were fresh"

    result = CliRunner().invoke(app, args, env=NO_KEYS_ENV)
    assert result.exit_code == 0, result.output
    assert "hint: the newest lead was created" in result.output and hint in result.output

    result = CliRunner().invoke(app, [*args, "--as-of", "2019-06-01"], env=NO_KEYS_ENV)
    assert result.exit_code == 0, result.output
    assert hint not in result.output
