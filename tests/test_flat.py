"""Flat CRM exports: column typing, placeholders, rare categories, and training from one table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from features.attributes import OTHER_CATEGORY, infer_attributes
from features.contract.schema import AS_OF, LEAD_ID
from leadscore import app
from runtime.leads import LeadIn
from runtime.model import ScoringModel
from serving.app import create_app
from serving.settings import ServiceSettings
from training.flat.cli import flat_config
from training.flat.table import FlatTableConfig, FlatTableError, read_flat_table
from training.flat.train import FlatConfig, train_flat


def test_export_columns_are_typed_placeholders_missing_rare_grouped() -> None:
    table = pd.DataFrame(
        {
            "Visits": ["3", "1,200", "", "7"] * 10,
            "Do Not Email": ["Yes", "No", "No", "Select"] * 10,
            "Source": ["Google"] * 20 + ["Direct"] * 18 + ["Bing", "Select"],
            "Signed Up": ["2024-03-01", "2024-03-02 10:00", "3/1/24", "2024-01-05"] * 10,
            "Title": [f"VP Sales {i}" for i in range(40)],
        }
    )
    transform, skipped = infer_attributes(table, kinds={"Title": "seniority"}, min_category_rows=5)
    kinds = {s.name: s.kind for s in transform.specs}
    assert kinds == {
        "Visits": "numeric",
        "Do Not Email": "boolean",
        "Source": "categorical",
        "Title: seniority": "seniority",
        "Signed Up_weekday": "weekday",
        "Signed Up_month": "month",
        "Signed Up_hour": "hour",  # one value has a time of day
    }
    assert "Signed Up" not in skipped
    features = transform.frame(table)
    assert features["Signed Up_weekday"].iloc[0] == "Fri"  # 2024-03-01
    assert features["Signed Up_month"].iloc[2] == 3.0  # 3/1/24 reads month first
    assert features["Signed Up_hour"].iloc[1] == 10.0
    # The service's one-lead path derives the same parts from the raw text.
    one = transform.one({"Signed Up": "2024-03-02 10:00"})
    assert (one["Signed Up_weekday"], one["Signed Up_hour"]) == ("Sat", 10.0)
    assert features["Visits"].iloc[1] == 1200.0
    assert features["Do Not Email"].isna().sum() == 10  # "Select" is not filled, not a value
    assert features["Source"].iloc[38] == OTHER_CATEGORY  # one Bing: grouped
    assert features["Source"].iloc[39] is None
    assert features["Title: seniority"].iloc[0] == "vp"
    # The service's one-lead path groups a value never seen in training the same way.
    assert transform.one({"Source": "Yahoo"})["Source"] == OTHER_CATEGORY
    assert transform.one({"Source": "Direct"})["Source"] == "Direct"


def _export(tmp_path: Path, n: int = 1_500, seed: int = 3) -> Path:
    """A CRM export: an honest strong column, a leaky status, placeholders, free text, dates."""
    rng = np.random.default_rng(seed)
    minutes = rng.gamma(2.0, 4.0, n)
    source = rng.choice(["Google", "Direct", "Referral", "Select"], n, p=[0.4, 0.3, 0.28, 0.02])
    logit = -2.5 + 0.3 * minutes + np.where(source == "Referral", 1.0, 0.0)
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    status = np.where(converted, "Closed - Won", rng.choice(["Open", "Closed - Lost"], n))
    created = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.uniform(0, 720, n)), unit="D"
    )
    table = pd.DataFrame(
        {
            "Lead ID": [f"L{i:05d}" for i in range(n)],
            "Converted": np.where(converted, "Yes", "No"),
            "Minutes on Site": minutes.round(1),
            "Lead Source": source,
            "Do Not Email": rng.choice(["Yes", "No"], n),
            "Lead Status": status,
            "Notes": [f"called on day {i}" for i in range(n)],
            "Created": created.strftime("%Y-%m-%d %H:%M"),
        }
    )
    path = tmp_path / "export.csv"
    table.to_csv(path, index=False)
    return path


def _config(**overrides) -> FlatConfig:
    return FlatConfig(
        id_column="Lead ID", target_column="Converted", positive_value="yes", folds=3, **overrides
    )


def test_flat_export_trains_by_folds_without_the_leaky_status(tmp_path: Path) -> None:
    path = _export(tmp_path)
    result = train_flat(path, _config(exclude=("Created",)))
    report, model = result.report, result.model
    assert "Lead Status" in report.audit.left_out
    assert "Lead Status" not in model.feature_names
    assert set(model.feature_names) == {"Minutes on Site", "Lead Source", "Do Not Email"}
    used_as = {c.column: c.used_as for c in report.columns}
    assert used_as["Notes"] == "left out" and used_as["Do Not Email"] == "boolean"
    assert used_as["Converted"] == "target"
    metrics = report.cross_validation.metrics
    assert 0.75 < metrics.roc_auc < 0.97
    # The leaky model looks better: the trade-off the report must show.
    assert report.audit.metrics_all_columns["roc_auc"] > metrics.roc_auc + 0.03
    assert report.audit.metrics_as_trained["roc_auc"] == pytest.approx(metrics.roc_auc)
    text = report.markdown()
    assert '--keep-column "Lead Status"' in text
    assert "## Trade-off" in text and "| `Notes` | left out |" in text
    # No slice was held out: the figures show out-of-fold scores and say so.
    assert result.figures["roc"].axes[0].get_title() == "ROC, out of fold"
    assert sum(t.rows for t in report.tiers) == report.rows

    # The service's one-lead path answers as batch scoring does, from the raw export row.
    leads = read_flat_table(path, _config(exclude=("Created",))).leads
    batch = model.predict_rows(leads, None, result.frame[[LEAD_ID, AS_OF]])
    row = {k: v for k, v in leads.iloc[7].to_dict().items() if pd.notna(v)}
    lead = LeadIn(attributes={k: v for k, v in row.items() if k != LEAD_ID})
    one = model.predict_leads([lead], [datetime.now(UTC)], None).probability[0]
    assert one == pytest.approx(batch.probability[7], abs=1e-12)


@pytest.mark.parametrize(
    "dates", [{"exclude": ("Created",)}, {"date_column": "Created"}], ids=["no-date", "date"]
)
def test_the_service_and_leadscore_score_take_the_raw_export(tmp_path: Path, dates) -> None:
    path = _export(tmp_path, n=1_000 if "exclude" in dates else 1_500)
    model = train_flat(path, _config(**dates)).model
    # With a date column, its weekday/month/hour come from the raw text in every path.
    assert ("Created_weekday" in model.feature_names) == ("date_column" in dates)
    model_dir = model.save(tmp_path / "model")
    out = tmp_path / "scores.csv"
    # No --id-column: the model remembers the export's; no created_at needed either.
    args = ["score", "--leads", path, "--model", model_dir, "--out", out, "--reasons"]
    result = CliRunner().invoke(app, list(map(str, args)))
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    export = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert scores[LEAD_ID].tolist() == export["Lead ID"].tolist()
    assert any("Minutes on Site" in r for r in scores["reasons"])  # the export's own words

    settings = ServiceSettings(mode="development", model_uri=str(model_dir))
    with TestClient(create_app(settings)) as client:
        for i in (0, 11, 999):
            row = export.iloc[i].to_dict()
            lead = {"lead_id": row.pop("Lead ID"), "attributes": row}  # as a CRM sends it
            answer = client.post("/v1/score", json=lead)
            assert answer.status_code == 200, answer.text
            assert answer.json()["probability"] == pytest.approx(
                scores["probability"].iloc[i], abs=1e-12
            )
            assert answer.json()["tier"] == scores["tier"].iloc[i]


def test_a_named_model_is_registered_and_listed_under_its_name(tmp_path: Path) -> None:
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "LEADSCORE_MODEL_NAME": None,
    }
    args = ["train", "--flat", str(_export(tmp_path, n=800)), "--id-column", "Lead ID"]
    args += ["--target-column", "Converted", "--positive-value", "yes", "--exclude", "Created"]
    args += ["--name", "crm-conversion", "--out", str(tmp_path / "report")]
    args += ["--export", str(tmp_path / "model")]
    runner = CliRunner()
    trained = runner.invoke(app, args, env=env)
    assert trained.exit_code == 0, trained.output
    assert "registered crm-conversion version 1" in trained.output
    assert ScoringModel.load(tmp_path / "model").spec.metadata.name == "crm-conversion"
    listing = runner.invoke(app, ["models", "list", "--name", "crm-conversion"], env=env)
    assert listing.exit_code == 0 and "@challenger" in listing.output
    # The journey model's default name is untouched.
    assert (
        "no versions of lead-conversion" in runner.invoke(app, ["models", "list"], env=env).output
    )


def test_keep_column_puts_a_flagged_column_back(tmp_path: Path) -> None:
    result = train_flat(
        _export(tmp_path), _config(exclude=("Created",), keep_columns=("Lead Status",))
    )
    assert "Lead Status" in result.model.feature_names
    assert result.report.audit.metrics_all_columns is None  # nothing left out, nothing to compare
    assert "kept by `--keep-column`" in result.report.markdown()


def test_flat_export_with_dates_uses_the_time_split(tmp_path: Path) -> None:
    result = train_flat(_export(tmp_path, n=2_500), _config(date_column="Created"))
    report = result.report
    assert report.evaluation == "time split" and report.cross_validation is None
    split = report.time_split.split
    assert split.train.last_cutoff < split.calibration.first_cutoff
    assert result.model.spec.metadata.target == "Converted = yes"
    # The trainer itself audited: the status was left out and the trade-off measured.
    assert "Lead Status" in report.time_split.audit.left_out
    assert report.audit.metrics_as_trained["roc_auc"] == report.time_split.test.roc_auc
    assert report.audit.metrics_all_columns["roc_auc"] > report.time_split.test.roc_auc
    assert "Created" not in result.model.feature_names
    # Leads younger than the horizon at the export have no final flag yet: left out.
    assert report.too_recent > 0 and report.rows == 2_500 - report.too_recent


def test_export_errors_name_the_fix(tmp_path: Path) -> None:
    path = _export(tmp_path, n=200)
    with pytest.raises(FlatTableError, match="no column"):
        read_flat_table(path, FlatTableConfig(id_column="Id", target_column="Converted"))
    with pytest.raises(FlatTableError, match=r"not a known pair.*--positive-value"):
        read_flat_table(path, FlatTableConfig(id_column="Lead ID", target_column="Lead Source"))
    with pytest.raises(FlatTableError, match="repeated"):
        read_flat_table(
            path,
            FlatTableConfig(
                id_column="Do Not Email", target_column="Converted", positive_value="Yes"
            ),
        )


def test_config_file_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "flat.yaml"
    path.write_text(
        "id_column: Lead ID\n"
        "target_column: Status\n"
        "keep_columns: [Lead Quality]\n"
        "missing_values: ['', select]\n"
        "train:\n  booster:\n    num_leaves: 5\n"
    )
    config = flat_config(
        path, {"target_column": "Converted", "exclude": None}, "Not given, ?", force=True
    )
    assert config.id_column == "Lead ID" and config.target_column == "Converted"
    assert config.keep_columns == ("Lead Quality",)
    assert config.missing_values == ("", "select", "Not given", "?")
    assert config.train.booster.num_leaves == 5 and config.train.force
    with pytest.raises(typer.BadParameter, match="--target-column"):
        flat_config(None, {"id_column": "Lead ID"}, None)
