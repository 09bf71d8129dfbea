"""Vectorised sampling helpers of the synthetic data generator (times in epoch seconds)."""

from __future__ import annotations

import numpy as np

DAY = 86_400
HOUR = 3_600


def norm(weight) -> np.ndarray:
    """Weights scaled to probabilities."""
    weight = np.asarray(weight, dtype=np.float64)
    return weight / weight.sum()


def cdf(weight) -> np.ndarray:
    """Cumulative distribution of weights, ending at exactly 1 (for `searchsorted` draws)."""
    cumulative = np.cumsum(np.asarray(weight, dtype=np.float64))
    cumulative /= cumulative[-1]
    cumulative[-1] = 1.0
    return cumulative


def choice_rows(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One categorical draw per element, from the probability row `table[row]`."""
    cumulative = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    cumulative[:, -1] = 1.0
    # Row r's CDF shifted into (r, r + 1]: a single search serves every row.
    shifted = (cumulative + np.arange(len(table))[:, None]).ravel()
    pick = np.searchsorted(shifted, row + rng.random(len(row)), side="right")
    return pick - row * table.shape[1]


def repeat_poisson(rng: np.random.Generator, idx: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """`idx` repeated by Poisson(lam) counts: one entry per event of a process."""
    return np.repeat(idx, rng.poisson(np.maximum(lam, 0.0)))


def truncated_exponential(
    rng: np.random.Generator, scale: np.ndarray | float, limit: np.ndarray
) -> np.ndarray:
    """Exponential(scale) delays conditioned on being below `limit` (inverse CDF)."""
    u = rng.random(len(limit))
    return -scale * np.log1p(u * np.expm1(-limit / scale))


def business_hours(rng: np.random.Generator, t: np.ndarray, tz: np.ndarray) -> np.ndarray:
    """Move times to a plausible working moment of the same (local) day; most weekend
    activity moves to a weekday of the same week."""
    n = len(t)
    local_day = (np.asarray(t, dtype=np.float64) + tz * HOUR) // DAY
    weekday = (local_day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    move = (weekday >= 5) & (rng.random(n) < 0.75)
    local_day[move] += rng.integers(0, 5, int(move.sum())) - weekday[move]
    hour = np.where(
        rng.random(n) < 0.85, np.clip(rng.normal(13.5, 2.8, n), 6, 22), rng.uniform(0, 24, n)
    )
    return (local_day * DAY + (hour - tz) * HOUR).astype(np.int64)


def not_before(rng: np.random.Generator, t: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Nothing happens before the lead exists: early events land just after creation."""
    return np.where(t < created, created + rng.integers(60, 2 * HOUR, len(t)), t)
