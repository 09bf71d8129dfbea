"""`leadscore data inspect` then training with the file it wrote, no hand edits, for exports
as they come: `;` + Latin-1, a UTF-8 byte-order mark, tabs with no id column and won/lost, a
planted quiet leak, and a marketplace's leads table with an `m/d/Y` deals table and no events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from leadscore import app
from tests.test_audit_quiet_leak import _export as quiet_leak_export
from tests.test_flat import _export as flat_export
from tests.test_flat_exports import _rewrite
from tests.test_mapping_real_tables import marketplace

SHAPES = {
    "semicolon-latin1": dict(sep=";", encoding="latin-1"),
    "utf8-bom": dict(encoding="utf-8-sig"),
    "tabs-no-id-won-lost": dict(sep="\t", drop=("Lead ID",), target={"Yes": "Won", "No": "Lost"}),
}


def _verdicts(report_dir: Path) -> dict[str, str]:
    report = json.loads((report_dir / "report.json").read_text())
    return {c["column"]: c["verdict"] for c in report["audit"]["columns"]}


def _run(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("shape", SHAPES)
def test_a_crm_export_trains_from_what_inspect_wrote(tmp_path: Path, shape: str):
    options = SHAPES[shape]
    path = _rewrite(flat_export(tmp_path), f"{shape}.csv", **options)
    config = tmp_path / "flat.yaml"
    shown = _run("data", "inspect", path, "--out", config)
    settings = yaml.safe_load(config.read_text())
    assert settings["target_column"] == "Converted"
    assert settings["csv_delimiter"] == options.get("sep", ",")
    assert f"leadscore train --flat {path} --config {config}" in config.read_text()
    if shape == "tabs-no-id-won-lost":
        assert "id_column" not in settings and settings["positive_value"] == "won"
        assert "rows are numbered" in shown
    else:
        assert settings["id_column"] == "Lead ID"
    assert "Lead Status may leak" in shown  # named like a funnel status

    out = tmp_path / "report"
    trained = _run("train", "--flat", path, "--config", config, "--out", out, "--no-mlflow")
    verdicts = _verdicts(out)
    assert verdicts["Lead Status"] == "flagged", trained
    assert {"Created_weekday", "Created_month", "Created_hour"} <= set(verdicts)


def test_a_quiet_leak_found_by_the_audit_after_inspect(tmp_path: Path):
    path = quiet_leak_export(tmp_path, leak=True)
    config = tmp_path / "flat.yaml"
    _run("data", "inspect", path, "--out", config)
    out = tmp_path / "report"
    trained = _run("train", "--flat", path, "--config", config, "--out", out, "--no-mlflow")
    assert "duration_min" in trained and "suspect" in trained
    assert _verdicts(out)["duration_min"].startswith("suspect")


def test_a_leads_table_and_its_deals_table_train_from_the_written_mapping(tmp_path: Path):
    before_created = marketplace(tmp_path)
    mapping, clean = tmp_path / "inspected.yaml", tmp_path / "clean"
    mqls, deals = tmp_path / "mqls.csv", tmp_path / "deals.csv"
    shown = _run("data", "inspect", mqls, deals, "--out", mapping, "--data-out", clean)
    written = yaml.safe_load(mapping.read_text())
    assert written["leads"]["columns"] == {"mql_id": "lead_id", "first_contact_date": "created_at"}
    assert written["outcomes"] == {
        "columns": {"mql_id": "lead_id", "won_date": "occurred_at"},
        "timestamps": {"format": "%m/%d/%Y %H:%M"},
        "constants": {"milestone": "closed_won"},
    }
    assert "every row of deals.csv is a won deal" in shown

    validate = ["data", "validate", "--leads", mqls, "--outcomes", deals]
    quarantine = tmp_path / "clean-quarantine"
    assert f"--quarantine-dir {quarantine} --out {clean}" in mapping.read_text()
    validated = _run(
        *validate,
        "--mapping",
        mapping,
        "--mode",
        "quarantine",
        "--quarantine-dir",
        quarantine,
        "--out",
        clean,
    )
    assert "no events" in validated
    quarantined = (quarantine / "outcomes.csv").read_text()
    assert before_created in quarantined
    trained = _run("train", "--data", clean, "--out", tmp_path / "report", "--no-mlflow")
    assert "ROC AUC" in trained
