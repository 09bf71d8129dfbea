"""Calibrate the booster's raw log-odds on held-out rows: isotonic or sigmoid, chosen by data.

Both are fitted by cross-fitting inside the calibration slice (folds grouped by lead); the
one with the lower out-of-fold log loss is refitted on the whole slice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import GroupKFold

from runtime.artifact import Calibrator
from training.evaluate import log_loss

CalibratorKind = Literal["isotonic", "sigmoid"]


class CalibrationFit(BaseModel):
    """The chosen calibrator and the held-out evidence for the choice."""

    calibrator: Calibrator
    cv_log_loss: dict[str, float]
    folds: int


def fit_isotonic(raw: np.ndarray, y: np.ndarray) -> Calibrator:
    """Monotone step fit, stored as (x, y) knots for `np.interp`.

    Probabilities are kept within [1/(2n), 1 - 1/(2n)]: a finite sample never justifies
    certainty, and a 0 or 1 would make one surprising lead cost infinite log loss.
    """
    iso = IsotonicRegression(out_of_bounds="clip", increasing=True).fit(raw, y)
    eps = 0.5 / len(y)
    knots_y = np.clip(iso.y_thresholds_, eps, 1 - eps)
    return Calibrator(
        kind="isotonic",
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in knots_y),
    )


def fit_sigmoid(raw: np.ndarray, y: np.ndarray) -> Calibrator:
    """Platt scaling: p = 1 / (1 + exp(-(a * raw + b))), with Platt's smoothed targets."""
    raw = np.asarray(raw, dtype=np.float64)
    n_pos = float(np.sum(y))
    n_neg = len(y) - n_pos
    # Platt (1999): targets (N+ + 1)/(N+ + 2) and 1/(N- + 2) instead of 1 and 0 keep a and
    # b finite when the raw scores separate the classes.
    target = np.where(np.asarray(y) > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * raw + ab[1]
        p = 1.0 / (1.0 + np.exp(-z))
        value = np.sum(np.logaddexp(0, z) - target * z)
        grad = p - target
        return float(value), np.array([np.dot(grad, raw), grad.sum()])

    result = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return Calibrator(kind="sigmoid", a=float(result.x[0]), b=float(result.x[1]))


FITTERS: dict[CalibratorKind, Callable[[np.ndarray, np.ndarray], Calibrator]] = {
    "isotonic": fit_isotonic,
    "sigmoid": fit_sigmoid,
}


def fit_calibrator(
    raw: np.ndarray,
    y: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    folds: int = 5,
    kinds: tuple[CalibratorKind, ...] = ("isotonic", "sigmoid"),
) -> CalibrationFit:
    """Choose among `kinds` by cross-fitted log loss on (raw, y), then fit it on all rows.

    `groups` (e.g. lead ids) keep one lead's rows in one fold.
    """
    raw = np.asarray(raw, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    groups = np.arange(len(y)) if groups is None else np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < folds or y.sum() < folds:
        raise ValueError(
            f"calibration needs at least {folds} leads and {folds} conversions in the "
            "calibration slice; give it more history or a larger calibration share."
        )
    out_of_fold = {kind: np.empty(len(y)) for kind in kinds}
    for fit_rows, held_rows in GroupKFold(n_splits=folds).split(raw, y, groups):
        for kind in kinds:
            calibrator = FITTERS[kind](raw[fit_rows], y[fit_rows])
            out_of_fold[kind][held_rows] = calibrator.apply(raw[held_rows])
    cv_log_loss = {kind: log_loss(y, p) for kind, p in out_of_fold.items()}
    best = min(kinds, key=lambda kind: cv_log_loss[kind])
    return CalibrationFit(calibrator=FITTERS[best](raw, y), cv_log_loss=cv_log_loss, folds=folds)
