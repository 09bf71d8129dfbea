"""Tier thresholds keep the promises of their business rules on the slice they were chosen on."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from tests import training_data
from training.tiers import TierPolicy, TierRule, choose_thresholds, tier_table


def scored_weeks(seed: int = 0, n: int = 20_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Continuous probabilities, outcomes drawn from them, and uneven week sizes."""
    rng = np.random.default_rng(seed)
    p = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) * 1.5 - 3.0)))
    y = (rng.random(n) < p).astype(int)
    weeks = rng.choice(40, size=n, p=np.linspace(1, 3, 40) / np.linspace(1, 3, 40).sum())
    return p, y, weeks


def cumulative(rows, k: int) -> tuple[float, float, float]:
    """(mean weekly share, precision, recall) of the first k+1 tiers together."""
    top = rows[: k + 1]
    share = sum(r.mean_weekly_share for r in top)
    n = sum(r.rows for r in top)
    deals = sum(r.share_of_deals for r in top)
    converted = sum(r.rows * (r.conversion_rate or 0) for r in top)
    return share, converted / n, deals


def test_volume_precision_and_recall_promises_hold_and_are_used_fully():
    p, y, weeks = scored_weeks()
    policy = TierPolicy(
        rules=(
            TierRule(name="hot", max_share_per_week=0.03),
            TierRule(name="warm", min_precision=0.3),
            TierRule(name="mql", min_recall=0.8),
        ),
        last="cold",
    )
    tiers = choose_thresholds(p, y, weeks, policy)
    assert tiers.names == ("hot", "warm", "mql", "cold")
    assert list(tiers.thresholds) == sorted(tiers.thresholds, reverse=True)
    rows = tier_table(tiers, tiers.assign(p), y, weeks)

    share, _, _ = cumulative(rows, 0)
    assert 0.028 <= share <= 0.03  # at most 3% of a week's leads, and not far below
    _, precision, warm_recall = cumulative(rows, 1)
    assert precision >= 0.3
    assert warm_recall < 0.8  # so the recall floor below places its own threshold
    _, _, recall = cumulative(rows, 2)
    assert 0.8 <= recall <= 0.81
    assert "at most 3% of a week's leads" in tiers.policy["hot"]


def test_the_trained_models_tiers_keep_their_promises_on_the_calibration_slice():
    report = training_data.trained().report
    sql, mql, nurture = report.tiers_calibration
    assert (sql.tier, mql.tier, nurture.tier) == ("sql", "mql", "nurture")
    assert 0 < sql.mean_weekly_share <= 0.05
    assert sql.share_of_deals + mql.share_of_deals >= 0.8
    assert sql.conversion_rate > mql.conversion_rate > nurture.conversion_rate


def test_a_recall_floor_out_of_reach_of_the_capacity_is_reported_not_hidden():
    p, y, weeks = scored_weeks(seed=1)
    policy = TierPolicy(rules=(TierRule(name="sql", max_share_per_week=0.02, min_recall=0.9),))
    tiers = choose_thresholds(p, y, weeks, policy)
    share, _, recall = cumulative(tier_table(tiers, tiers.assign(p), y, weeks), 0)
    assert share <= 0.02 and recall < 0.9
    assert "recall floor not reachable" in tiers.policy["sql"]


def test_tiers_are_assigned_by_threshold_and_counted_and_a_tier_needs_a_rule():
    p, y, weeks = scored_weeks(seed=2, n=2000)
    tiers = choose_thresholds(p, y, weeks, TierPolicy())
    assigned = tiers.assign(p)
    sql, mql = tiers.thresholds
    expected = [(p > sql).sum(), ((p > mql) & (p <= sql)).sum(), (p <= mql).sum()]
    assert [r.rows for r in tier_table(tiers, assigned, y)] == [int(n) for n in expected]
    assert (p[assigned == "sql"].min()) > sql > p[assigned == "mql"].max()
    with pytest.raises(ValidationError, match="needs a rule"):
        TierRule(name="sql")
    with pytest.raises(ValidationError, match="unique"):
        TierPolicy(rules=(TierRule(name="a", min_recall=0.5),), last="a")
