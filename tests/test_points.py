"""Hand-weighted points: the rules file, the scorer's time rules, and the baseline's quality."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from features.journeys import Journeys, encode_event_types, to_epoch_seconds
from features.points import DEFAULT_RULES_FILE, PointsRules, RulesError, score_points
from features.synth.generate import generate

DAY = 86_400.0
T0 = datetime(2024, 3, 1, 12, tzinfo=UTC).timestamp()


def _rules(**overrides: object) -> PointsRules:
    data = {
        "thresholds": {"mql": 30, "sql": 60},
        "actions": {
            "demo_request": {"points": 40, "half_life_days": 30},
            "pricing_page_view": {"points": 10, "max_points": 30},
            "careers_page_view": {"points": -10, "max_points": 25},
        },
    }
    data.update(overrides)
    return PointsRules.from_dict(data)


def _journey(events: list[tuple[float, str]]) -> Journeys:
    """One lead's journey from (epoch seconds, event type) pairs."""
    times = np.array([t for t, _ in events], dtype=np.float64)
    codes = encode_event_types(pd.Series([kind for _, kind in events], dtype=object))
    return Journeys.from_arrays(np.array(["L1"]), np.zeros(len(events), np.int64), times, codes)


def _score(rules: PointsRules, events: list[tuple[float, str]], as_of: list[float]):
    journeys = _journey(events)
    rows = np.zeros(len(as_of), dtype=np.int64)
    return score_points(
        rules, journeys, rows, np.array(as_of), pd.DataFrame(index=range(len(as_of)))
    )


def test_default_rules_load_and_cover_actions_and_fit() -> None:
    rules = PointsRules.default()
    assert rules.thresholds.sql > rules.thresholds.mql
    assert rules.actions["demo_request"].points > rules.actions["blog_page_view"].points
    assert rules.actions["careers_page_view"].points < 0
    assert rules.fit.email_domain_kind["competitor"] < 0 and rules.fit.seniority["student"] < 0
    assert rules.competitor_domains


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"actions": {"pricing_pag_view": {"points": 10}}}, "actions.pricing_pag_view"),
        ({"actions": {"demo_request": {"points": 40, "half_life": 30}}}, "demo_request.half_life"),
        ({"actions": {"demo_request": {"points": 40, "half_life_days": -1}}}, "half_life_days"),
        ({"fit": {"senority": {"vp": 10}}}, "fit.senority"),
        ({"fit": {"seniority": {"vpp": 10}}}, "'vpp'"),
        ({"fit": {"email_domain_kind": {"webmail": -10}}}, "'webmail'"),
        ({"thresholds": {"mql": 100, "sql": 50}}, "sql (50.0) must be above mql (100.0)"),
        ({"threshold": {"mql": 1, "sql": 2}}, "threshold"),
    ],
)
def test_a_bad_key_gives_an_error_naming_it(tmp_path: Path, patch: dict, named: str) -> None:
    data = yaml.safe_load(resources.files("features").joinpath(DEFAULT_RULES_FILE).read_text())
    for key, value in patch.items():  # add to actions / fit, replace anything else
        data[key] = {**data[key], **value} if key in ("actions", "fit") else value
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(RulesError) as error:
        PointsRules.from_yaml(path)
    assert named in str(error.value) and str(path) in str(error.value)


def test_unreadable_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("actions: [demo_request: 40\n")
    with pytest.raises(RulesError, match=r"rules\.yaml: cannot read"):
        PointsRules.from_yaml(path)


def test_points_decay_by_half_life_and_only_count_events_strictly_before_as_of() -> None:
    scored = _score(
        _rules(),
        [(T0, "demo_request")],
        [T0, T0 + 1, T0 + 30 * DAY, T0 + 60 * DAY],
    )
    assert scored.total.tolist() == pytest.approx([0.0, 40.0, 20.0, 10.0], rel=1e-4)
    assert scored.rules["action:demo_request"].iloc[2] == pytest.approx(20.0)


def test_caps_bound_a_rule_in_both_directions_and_no_decay_without_half_life() -> None:
    events = [(T0 + k, "pricing_page_view") for k in range(5)]
    events += [(T0 + k, "careers_page_view") for k in range(4)]
    scored = _score(_rules(), events, [T0 + 365 * DAY])
    assert scored.rules["action:pricing_page_view"].iloc[0] == 30.0
    assert scored.rules["action:careers_page_view"].iloc[0] == -25.0
    assert scored.total[0] == 5.0


def test_fit_points_and_tiers() -> None:
    rules = _rules(
        fit={
            "seniority": {"vp": 15, "student": -40},
            "department": {"marketing": 12},
            "industry": {"Software & SaaS": 10},
            "company_size": [
                {"min_employees": 1, "max_employees": 50, "points": -5},
                {"min_employees": 51, "points": 8},
            ],
            "email_domain_kind": {"competitor": -100, "free": -10, "unknown": -1},
        },
        competitor_domains=["leadlytics.io"],
    )
    attributes = pd.DataFrame(
        {
            "job_title": ["VP Marketing", "Student", None],
            "email": ["ann@acme.com", "bo@gmail.com", None],
            "industry": [" software & saas", "Education", None],
            "employee_count": [300, 20, None],
        }
    )
    journeys = _journey([(T0, "demo_request")])
    scored = score_points(
        rules, journeys, np.zeros(3, dtype=np.int64), np.full(3, T0 + 1), attributes
    )
    assert scored.rules.loc[0, ["fit:seniority", "fit:department", "fit:industry"]].tolist() == [
        15,
        12,
        10,
    ]
    assert scored.total.tolist() == pytest.approx([40 + 15 + 12 + 10 + 8, 40 - 40 - 5 - 10, 40 - 1])
    assert scored.tier.tolist() == ["sql", "nurture", "mql"]
    assert scored.explain(0).index[0] == "action:demo_request"
    assert "fit:email_domain_kind" not in scored.explain(0)

    competitor = attributes.assign(email=["x@leadlytics.io", None, None])
    scored = score_points(
        rules, journeys, np.zeros(3, dtype=np.int64), np.full(3, T0 + 1), competitor
    )
    assert scored.rules["fit:email_domain_kind"].iloc[0] == -100


def test_a_fit_rule_without_its_column_says_what_to_do() -> None:
    rules = _rules(fit={"seniority": {"vp": 15}})
    journeys = _journey([])
    with pytest.raises(ValueError, match="needs a `job_title` column"):
        score_points(
            rules, journeys, np.zeros(1, dtype=np.int64), np.ones(1), pd.DataFrame(index=[0])
        )


def test_points_rank_converters_above_others_but_below_the_oracle(tmp_path: Path) -> None:
    generate(tmp_path, 5_000, 5, datetime(2024, 1, 1, tzinfo=UTC))
    leads = pd.read_parquet(tmp_path / "leads.parquet")
    outcomes = pd.read_parquet(tmp_path / "outcomes.parquet")
    oracle = pd.read_parquet(tmp_path / "oracle.parquet")
    journeys = Journeys.from_parquet(tmp_path / "events", leads.lead_id.to_numpy())

    # Score each lead 30 days after creation if it was still open then; label: won later.
    cutoff = leads.created_at + pd.Timedelta(days=30)
    closed = outcomes[outcomes.milestone.isin(["closed_won", "closed_lost", "disqualified"])]
    closed_at = closed.set_index("lead_id").occurred_at.reindex(leads.lead_id).to_numpy()
    still_open = ~(closed_at <= cutoff.to_numpy())  # NaT (never closed) compares False
    rows = np.flatnonzero(still_open & (cutoff < pd.Timestamp("2025-04-01", tz="UTC")).to_numpy())
    won = leads.lead_id.isin(closed.lead_id[closed.milestone == "closed_won"]).to_numpy()[rows]
    as_of = to_epoch_seconds(cutoff)[rows]

    scored = score_points(PointsRules.default(), journeys, rows, as_of, leads.iloc[rows])
    points_auc = roc_auc_score(won, scored.total)
    oracle_auc = roc_auc_score(won, oracle.p_convert.to_numpy()[rows])
    assert 0.6 < points_auc < oracle_auc
    assert won[scored.tier == "sql"].mean() > won[scored.tier == "nurture"].mean()


def test_points_on_rows_leave_out_fit_rules_whose_column_the_leads_lack():
    from training.baseline import points_on_rows

    leads = pd.DataFrame(
        {"lead_id": ["a", "b"], "created_at": pd.to_datetime(["2025-01-01"] * 2, utc=True)}
    )
    events = pd.DataFrame(
        {
            "lead_id": ["a"],
            "occurred_at": pd.to_datetime(["2025-01-05"], utc=True),
            "event_type": ["demo_request"],
        }
    )
    rows = pd.DataFrame(
        {"lead_id": ["a", "b"], "as_of": pd.to_datetime(["2025-02-01"] * 2, utc=True)}
    )
    journeys = Journeys.from_frame(events, leads["lead_id"])
    points = points_on_rows(PointsRules.default(), leads, journeys, rows)  # no job_title, email
    assert points.total[0] > points.total[1]  # the demo request still counts
