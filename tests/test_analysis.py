"""Learned vs hand-weighted analysis: the held-out frame, its tables, and the model's drivers."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.contract.schema import LABEL, LEAD_ID
from features.journeys import Journeys
from features.pipeline import FeaturePipeline
from tests import notebook_demo
from training.analysis import drivers
from training.analysis import learned_vs_points as analysis

T0 = datetime(2024, 3, 1, tzinfo=UTC).timestamp()


@pytest.mark.slow  # trains the demo model once per session
def test_the_frame_holds_the_models_test_slice_scored_both_ways() -> None:
    comparison = notebook_demo.comparison()
    frame, model = comparison.frame, comparison.model
    # The same rows the training report measured: the same AUC to the last digit.
    assert roc_auc_score(comparison.y, frame[analysis.PROBABILITY]) == pytest.approx(
        model.spec.metadata.metrics["test_roc_auc"], abs=1e-12
    )
    assert frame["as_of"].min() >= model.spec.metadata.test_window[0]
    breakdown = comparison.points_breakdown.sum(axis=1).to_numpy()
    np.testing.assert_allclose(breakdown, frame[analysis.POINTS], atol=1e-3)
    explained = comparison.contributions.sum(axis=1) + model.trees.bias
    np.testing.assert_allclose(explained, frame[analysis.LOG_ODDS], atol=1e-9)
    assert set(frame[analysis.TIER]) <= set(model.spec.tiers.names)
    assert frame[analysis.REASONS].str.contains("odds ×").all()


@pytest.mark.slow  # trains the demo model once per session
def test_equal_volume_table_counts_the_deals_among_each_methods_top_rows() -> None:
    comparison = notebook_demo.comparison()
    y, scores = comparison.y, comparison.scores()
    table = analysis.equal_volume_table(y, scores, {"top 10%": 0.1}).iloc[0]
    k = round(0.1 * len(y))
    assert table["leads handed to sales"] == k
    for method, score in scores.items():
        # Ties at the cut share their deals pro rata: between "none" and "all" of them.
        cut = np.sort(score)[::-1][k - 1]
        above, tied = y[score > cut].sum(), y[score == cut].sum()
        assert above <= table[f"deals caught: {method}"] <= above + tied
        assert table[f"share of all deals: {method}"] == pytest.approx(
            table[f"deals caught: {method}"] / y.sum()
        )
    extra = table["extra deals: learned model vs hand-weighted points"]
    assert extra == pytest.approx(
        table["deals caught: learned model"] - table["deals caught: hand-weighted points"]
    )


def test_plain_summary_says_deals_out_of_all_deals() -> None:
    table = pd.DataFrame(
        {
            "volume": ["top 10%"],
            "leads handed to sales": [1200],
            "deals caught: a": [30.0],
            "deals caught: b": [24.4],
            "extra deals: a vs b": [5.6],
        }
    )
    summary = analysis.plain_summary(table, total_deals=60).iloc[0]
    assert summary["leads"] == "1,200"
    assert summary["deals found by a"] == "30 of 60 (50%)"
    assert summary["deals found by b"] == "24 of 60 (41%)"
    assert summary["a vs b"] == "+6"


@pytest.mark.slow  # trains the demo model once per session
def test_cross_table_accounts_for_every_row_and_deal() -> None:
    comparison = notebook_demo.comparison()
    frame = comparison.frame
    cross = analysis.tier_cross_table(comparison)
    assert cross["leads"].sum() == len(frame)
    assert cross["deals"].sum() == frame[LABEL].sum()
    for side, column in (("learned tier", analysis.TIER), ("points tier", analysis.POINTS_TIER)):
        leads = cross.groupby(side, observed=True)["leads"].sum()
        assert leads[leads > 0].to_dict() == frame[column].value_counts().to_dict()
    filled = cross[cross["leads"] > 0]
    np.testing.assert_allclose(filled["conversion_rate"], filled["deals"] / filled["leads"])
    grid = analysis.cross_table_grid(cross)
    assert list(grid.index) == list(comparison.model.spec.tiers.names)


@pytest.mark.slow  # trains the demo model once per session
def test_disagreements_are_the_largest_rank_gaps_each_way() -> None:
    comparison = notebook_demo.comparison()
    frame = comparison.frame
    table = analysis.disagreements(comparison, n=4)
    assert len(table) == 8
    gap = frame[analysis.PROBABILITY].rank(pct=True) - frame[analysis.POINTS].rank(pct=True)
    model_higher, points_higher = table.iloc[:4], table.iloc[4:]
    assert (model_higher["who ranks it higher"] == analysis.MODEL_METHOD).all()
    assert (points_higher["who ranks it higher"] == analysis.POINTS_METHOD).all()
    assert model_higher["gap"].min() >= gap.nlargest(4).min() * 100 - 1e-9
    assert points_higher["gap"].max() <= gap.nsmallest(4).max() * 100 + 1e-9
    # A row's points breakdown starts with its largest rule, in words; the row the points
    # rank furthest above the model has points to break down.
    row = points_higher.iloc[0]
    rules = frame.set_index([LEAD_ID, "as_of"]).loc[(row[LEAD_ID], row["as_of"])]
    rules = rules[list(comparison.rule_columns)].astype(float)
    assert (rules != 0).any()
    top_rule = rules.abs().idxmax().partition(":")[2].replace("_", " ")
    assert row["points breakdown"].startswith(top_rule)
    assert table["model's reasons"].str.len().gt(0).all()


def test_drivers_group_every_feature_about_one_event() -> None:
    assert drivers.driver_of("n_demo_request_7d") == "demo_request"
    assert drivers.driver_of("days_since_last_demo_request") == "demo_request"
    assert drivers.driver_of("n_other_page_view_30d") == "other_page_view"
    assert drivers.driver_of("n_other_total") == "other"
    assert drivers.driver_of("decayed_intent_hl30d") == "decayed_intent_hl30d"
    assert drivers.driver_of("industry") == "industry"
    contributions = pd.DataFrame(
        {"n_demo_request_7d": [0.5, 0.0], "days_since_last_demo_request": [0.25, -0.1],
         "industry": [-0.2, 0.3]}
    )  # fmt: skip
    grouped = drivers.driver_contributions(contributions)
    assert list(grouped.columns) == ["demo_request", "industry"]
    np.testing.assert_allclose(grouped["demo_request"], [0.75, -0.1])
    np.testing.assert_allclose(grouped.sum(axis=1), contributions.sum(axis=1))


def test_without_event_removes_exactly_that_event_type() -> None:
    journeys = Journeys.from_frame(
        pd.DataFrame(
            {
                LEAD_ID: ["a", "a", "a", "b", "b"],
                "occurred_at": pd.to_datetime(
                    [T0, T0 + 60, T0 + 120, T0, T0 + 60], unit="s", utc=True
                ),
                "event_type": ["demo_request", "pricing_page_view", "demo_request",
                               "pricing_page_view", "blog_page_view"],
            }
        ),
        ["a", "b", "c"],
    )  # fmt: skip
    pruned = drivers.without_event(journeys, "demo_request")
    assert pruned.offsets.tolist() == [0, 1, 3, 3]
    assert [int(c) for c in pruned.codes] == [
        int(journeys.codes[1]),
        int(journeys.codes[3]),
        int(journeys.codes[4]),
    ]
    assert pruned.times.tolist() == [T0 + 60, T0, T0 + 60]


@pytest.mark.slow  # trains the demo model once per session
def test_action_effects_are_zero_without_the_action_and_positive_for_demo_requests() -> None:
    comparison = notebook_demo.comparison()
    effects, features = comparison.action_effects, comparison.features
    did = features["n_demo_request_total"].to_numpy() > 0
    assert (effects["demo_request"].to_numpy()[~did] == 0).all()
    assert effects["demo_request"].to_numpy()[did].mean() > 0.3  # at least ×1.35 odds
    by_age = drivers.effect_by_age(effects, features, comparison.y, "demo_request")
    assert by_age["rows"].sum() == len(features)
    never = by_age[by_age["age"] == drivers.NEVER].iloc[0]
    assert never["rows"] == (~did).sum() and never["mean_effect"] == 0
    summary = drivers.action_summary(effects)
    assert "demo_request" in set(summary["action"])
    assert (summary["share_of_leads"] > 0).all()


@pytest.mark.slow  # trains the demo model once per session
def test_global_and_attribute_effects_cover_the_model() -> None:
    comparison = notebook_demo.comparison()
    effects = drivers.global_effects(comparison.contributions, comparison.features)
    assert effects["share"].sum() == pytest.approx(1.0)
    assert effects["mean_abs_contribution"].is_monotonic_decreasing
    seniority = drivers.attribute_effects(
        comparison.contributions, comparison.features, comparison.y, "seniority"
    )
    assert seniority["mean_contribution"].is_monotonic_decreasing
    assert (seniority["rows"] >= 20).all()
    with pytest.raises(ValueError, match="no feature 'shoe_size'"):
        drivers.attribute_effects(
            comparison.contributions, comparison.features, comparison.y, "shoe_size"
        )


def test_rules_vs_model_puts_both_on_one_scale_and_names_the_verdict() -> None:
    # Four leads: two got a demo request rule's 40 points, one a careers rule's -10.
    points = pd.DataFrame(
        {"action:demo_request": [0.0, 0.0, 40.0, 40.0], "action:careers_page_view": [0, -10, 0, 0]}
    )
    total = points.sum(axis=1).to_numpy()
    log_odds = total / 20.0  # 20 points per unit of log-odds
    effects = pd.DataFrame(
        {"demo_request": [0.0, 0.0, 0.5, 0.5], "careers_page_view": [0.0, -1.0, 0.0, 0.0]}
    )
    table = drivers.rules_vs_model(
        points, log_odds, effects, pd.DataFrame(index=range(4)), FeaturePipeline()
    ).set_index("rule")
    assert table.attrs["points_per_log_odds"] == pytest.approx(20.0)
    demo = table.loc["action:demo_request"]
    assert demo["model_equivalent_points"] == pytest.approx(10.0)  # 0.5 log-odds x 20
    assert demo["verdict"] == "over-valued"
    careers = table.loc["action:careers_page_view"]
    assert careers["model_equivalent_points"] == pytest.approx(-20.0)
    assert careers["verdict"] == "under-penalised"


@pytest.mark.slow  # trains the demo model once per session
def test_rules_vs_model_on_the_demo_compares_every_rule_that_gave_points() -> None:
    comparison = notebook_demo.comparison()
    table = drivers.rules_vs_model(
        comparison.points_breakdown,
        comparison.frame[analysis.LOG_ODDS].to_numpy(),
        comparison.action_effects,
        comparison.contributions,
        comparison.model.spec.pipeline,
    )
    given = comparison.points_breakdown.ne(0).any()
    assert set(table["rule"]) <= set(given[given].index)
    assert {"action:demo_request", "fit:seniority"} <= set(table["rule"])
    assert table["verdict"].notna().all()
