"""Measures of a probability (or any score) against outcomes: ranking, calibration, lift.

Scores with ties (a points total, a calibrated plateau) are treated fairly: a "top 5%"
that cuts through a tie takes the tied rows' conversions pro rata, and equal-count bins
break ties at random with a fixed seed, never by row order.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import average_precision_score, roc_auc_score

# Log loss clips probabilities here so one confident miss cannot make it infinite.
_EPS = 1e-15


class Metrics(BaseModel):
    """Headline measures of a probability on one set of rows."""

    rows: int
    positives: int
    base_rate: float
    roc_auc: float
    pr_auc: float
    log_loss: float
    brier: float
    ece: float
    lift_top_5pct: float
    lift_top_10pct: float
    raw_log_loss: float | None = None


class ReliabilityBin(BaseModel):
    """One equal-count bin of rows sorted by predicted probability."""

    rows: int
    min_probability: float
    max_probability: float
    mean_probability: float
    observed_rate: float


class DecileRow(BaseModel):
    """One tenth of the rows by score, best first."""

    decile: int
    rows: int
    min_probability: float
    conversion_rate: float
    lift: float
    cumulative_share_of_deals: float


def log_loss(y: np.ndarray, probability: np.ndarray) -> float:
    """Mean negative log-likelihood of the outcomes."""
    p = np.clip(np.asarray(probability, dtype=np.float64), _EPS, 1 - _EPS)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def brier_score(y: np.ndarray, probability: np.ndarray) -> float:
    """Mean squared error of the probability."""
    return float(np.mean((np.asarray(probability) - np.asarray(y)) ** 2))


def _ascending_order(score: np.ndarray, seed: int = 0) -> np.ndarray:
    """Row order by score, ties in a fixed random order."""
    tie_break = np.random.default_rng(seed).random(len(score))
    return np.lexsort((tie_break, np.asarray(score)))


def reliability_table(
    probability: np.ndarray, y: np.ndarray, bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-frequency bins of the predicted probability with the observed conversion rate."""
    probability = np.asarray(probability, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    table = []
    for rows in np.array_split(_ascending_order(probability), bins):
        if len(rows) == 0:
            continue
        p = probability[rows]
        table.append(
            ReliabilityBin(
                rows=len(rows),
                min_probability=float(p.min()),
                max_probability=float(p.max()),
                mean_probability=float(p.mean()),
                observed_rate=float(y[rows].mean()),
            )
        )
    return table


def expected_calibration_error(probability: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """ECE: row-weighted mean |mean predicted - observed rate| over `bins` equal-count bins."""
    table = reliability_table(probability, y, bins)
    total = sum(b.rows for b in table)
    return float(sum(b.rows * abs(b.mean_probability - b.observed_rate) for b in table) / total)


def positives_in_top(score: np.ndarray, y: np.ndarray, share: float) -> float:
    """Expected conversions among the top `share` of rows by score, ties taken pro rata."""
    score = np.asarray(score, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    k = round(share * len(score))
    if k <= 0:
        return 0.0
    cut = np.sort(score)[::-1][k - 1]
    above = score > cut
    tied = score == cut
    need = k - int(above.sum())
    return float(y[above].sum() + y[tied].sum() * need / tied.sum())


def lift_at(score: np.ndarray, y: np.ndarray, share: float) -> float:
    """Conversion rate in the top `share` of rows by score over the overall rate."""
    k = round(share * len(score))
    base = float(np.mean(y))
    if k <= 0 or base == 0:
        return float("nan")
    return positives_in_top(score, y, share) / k / base


def decile_table(probability: np.ndarray, y: np.ndarray) -> list[DecileRow]:
    """Conversion rate, lift and cumulative share of deals by score decile (1 = best)."""
    probability = np.asarray(probability, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    base = float(y.mean())
    total = float(y.sum())
    rows_desc = _ascending_order(probability)[::-1]
    table, captured = [], 0.0
    for decile, rows in enumerate(np.array_split(rows_desc, 10), start=1):
        if len(rows) == 0:
            continue
        rate = float(y[rows].mean())
        captured += float(y[rows].sum())
        table.append(
            DecileRow(
                decile=decile,
                rows=len(rows),
                min_probability=float(probability[rows].min()),
                conversion_rate=rate,
                lift=rate / base if base else float("nan"),
                cumulative_share_of_deals=captured / total if total else float("nan"),
            )
        )
    return table


def evaluate(
    probability: np.ndarray,
    y: np.ndarray,
    *,
    raw_probability: np.ndarray | None = None,
    bins: int = 10,
) -> Metrics:
    """All headline measures of `probability` on outcomes `y` (0/1).

    `raw_probability` (the uncalibrated model) adds its log loss, to show what calibration did.
    """
    probability = np.asarray(probability, dtype=np.float64)
    y = np.asarray(y, dtype=np.int8)
    if len(np.unique(y)) < 2:
        raise ValueError("cannot measure on rows that all have the same outcome")
    return Metrics(
        rows=len(y),
        positives=int(y.sum()),
        base_rate=float(y.mean()),
        roc_auc=float(roc_auc_score(y, probability)),
        pr_auc=float(average_precision_score(y, probability)),
        log_loss=log_loss(y, probability),
        brier=brier_score(y, probability),
        ece=expected_calibration_error(probability, y, bins),
        lift_top_5pct=lift_at(probability, y, 0.05),
        lift_top_10pct=lift_at(probability, y, 0.10),
        raw_log_loss=None if raw_probability is None else log_loss(y, raw_probability),
    )
