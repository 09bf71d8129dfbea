"""Validation: each problem found with the right count and file line; nothing silently dropped."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features.contract.mapping import ExportMapping, TimestampSettings
from features.contract.tables import locations, read_table
from features.contract.timestamps import parse_timestamps
from features.contract.validate import DataValidationError, load_contract, validate
from features.contract.validation_report import REASON, ValidationReport
from leadscore import app

# Header = line 1, so a row appended to these files is on line 4.
LEADS = (
    "lead_id,created_at,job_title\n"
    "L1,2024-01-01T00:00:00Z,VP Marketing\n"
    "L2,2024-01-02T00:00:00Z,Student\n"
)
EVENTS = (
    "lead_id,occurred_at,event_type\n"
    "L1,2024-01-05T00:00:00Z,pricing_page_view\n"
    "L2,2024-01-06T00:00:00Z,email_open\n"
)
OUTCOMES = (
    "lead_id,milestone,occurred_at,amount\n"
    "L1,mql,2024-01-10T00:00:00Z,\n"
    "L1,sql,2024-01-20T00:00:00Z,\n"
)


def write_tables(
    directory: Path, leads: str = "", events: str = "", outcomes: str = ""
) -> dict[str, Path]:
    """The base tables with extra rows appended; returns the three paths."""
    paths = {}
    for name, base, extra in (
        ("leads", LEADS, leads),
        ("events", EVENTS, events),
        ("outcomes", OUTCOMES, outcomes),
    ):
        paths[name] = directory / f"{name}.csv"
        paths[name].write_text(base + extra, encoding="utf-8")
    return paths


def run(paths: dict[str, Path], mode: str = "quarantine", **kwargs):
    return load_contract(paths["leads"], paths["events"], paths["outcomes"], mode=mode, **kwargs)


def problem(report: ValidationReport, table: str, kind: str):
    found = [p for p in report.problems if p.table == table and p.kind == kind]
    assert len(found) == 1, [(p.table, p.kind.value) for p in report.problems]
    return found[0]


def test_clean_contract_files_need_no_mapping(tmp_path):
    result = run(write_tables(tmp_path), mode="strict")

    assert result.report.ok and not result.report.problems
    assert result.leads["lead_id"].tolist() == ["L1", "L2"]
    assert str(result.events["occurred_at"].dtype) == "datetime64[ns, UTC]"
    assert result.events["event_type"].tolist() == ["pricing_page_view", "email_open"]
    assert list(result.leads.columns) == ["lead_id", "created_at", "job_title"]


ROW_PROBLEMS = [
    # (table, appended rows, problem kind, rows affected)
    ("leads", ",2024-01-03T00:00:00Z,CTO\n", "missing_lead_id", 1),
    ("leads", "L3,,CTO\n", "missing_timestamp", 1),
    ("leads", "L3,yesterday,CTO\n", "unparseable_timestamp", 1),
    ("leads", "L3,1900-01-01T00:00:00Z,CTO\n", "timestamp_out_of_range", 1),
    ("leads", "L1,2024-02-01T00:00:00Z,CEO\n", "duplicate_lead_id", 1),
    ("events", "L9,2024-01-05T00:00:00Z,email_open\n", "unknown_lead", 1),
    ("events", "L1,2023-12-31T23:59:59Z,email_open\n", "before_lead_created", 1),
    ("events", "L1,2024-13-01T00:00:00Z,email_open\nL2,,email_open\n", "unparseable_timestamp", 1),
    ("outcomes", "L2,mql,2023-06-01T00:00:00Z,\n", "before_lead_created", 1),
    ("outcomes", "L1,won big,2024-02-01T00:00:00Z,\n", "unknown_milestone", 1),
    ("outcomes", "L1,opportunity,2024-02-01T00:00:00Z,-10\n", "negative_amount", 1),
    ("outcomes", "L1,opportunity,2024-02-01T00:00:00Z,lots\n", "unparseable_amount", 1),
    (
        "outcomes",
        "L2,closed_won,2024-03-01T00:00:00Z,900\nL2,closed_lost,2024-03-02T00:00:00Z,\n",
        "contradictory_outcomes",
        2,
    ),
]


@pytest.mark.parametrize(("table", "rows", "kind", "count"), ROW_PROBLEMS)
def test_each_row_problem_is_counted_located_and_quarantined(tmp_path, table, rows, kind, count):
    paths = write_tables(tmp_path, **{table: rows})

    result = run(paths)

    found = problem(result.report, table, kind)
    assert found.severity == "error"
    assert found.count == count
    assert found.examples[0].location == f"{paths[table]}:4"
    quarantined = result.quarantined[table]
    assert quarantined[REASON].str.startswith(kind).sum() == count
    assert quarantined["source"].iloc[0] == f"{paths[table]}:4"
    accounting = result.report.tables[table]
    assert accounting.rows_in == accounting.rows_clean + accounting.rows_quarantined
    assert accounting.rows_clean == 2  # the base rows survive


@pytest.mark.parametrize(("table", "rows", "kind", "count"), ROW_PROBLEMS)
def test_strict_mode_raises_naming_the_problem(tmp_path, table, rows, kind, count):
    paths = write_tables(tmp_path, **{table: rows})

    with pytest.raises(DataValidationError, match=f"{table}/{kind}: {count} row") as caught:
        run(paths, mode="strict")

    assert caught.value.report.of("error")
    assert f"{paths[table]}:4" in str(caught.value)


def test_duplicate_lead_keeps_first_row_and_says_where_it_is(tmp_path):
    paths = write_tables(tmp_path, leads="L1,2024-02-01T00:00:00Z,CEO\n")

    result = run(paths)

    example = problem(result.report, "leads", "duplicate_lead_id").examples[0]
    assert example.value == f"first row kept: {paths['leads']}:2"
    assert result.leads.set_index("lead_id").loc["L1", "job_title"] == "VP Marketing"


def test_events_of_a_quarantined_lead_are_told_apart_from_unknown_leads(tmp_path):
    paths = write_tables(
        tmp_path,
        leads="L3,yesterday,CTO\n",
        events="L3,2024-01-05T00:00:00Z,email_open\nL4,2024-01-05T00:00:00Z,email_open\n",
    )

    report = run(paths).report

    assert problem(report, "events", "lead_quarantined").examples[0].location.endswith(":4")
    assert problem(report, "events", "unknown_lead").examples[0].location.endswith(":5")


def test_quarantine_keeps_every_row_and_writes_reasons(tmp_path):
    paths = write_tables(
        tmp_path,
        leads="L1,2024-02-01T00:00:00Z,CEO\nL3,not a date,CTO\n",
        events="L9,2024-01-05T00:00:00Z,email_open\nL3,2024-01-05T00:00:00Z,demo_request\n"
        "L2,2024-01-07T00:00:00Z,Visited Web Page\n",
        outcomes="L1,closed_won,2024-03-01T00:00:00Z,-1\nL2,stage 9,2024-03-01T00:00:00Z,\n",
    )
    quarantine = tmp_path / "quarantine"

    result = run(paths, quarantine_dir=quarantine)

    for name in ("leads", "events", "outcomes"):
        rows_in = len(read_table(paths[name]))
        clean, bad = getattr(result, name), result.quarantined[name]
        assert len(clean) + len(bad) == rows_in
        written = pd.read_csv(quarantine / f"{name}.csv", dtype=str)
        assert len(written) == len(bad) > 0
        assert written[REASON].notna().all()
        accounting = result.report.tables[name]
        assert (accounting.rows_in, accounting.rows_clean) == (rows_in, len(clean))
    assert "rows in = clean + quarantined" in result.report.to_markdown()
    # The unknown event type is kept, as `other`.
    assert result.events["event_type"].tolist()[-1] == "other"


def test_naive_timestamps_are_utc_with_a_notice(tmp_path):
    paths = write_tables(tmp_path, events="L1,2024-01-05 10:00,email_open\n")

    result = run(paths, mode="strict")  # a notice is not an error

    notice = problem(result.report, "events", "naive_timestamp")
    assert notice.severity == "notice" and notice.count == 1
    assert "read as UTC" in notice.message
    assert notice.examples[0].location == f"{paths['events']}:4"
    assert result.events["occurred_at"].iloc[-1] == pd.Timestamp("2024-01-05 10:00", tz="UTC")


def test_naive_timestamps_in_a_configured_zone(tmp_path):
    paths = write_tables(tmp_path, events="L1,2024-07-05 10:00,email_open\n")
    mapping = ExportMapping(timestamps=TimestampSettings(naive_timezone="Europe/Berlin"))

    result = run(paths, mapping=mapping)

    assert result.events["occurred_at"].iloc[-1] == pd.Timestamp("2024-07-05 08:00", tz="UTC")
    # Offsets written in the file win over the configured zone.
    assert result.events["occurred_at"].iloc[0] == pd.Timestamp("2024-01-05", tz="UTC")


def test_unknown_event_types_become_other_and_are_counted_by_value(tmp_path):
    paths = write_tables(
        tmp_path,
        events="L1,2024-01-07T00:00:00Z,Visited Web Page\n"
        "L2,2024-01-07T00:00:00Z,Visited Web Page\n"
        "L2,2024-01-08T00:00:00Z,Pricing Page View\n",
    )

    result = run(paths, mode="strict")

    notice = problem(result.report, "events", "unknown_event_type")
    assert notice.count == 2
    assert "'Visited Web Page' (2)" in notice.message
    assert result.events["event_type"].tolist()[2:] == ["other", "other", "pricing_page_view"]


def test_funnel_stage_dated_before_an_earlier_one_is_a_notice(tmp_path):
    paths = write_tables(
        tmp_path, outcomes="L2,sql,2024-01-07T00:00:00Z,\nL2,mql,2024-01-08T00:00:00Z,\n"
    )

    result = run(paths, mode="strict")

    notice = problem(result.report, "outcomes", "funnel_out_of_order")
    assert notice.count == 1
    assert notice.examples[0].location == f"{paths['outcomes']}:4"
    assert len(result.outcomes) == 4


def test_missing_columns_are_fatal_and_explained(tmp_path):
    paths = write_tables(tmp_path)
    paths["events"].write_text("Lead ID,occurred_at,event_type\nL1,2024-01-05T00:00:00Z,x\n")

    with pytest.raises(DataValidationError) as caught:
        run(paths)  # even quarantine mode cannot go on without the column

    message = str(caught.value)
    assert "events/missing_columns" in message
    assert "Expected: ['lead_id', 'occurred_at', 'event_type']" in message
    assert "found: ['Lead ID', 'occurred_at', 'event_type']" in message
    assert '{"Lead ID": lead_id}' in message and "--mapping" in message


def test_crlf_and_byte_order_mark(tmp_path):
    paths = write_tables(tmp_path)
    crlf = ("\ufeff" + EVENTS + "L9,2024-01-05T00:00:00Z,email_open\n").replace("\n", "\r\n")
    paths["events"].write_bytes(crlf.encode("utf-8"))

    result = run(paths)

    assert len(result.events) == 2  # the BOM did not break the lead_id column name
    assert problem(result.report, "events", "unknown_lead").examples[0].location == (
        f"{paths['events']}:4"
    )


def test_multiline_values_and_blank_lines_keep_line_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b\n\n1,"two\nlines"\n2,x\r\n\r\n3,y\n', encoding="utf-8")

    frame = read_table(path)

    assert frame["b"].tolist() == ["two\nlines", "x", "y"]
    assert locations(frame).tolist() == [f"{path}:3", f"{path}:5", f"{path}:7"]


def test_ids_stay_text_and_parquet_rows_are_located(tmp_path):
    leads = pd.DataFrame({"lead_id": ["007", "8"], "created_at": ["2024-01-01T00:00:00Z"] * 2})
    events = pd.DataFrame(
        {"lead_id": [7, 8], "occurred_at": pd.to_datetime(["2024-01-02"] * 2, utc=True)}
    )
    events["event_type"] = "email_open"
    leads.to_csv(tmp_path / "leads.csv", index=False)
    events.to_parquet(tmp_path / "events.parquet")
    (tmp_path / "outcomes.csv").write_text("lead_id,milestone,occurred_at\n")

    result = load_contract(
        tmp_path / "leads.csv",
        tmp_path / "events.parquet",
        tmp_path / "outcomes.csv",
        mode="quarantine",
    )

    assert result.leads["lead_id"].tolist() == ["007", "8"]  # not 7
    assert problem(result.report, "events", "unknown_lead").examples[0].location == (
        f"{tmp_path / 'events.parquet'}#0"
    )
    assert result.events["lead_id"].tolist() == ["8"]


def test_frames_without_source_are_located_by_row(tmp_path):
    leads = pd.DataFrame({"lead_id": ["a"], "created_at": [pd.Timestamp("2024-01-01", tz="UTC")]})
    events = pd.DataFrame(
        {
            "lead_id": ["a", "b"],
            "occurred_at": ["2024-01-02T00:00:00Z"] * 2,
            "event_type": ["x"] * 2,
        }
    )
    outcomes = pd.DataFrame(columns=["lead_id", "milestone", "occurred_at"])

    result = validate(leads, events, outcomes, mode="quarantine")

    assert problem(result.report, "events", "unknown_lead").examples[0].location == "row 1"


def test_cli_strict_fails_with_the_report(tmp_path):
    paths = write_tables(tmp_path, events="L9,2024-01-05T00:00:00Z,email_open\n")
    args = ["data", "validate", "--leads", str(paths["leads"]), "--events", str(paths["events"])]
    args += ["--outcomes", str(paths["outcomes"]), "--report", str(tmp_path / "r.md")]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 1
    assert "FAILED (strict)" in result.output and "events/unknown_lead: 1 row" in result.output
    assert "## Errors" in (tmp_path / "r.md").read_text()


def test_cli_quarantine_writes_clean_tables_and_quarantine(tmp_path):
    paths = write_tables(tmp_path, events="L9,2024-01-05T00:00:00Z,email_open\n")
    out, quarantine = tmp_path / "clean", tmp_path / "q"
    args = ["data", "validate", "--leads", str(paths["leads"]), "--events", str(paths["events"])]
    args += ["--outcomes", str(paths["outcomes"]), "--mode", "quarantine"]
    args += ["--quarantine-dir", str(quarantine), "--out", str(out)]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.output
    assert "3 rows in = 2 clean + 1 quarantined" in result.output
    assert len(pd.read_parquet(out / "events.parquet")) == 2
    assert "unknown_lead" in (quarantine / "events.csv").read_text()


def test_cli_names_an_unreadable_file(tmp_path):
    paths = write_tables(tmp_path)
    args = ["data", "validate", "--leads", str(tmp_path / "nope.csv")]
    args += ["--events", str(paths["events"]), "--outcomes", str(paths["outcomes"])]

    result = CliRunner().invoke(app, args)

    assert result.exit_code == 2
    assert "error: " in result.output and "nope.csv: no such file" in result.output


@pytest.mark.parametrize(
    ("text", "utc", "naive"),
    [
        ("2024-01-05T10:00:00.5Z", "2024-01-05 10:00:00.5", False),
        ("2024-01-05T10:00:00+02:00", "2024-01-05 08:00", False),
        ("2024-01-05T10:00:00-0500", "2024-01-05 15:00", False),
        ("2024-01-05 10:00:00 UTC", "2024-01-05 10:00", False),  # BigQuery's export
        ("2024-01-05 10:00", "2024-01-05 10:00", True),
        ("2024-01-15", "2024-01-15", True),  # "-15" is a day, not an offset
    ],
)
def test_timestamp_offsets_are_recognised(text, utc, naive):
    parsed = parse_timestamps(pd.Series([text], dtype="str"), TimestampSettings())

    assert parsed.utc.iloc[0] == pd.Timestamp(utc, tz="UTC")
    assert parsed.naive[0] == naive
    assert not parsed.unparseable[0]
