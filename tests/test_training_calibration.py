"""Calibration: the chosen calibrator improves held-out log loss and picks the right shape."""

from __future__ import annotations

import numpy as np

from tests import training_data
from training.calibrate import fit_calibrator, fit_isotonic
from training.evaluate import log_loss


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def true_probability(raw: np.ndarray) -> np.ndarray:
    return sigmoid(1.5 * raw - 3.5)


def test_calibration_improves_held_out_log_loss_of_the_weighted_booster():
    report = training_data.trained().report
    # The booster up-weights converters, so its raw probabilities run high; on the test
    # slice (never seen by the calibrator) calibration must fix that.
    assert report.test.log_loss < 0.8 * report.test.raw_log_loss
    assert report.test.ece < 0.02
    # The served calibrator is the family with the lower cross-fitted log loss.
    cv_log_loss = report.calibration.cv_log_loss
    assert report.calibration.calibrator.kind == min(cv_log_loss, key=cv_log_loss.get)


def test_the_calibrator_family_is_chosen_by_held_out_log_loss():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=20_000)
    groups = np.arange(len(raw)) // 3  # three rows per lead, kept in one fold

    logistic = (rng.random(len(raw)) < sigmoid(2.0 * raw - 3.0)).astype(int)
    fit = fit_calibrator(raw, logistic, groups=groups)
    assert fit.calibrator.kind == "sigmoid"
    assert abs(fit.calibrator.a - 2.0) < 0.15 and abs(fit.calibrator.b + 3.0) < 0.15

    step = (rng.random(len(raw)) < np.where(raw > 1.0, 0.6, 0.02)).astype(int)
    fit = fit_calibrator(raw, step, groups=groups)
    assert fit.calibrator.kind == "isotonic"
    assert fit.cv_log_loss["isotonic"] < fit.cv_log_loss["sigmoid"]


def test_calibrated_weighted_scores_beat_raw_ones_on_fresh_rows():
    rng = np.random.default_rng(1)
    raw_fit, raw_new = rng.normal(size=(2, 10_000))
    y_fit = (rng.random(raw_fit.size) < true_probability(raw_fit)).astype(int)
    y_new = (rng.random(raw_new.size) < true_probability(raw_new)).astype(int)
    # Scores of a model trained with positives weighted x20: log-odds shifted by log(20).
    shift = np.log(20.0)
    calibrator = fit_calibrator(raw_fit + shift, y_fit).calibrator
    calibrated = calibrator.apply(raw_new + shift)
    assert log_loss(y_new, calibrated) < log_loss(y_new, sigmoid(raw_new + shift)) - 0.1
    assert abs(log_loss(y_new, calibrated) - log_loss(y_new, true_probability(raw_new))) < 0.005


def test_isotonic_is_never_certain():
    raw = np.linspace(-3, 3, 1000)
    y = (raw > 0).astype(int)  # perfectly separable: raw isotonic would say exactly 0 and 1
    calibrator = fit_isotonic(raw, y)
    p = calibrator.apply(np.array([-10.0, 10.0]))
    assert 0 < p[0] <= 1 / 2000 and 1 - 1 / 2000 <= p[1] < 1
