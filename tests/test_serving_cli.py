"""`leadscore serve` refuses unsafe settings before starting; `leadscore score` says what is
missing."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from leadscore import app
from tests.serving_fixtures import make_model

NO_KEYS = {"LEADSCORE_API_KEYS": "", "LEADSCORE_ADMIN_KEYS": "", "LEADSCORE_MODE": ""}


def test_serve_refuses_production_without_a_key():
    env = NO_KEYS | {"LEADSCORE_MODE": "production"}
    result = CliRunner().invoke(app, ["serve", "--model", "models/none"], env=env)
    assert result.exit_code == 2
    assert "production mode needs an API key" in result.output


def test_serve_refuses_keyless_development_beyond_loopback():
    result = CliRunner().invoke(
        app, ["serve", "--mode", "development", "--host", "0.0.0.0"], env=NO_KEYS
    )
    assert result.exit_code == 2
    assert "loopback only" in result.output


def test_score_needs_events_for_a_behaviour_model(tmp_path):
    model_dir = make_model(seed=4, n_leads=600, rounds=5).save(tmp_path / "model")
    leads = tmp_path / "leads.csv"
    leads.write_text("lead_id,created_at,job_title\nL1,2025-05-01T00:00:00Z,CEO\n")
    result = CliRunner().invoke(
        app, ["score", "--leads", str(leads), "--model", str(model_dir)], env=NO_KEYS
    )
    assert result.exit_code == 2
    assert "pass --events" in result.output


def test_score_reads_csv_and_writes_csv_with_reasons(tmp_path):
    model_dir = make_model(seed=4, n_leads=600, rounds=5).save(tmp_path / "model")
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "lead_id,created_at,job_title,employee_count\n"
        "L1,2025-05-01T00:00:00Z,CEO,120\nL2,2025-05-02 08:00:00,Student,\n"
    )
    events = tmp_path / "events.csv"
    events.write_text(
        "lead_id,occurred_at,event_type\n"
        "L1,2025-05-20T10:00:00Z,demo_request\nL2,2025-05-21T10:00:00Z,careers_page_view\n"
    )
    out = tmp_path / "scores.csv"
    args = ["score", "--leads", leads, "--events", events, "--model", model_dir, "--out", out]
    result = CliRunner().invoke(
        app, [*map(str, args), "--as-of", "2025-06-01", "--reasons"], env=NO_KEYS
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert list(scores.columns) == [
        *("lead_id", "as_of", "probability", "score", "tier"),
        *("fit", "engagement", "grade", "reasons"),
    ]
    assert scores["lead_id"].tolist() == ["L1", "L2"]
    for reasons in scores["reasons"]:
        assert all(r["text"] and r["direction"] for r in json.loads(reasons))


def test_score_names_the_rows_of_a_repeated_or_missing_id(tmp_path):
    model_dir = make_model(seed=4, n_leads=600, rounds=5).save(tmp_path / "model")
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "lead_id,created_at,job_title\nL1,2025-05-01T00:00:00Z,CEO\nL1,2025-05-02T00:00:00Z,CTO\n"
    )
    args = ["score", "--leads", str(leads), "--model", str(model_dir)]
    result = CliRunner().invoke(app, args, env=NO_KEYS)
    assert result.exit_code == 2
    assert "2 rows have an empty or repeated 'lead_id'" in result.output
    assert "leads.csv:2" in result.output and "leads.csv:3" in result.output

    result = CliRunner().invoke(app, [*args, "--id-column", "Prospect ID"], env=NO_KEYS)
    assert result.exit_code == 2 and "--id-column" in result.output


def test_score_warns_of_model_columns_the_file_lacks_and_strict_refuses(tmp_path):
    model_dir = make_model(seed=4, n_leads=600, rounds=5).save(tmp_path / "model")
    leads = tmp_path / "leads.csv"
    # No email or industry column, and employee_count empty in every row.
    leads.write_text(
        "lead_id,created_at,job_title,employee_count\n"
        "L1,2025-05-01T00:00:00Z,CEO,\nL2,2025-05-02T00:00:00Z,Student,\n"
    )
    events = tmp_path / "events.csv"
    events.write_text("lead_id,occurred_at,event_type\nL1,2025-05-20T10:00:00Z,demo_request\n")
    out = tmp_path / "scores.csv"
    args = ["score", "--leads", leads, "--events", events, "--model", model_dir, "--out", out]
    result = CliRunner().invoke(app, [*map(str, args), "--as-of", "2025-06-01"], env=NO_KEYS)
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert "3 column(s) the model uses" in warning
    assert all(c in warning for c in ("'email'", "'industry'", "'employee_count'"))
    assert "all 2 leads are scored as if those values were unknown" in warning
    assert len(pd.read_csv(out)) == 2

    out.unlink()
    result = CliRunner().invoke(
        app, [*map(str, args), "--as-of", "2025-06-01", "--strict"], env=NO_KEYS
    )
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "drop --strict" in result.stderr
    assert not out.exists()
