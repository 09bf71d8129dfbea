"""Mapping a CRM export onto the contract: renames, ordered event rules, milestones, time zones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from features.contract.mapping import EventRule, EventsMapping, ExportMapping, MappingError
from features.contract.validate import DataValidationError, load_contract

EXAMPLE = Path(__file__).parents[1] / "features" / "contract" / "examples" / "mapping_example.yaml"


def activities(*rows: tuple[str, str, str | None]) -> pd.DataFrame:
    """An events export in the example's vocabulary: (activity type, URL, asset name)."""
    return pd.DataFrame(
        {
            "Prospect ID": [f"P{i}" for i in range(len(rows))],
            "Activity Date": ["03/01/2024 02:05 PM"] * len(rows),
            "Activity Type": [r[0] for r in rows],
            "Web Page URL": [r[1] for r in rows],
            "Asset Name": [r[2] for r in rows],
            "Campaign Name": [None] * len(rows),
        }
    )


def test_example_turns_a_pricing_page_visit_into_pricing_page_view():
    mapping = ExportMapping.from_yaml(EXAMPLE)
    export = activities(
        ("Visited Web Page", "https://acme.com/pricing?plan=pro", None),
        ("Visited Web Page", "https://acme.com/about", None),
        ("Filled Out Form", None, "Request a Demo"),
        ("Filled Out Form", None, "Whitepaper gate"),
        ("Sent Sales Email", None, None),
    )

    mapped = mapping.events.apply(export)

    assert mapped["event_type"].tolist() == [
        "pricing_page_view",
        "other_page_view",
        "demo_request",
        "form_fill",
        "Sent Sales Email",  # left for validation to count as `other`
    ]
    assert {"lead_id", "occurred_at", "page"} <= set(mapped.columns)


def test_first_matching_rule_wins():
    rules = EventsMapping(
        rules=[
            EventRule(
                value="Visit",
                where=[{"column": "url", "contains": "/docs"}],
                event_type="docs_page_view",
            ),
            EventRule(value="Visit", event_type="other_page_view"),
            EventRule(
                value="Visit",
                where=[{"column": "url", "contains": "/docs"}],
                event_type="blog_page_view",
            ),
        ]
    )
    export = pd.DataFrame({"event_type": ["Visit", "Visit"], "url": ["/docs/api", "/"]})

    assert rules.apply(export)["event_type"].tolist() == ["docs_page_view", "other_page_view"]


def test_condition_tests_ignore_case_unless_asked():
    export = pd.DataFrame({"event_type": ["Visit"] * 2, "url": ["/PRICING", "/pricing"]})

    def mapped(case_sensitive: bool) -> list[str]:
        condition = {"column": "url", "equals": "/pricing", "case_sensitive": case_sensitive}
        rule = EventRule(value="Visit", where=[condition], event_type="pricing_page_view")
        return EventsMapping(rules=[rule]).apply(export)["event_type"].tolist()

    assert mapped(False) == ["pricing_page_view", "pricing_page_view"]
    assert mapped(True) == ["Visit", "pricing_page_view"]


def test_example_end_to_end_with_us_dates_in_new_york(tmp_path):
    (tmp_path / "leads.csv").write_text(
        "Prospect ID,Created Date,Job Title\nP0,02/28/2024 09:00 AM,VP Sales\n"
    )
    activities(("Visited Web Page", "https://acme.com/pricing", None)).to_csv(
        tmp_path / "events.csv", index=False
    )
    (tmp_path / "outcomes.csv").write_text(
        "Prospect ID,Stage,Stage Date,Amount\nP0,Closed Won,03/15/2024 05:00 PM,12000\n"
    )

    result = load_contract(
        tmp_path / "leads.csv", tmp_path / "events.csv", tmp_path / "outcomes.csv", EXAMPLE
    )

    assert result.events["event_type"].tolist() == ["pricing_page_view"]
    # 2:05 PM in New York (EST, UTC-5) is 19:05 UTC.
    assert result.events["occurred_at"].iloc[0] == pd.Timestamp("2024-03-01 19:05", tz="UTC")
    assert result.outcomes["milestone"].tolist() == ["closed_won"]
    assert result.outcomes["amount"].tolist() == [12000.0]
    assert result.leads["job_title"].tolist() == ["VP Sales"]
    notice = next(p for p in result.report.problems if p.kind == "naive_timestamp")
    assert "America/New_York" in notice.message


def test_typos_in_the_yaml_are_rejected(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("events:\n  colums: {a: lead_id}\n")

    with pytest.raises(ValidationError, match="colums"):
        ExportMapping.from_yaml(path)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"value": "x", "where": [{"column": "u"}], "event_type": "other"}, "exactly one"),
        ({"value": "x", "where": [{"column": "u", "regex": "("}], "event_type": "other"}, "regex"),
        ({"event_type": "other"}, "give a value"),
        ({"value": "x", "event_type": "pricing"}, "pricing_page_view"),
    ],
)
def test_bad_rules_are_rejected_with_a_reason(rule, message):
    with pytest.raises(ValidationError, match=message):
        EventRule.model_validate(rule)


def test_unknown_time_zone_is_rejected():
    with pytest.raises(ValidationError, match="IANA"):
        ExportMapping.model_validate({"timestamps": {"naive_timezone": "Mars/Olympus"}})


def test_rename_onto_an_existing_column_is_refused():
    mapping = ExportMapping.model_validate({"leads": {"columns": {"Prospect ID": "lead_id"}}})
    frame = pd.DataFrame({"Prospect ID": ["1"], "lead_id": ["2"]})

    with pytest.raises(MappingError, match="already has a column 'lead_id'"):
        mapping.leads.apply(frame)


def test_rule_on_a_missing_column_is_a_fatal_problem(tmp_path):
    mapping = ExportMapping.model_validate(
        {
            "events": {
                "rules": [
                    {
                        "value": "v",
                        "where": [{"column": "URL", "contains": "/p"}],
                        "event_type": "other",
                    }
                ]
            }
        }
    )
    for name, text in (
        ("leads", "lead_id,created_at\nL1,2024-01-01T00:00:00Z\n"),
        ("events", "lead_id,occurred_at,event_type\nL1,2024-01-02T00:00:00Z,v\n"),
        ("outcomes", "lead_id,milestone,occurred_at\n"),
    ):
        (tmp_path / f"{name}.csv").write_text(text)

    with pytest.raises(DataValidationError, match="events/bad_mapping") as caught:
        load_contract(
            tmp_path / "leads.csv",
            tmp_path / "events.csv",
            tmp_path / "outcomes.csv",
            mapping,
            mode="quarantine",
        )
    assert "tests column 'URL'" in str(caught.value)


def test_missing_renamed_column_is_explained(tmp_path):
    mapping = ExportMapping.model_validate({"leads": {"columns": {"Prospect ID": "lead_id"}}})
    (tmp_path / "leads.csv").write_text("Lead,created_at\nL1,2024-01-01T00:00:00Z\n")
    (tmp_path / "events.csv").write_text("lead_id,occurred_at,event_type\n")
    (tmp_path / "outcomes.csv").write_text("lead_id,milestone,occurred_at\n")

    with pytest.raises(DataValidationError, match="renames 'Prospect ID' to 'lead_id' but"):
        load_contract(
            tmp_path / "leads.csv", tmp_path / "events.csv", tmp_path / "outcomes.csv", mapping
        )
