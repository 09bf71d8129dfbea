"""The training procedure, its warm starts and the rolling-origin backtest that chooses them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract.schema import AS_OF, LABEL, LEAD_ID, MILESTONE, OCCURRED_AT, Milestone
from features.journeys import SECONDS_PER_DAY, to_epoch_seconds
from tests import training_data
from training.backtest import MODEL, origins
from training.learn import Recipe, learn_booster
from training.procedure import fit_procedure, labelled_before
from training.split import lead_timeline
from training.warm_start import Evidence, WarmStart, WarmStartConfig, funnel_labels

T0 = pd.Timestamp("2024-03-01", tz="UTC")


def test_funnel_label_counts_the_milestone_or_any_later_stage_within_the_horizon() -> None:
    rows = pd.DataFrame(
        {
            LEAD_ID: ["sql", "won", "lost", "late", "mql", "never"],
            AS_OF: [T0] * 6,
        }
    )
    outcomes = pd.DataFrame(
        {
            LEAD_ID: ["sql", "won", "lost", "late", "mql"],
            MILESTONE: ["sql", "closed_won", "closed_lost", "sql", "mql"],
            OCCURRED_AT: [
                T0 + pd.Timedelta(days=10),
                T0 + pd.Timedelta(days=90),  # on the horizon's last day: counts
                T0 + pd.Timedelta(days=5),
                T0 + pd.Timedelta(days=91),  # one day too late
                T0 + pd.Timedelta(days=1),  # an earlier stage only
            ],
        }
    )
    labels = funnel_labels(rows, outcomes, Milestone.SQL, horizon_days=90)
    assert labels.tolist() == [1, 1, 1, 0, 0, 0]


def test_evidence_names_what_a_warm_start_would_need() -> None:
    points_only = Evidence(points=pd.Series([1.0]), funnel=None, notes=("no outcomes",))
    usable = points_only.usable(list(WarmStart))
    assert usable == [WarmStart.NONE, WarmStart.POINTS]
    with pytest.raises(ValueError, match="a stage leads reach"):
        WarmStartConfig(funnel_milestone=Milestone.CLOSED_LOST)


def _evidence(frame: pd.DataFrame) -> Evidence:
    contract = training_data.contract()
    return Evidence(
        points=None,
        funnel=funnel_labels(frame, contract.outcomes, Milestone.SQL, 90.0),
    )


def test_a_warm_start_stays_in_the_booster_when_early_stopping_cuts_the_target_trees() -> None:
    """Early stopping keeps the warm start's trees and the best target trees after them (it
    once kept the first N trees of the whole booster, i.e. part of the warm start only)."""
    built = training_data.training_set()
    frame = built.frame
    _, start = lead_timeline(frame)
    latest = start >= np.quantile(start, 0.85)
    config = training_data.config()
    warm = Recipe(WarmStart.FUNNEL, _evidence(frame))
    learned = learn_booster(
        frame[~latest], built.pipeline, config, stop_rows=frame[latest], refit=True, recipe=warm
    )
    funnel_trees = config.warm_start.funnel_trees
    assert learned.held_out is not None
    assert learned.held_out.num_trees() == funnel_trees + learned.fit.best_iteration
    assert learned.booster.num_trees() == funnel_trees + learned.trees
    # The refit has more rows, so the early-stopping tree count grows with them.
    assert learned.trees == round(learned.fit.best_iteration * len(frame) / (~latest).sum())


def test_the_procedure_at_an_origin_learns_only_from_labels_closed_by_then() -> None:
    built = training_data.training_set()
    frame = built.frame
    _, start = lead_timeline(frame)
    origin = float(np.quantile(start, 0.7))
    rows = frame.iloc[labelled_before(frame, origin, 90.0)]
    assert (to_epoch_seconds(rows[AS_OF]) + 90 * SECONDS_PER_DAY <= origin).all()
    # Leads first cut off after the origin are not there, even with early rows.
    later = set(frame[LEAD_ID][start >= origin])
    assert later.isdisjoint(rows[LEAD_ID])
    fitted = fit_procedure(rows, built.pipeline, training_data.config(), None)
    assert len(fitted.rows) == len(rows)
    # The calibrator and tiers see the latest leads only, scored by a booster that never saw
    # them: held-out leads are all later than the others.
    _, held_start = lead_timeline(fitted.held_out)
    rest = rows[~rows[LEAD_ID].isin(fitted.held_out[LEAD_ID])]
    assert lead_timeline(rest)[1].max() <= held_start.min()


def test_origins_step_back_from_the_test_start_by_the_test_slice_length() -> None:
    day = SECONDS_PER_DAY
    pairs = origins(test_start=100 * day, last_start=160 * day, count=3)
    assert pairs == [(-20 * day, 40 * day), (40 * day, 100 * day), (100 * day, np.inf)]


def test_the_backtest_serves_the_best_warm_start_and_the_model_is_refitted_on_everything() -> None:
    result = training_data.trained()
    report = result.report
    backtest = report.backtest
    assert backtest is not None
    config = training_data.config()
    best = max(backtest.candidates, key=lambda c: c.choice_score)
    assert (backtest.chosen, backtest.half_life_days) == (best.warm_start, best.half_life_days)
    # Every warm start, then the best of them with each recency half-life.
    starts = [c for c in backtest.candidates if c.half_life_days is None]
    assert [c.warm_start for c in starts] == list(config.warm_start.candidates)
    first = max(starts, key=lambda c: c.choice_score).warm_start
    recency = [c for c in backtest.candidates if c.half_life_days is not None]
    assert [(c.warm_start, c.half_life_days) for c in recency] == [
        (first, h) for h in config.backtest.recency_half_lives_days
    ]
    best = backtest.best
    # The last origin is the test slice, measured with the same figures as the headline.
    last = best.origins[-1]
    assert abs(last.origin - report.split.test_start) < pd.Timedelta(1, "ms")
    assert last.test_rows == report.test.rows
    assert last.model.roc_auc == pytest.approx(
        next(r.roc_auc for r in report.comparison if r.method == MODEL)
    )
    # Each origin learns from more history than the one before.
    assert [o.train_rows for o in best.origins] == sorted(o.train_rows for o in best.origins)
    # The served model learned from every row, the test slice's included.
    served = result.model.spec.metadata
    frame = training_data.training_set().frame
    assert report.served is not None and report.served.rows == len(frame)
    assert served.train_window[1] == frame[AS_OF].max()
    assert served.params["warm_start"] == backtest.chosen.value
    assert served.params["recency_half_life_days"] == backtest.half_life_days
    assert served.metrics["backtest_roc_auc"] == pytest.approx(best.mean("roc_auc"))
    markdown = report.markdown()
    assert "## The served model" in markdown and "## Backtest (rolling origin)" in markdown


def test_the_learning_curve_measures_each_size_on_the_same_test_rows() -> None:
    from training.backtest import learning_curve

    built = training_data.training_set()
    frame = built.frame
    config = training_data.config().model_copy(
        update={
            "warm_start": WarmStartConfig(candidates=(WarmStart.NONE,)),
            "min_train_positives": 1,
        }
    )
    result = training_data.trained()
    test_start = result.report.split.test_start.timestamp()
    sizes = (4_000, 8_000, 10**9)  # the last is more than the data has: left out
    curve = learning_curve(frame, built.pipeline, config, _evidence(frame), test_start, sizes)
    assert [p.leads for p in curve] == [4_000, 8_000]
    assert curve[0].train_rows < curve[1].train_rows
    assert {p.result.test_rows for p in curve} == {result.report.test.rows}
    assert all(
        p.result.test_positives == int(frame[LABEL][lead_timeline(frame)[1] >= test_start].sum())
        for p in curve
    )


def test_recency_weights_halve_with_each_half_life_of_age() -> None:
    rows = pd.DataFrame({AS_OF: [T0, T0 - pd.Timedelta(days=180), T0 - pd.Timedelta(days=360)]})
    evidence = Evidence(points=None, funnel=None)
    assert Recipe(WarmStart.NONE, evidence).weights(rows, T0) is None
    weights = Recipe(WarmStart.NONE, evidence, half_life_days=180).weights(rows, T0)
    np.testing.assert_allclose(weights, [1.0, 0.5, 0.25])
