"""Evaluation measures on cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import (
    decile_table,
    evaluate,
    expected_calibration_error,
    lift_at,
    positives_in_top,
    reliability_table,
)
from training.method_comparison import compare_scores


def test_ece_is_the_row_weighted_gap_over_equal_count_bins():
    # Two bins of 50: predicted 0.1 with 10% observed, predicted 0.5 with 30% observed.
    p = np.r_[np.full(50, 0.1), np.full(50, 0.5)]
    y = np.r_[np.ones(5), np.zeros(45), np.ones(15), np.zeros(35)]
    assert expected_calibration_error(p, y, bins=2) == pytest.approx(0.5 * 0 + 0.5 * 0.2)
    table = reliability_table(p, y, bins=2)
    assert [b.rows for b in table] == [50, 50]
    assert [b.observed_rate for b in table] == pytest.approx([0.1, 0.3])


def test_well_calibrated_scores_have_small_ece_and_shifted_ones_do_not():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.4, 50_000)
    y = (rng.random(p.size) < p).astype(int)
    assert expected_calibration_error(p, y) < 0.01
    assert expected_calibration_error(np.clip(p + 0.1, 0, 1), y) == pytest.approx(0.1, abs=0.01)


def test_top_share_takes_tied_rows_pro_rata_not_by_row_order():
    # 10 rows share the top score and 4 of them converted; the top 5 get 2 conversions.
    score = np.r_[np.full(10, 100.0), np.arange(10.0)]
    y = np.r_[np.ones(4), np.zeros(6), np.zeros(10)]
    assert positives_in_top(score, y, 0.25) == pytest.approx(2.0)
    assert positives_in_top(score[::-1], y[::-1], 0.25) == pytest.approx(2.0)
    assert lift_at(score, y, 0.25) == pytest.approx((2 / 5) / (4 / 20))


def test_deciles_add_up_and_comparison_is_at_equal_volume():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 1000)
    y = (rng.random(p.size) < p**3).astype(int)
    deciles = decile_table(p, y)
    assert [d.decile for d in deciles] == list(range(1, 11))
    assert sum(d.rows for d in deciles) == 1000
    assert deciles[-1].cumulative_share_of_deals == pytest.approx(1.0)
    assert deciles[0].conversion_rate > deciles[-1].conversion_rate

    rows = compare_scores(y, {"model": p, "random": rng.random(p.size)}, sql_share=0.1)
    by = {r.method: r for r in rows}
    assert by["model"].deals_captured_at_sql_volume == pytest.approx(
        positives_in_top(p, y, 0.1) / y.sum()
    )
    assert by["model"].roc_auc > 0.8 > 0.6 > by["random"].roc_auc
    metrics = evaluate(p, y, raw_probability=np.clip(p * 2, 0, 1))
    assert metrics.raw_log_loss > metrics.log_loss
    with pytest.raises(ValueError, match="same outcome"):
        evaluate(p, np.zeros_like(y))
