"""The packaged artifact: what was measured is what a reloaded copy serves, deterministically."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract.schema import AS_OF, LEAD_ID
from runtime.model import ScoringModel
from tests import training_data
from training.procedure import labelled_before
from training.split import time_split
from training.train import train_model


def test_round_trip_gives_identical_predictions_scores_and_tiers(tmp_path):
    model = training_data.trained().model
    rows = training_data.training_set().frame.sample(2000, random_state=0)
    loaded = ScoringModel.load(model.save(tmp_path / "model"))
    matrix = model.encoder.encode_frame(rows)
    np.testing.assert_array_equal(loaded.encoder.encode_frame(rows), matrix)
    before, after = model.predict_matrix(matrix), loaded.predict_matrix(matrix)
    for field in ("raw", "probability", "score", "tier"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))
    assert loaded.spec == model.spec

    # Batch scoring from raw data computes the same features the training set holds.
    data = training_data.contract()
    scored = loaded.predict_rows(data.leads, data.journeys, rows[[LEAD_ID, AS_OF]]).frame()
    np.testing.assert_allclose(scored["probability"].to_numpy(), before.probability, rtol=1e-12)


def test_metadata_names_windows_metrics_and_provenance():
    result = training_data.trained()
    meta = result.model.spec.metadata
    split = result.report.split
    assert meta.target == "closed_won" and meta.horizon_days == 90
    # Served: refitted on every labelled row, calibrated on the latest leads among them; its
    # figures belong to the same procedure fitted before the test slice.
    frame = training_data.training_set().frame
    assert meta.train_window == (frame["as_of"].min(), frame["as_of"].max())
    assert meta.train_window[0] < meta.calibration_window[0] <= meta.train_window[1]
    assert split.test_start <= meta.test_window[0]
    measured = result.measured.spec.metadata
    assert measured.train_window[1] < split.test_start <= measured.test_window[0]
    assert meta.metrics["test_roc_auc"] == result.report.test.roc_auc
    assert {"points_roc_auc", "oracle_roc_auc"} <= set(meta.metrics)
    assert meta.code_version and len(meta.data_fingerprint) == 32
    assert len(meta.score_percentiles) == 101


def test_categories_are_learnt_from_the_rows_before_the_test_slice_only():
    result, built, config = (
        training_data.trained(),
        training_data.training_set(),
        training_data.config(),
    )
    horizon = config.training_set.horizon_days
    split = time_split(built.frame, config.split, horizon)
    before = built.frame.iloc[
        labelled_before(built.frame, split.summary.test_start.timestamp(), horizon)
    ]
    test = built.frame.iloc[split.test]
    for name, values in result.measured.spec.categories.items():
        counts = before[name].astype(object).value_counts()
        assert all(counts.get(v, 0) >= config.min_category_count for v in values), name
    # Campaigns first run in the test slice have no code in the model measured on it; the
    # served model, refitted on every row, knows the ones run often enough.
    campaigns = set(result.measured.spec.categories["campaign"])
    unseen = set(test["campaign"].dropna().astype(str)) - campaigns
    assert unseen and unseen & set(result.model.spec.categories["campaign"])


def test_scores_are_percentiles_of_recent_leads_with_ties_in_the_middle():
    model = training_data.trained().model
    ref = np.asarray(model.spec.metadata.score_percentiles)
    assert model.score_0_100(np.array([ref[0] - 1e-9, ref[-1] + 1e-9])).tolist() == [0, 100]
    assert model.score_0_100(np.array([ref[50]]))[0] == pytest.approx(50, abs=2)


def test_training_is_deterministic():
    built = training_data.training_set()
    again = train_model(built.frame, built.pipeline, training_data.config())
    first = training_data.trained().model
    assert again.model.booster.model_to_string() == first.booster.model_to_string()
    assert again.model.spec.calibrator == first.spec.calibrator
    assert again.model.spec.tiers == first.spec.tiers


def test_unseen_and_rare_categories_are_missing_not_errors():
    model = training_data.trained().model
    rows = training_data.training_set().frame.head(5).copy()
    rows["industry"] = pd.Series(["Never seen before"] * 5, index=rows.index, dtype="category")
    assert np.isnan(
        model.encoder.encode_frame(rows)[:, model.feature_names.index("industry")]
    ).all()
