"""Tier thresholds from rules stated in business terms, chosen on the calibration slice.

Tiers are ordered best first (default `sql`, `mql`, `nurture`). Each tier but the last has a
rule about "this tier or better": at most a share of each week's leads (what sales can
handle), at least a precision (share of them that convert), at least a recall (share of all
eventual deals they capture). Ceilings (share, precision) set the threshold as low as they
allow; a recall floor alone sets it as high as it allows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.journeys import SECONDS_PER_DAY, to_epoch_seconds
from runtime.artifact import Tiers


class TierRule(BaseModel):
    """The rule for one tier (and the tiers above it, taken together)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    max_share_per_week: float | None = Field(
        None, gt=0, le=1, description="At most this share of a week's leads, on average."
    )
    min_precision: float | None = Field(
        None, gt=0, le=1, description="At least this share of these leads convert."
    )
    min_recall: float | None = Field(
        None, gt=0, le=1, description="These leads include at least this share of all deals."
    )

    @model_validator(mode="after")
    def _has_a_rule(self) -> TierRule:
        if (
            self.max_share_per_week is None
            and self.min_precision is None
            and self.min_recall is None
        ):
            raise ValueError(
                f"tier {self.name!r} needs a rule: max_share_per_week, min_precision or min_recall"
            )
        return self

    def describe(self) -> str:
        parts = []
        if self.max_share_per_week is not None:
            parts.append(f"at most {self.max_share_per_week:.0%} of a week's leads")
        if self.min_precision is not None:
            parts.append(f"at least {self.min_precision:.0%} of them convert")
        if self.min_recall is not None:
            parts.append(f"at least {self.min_recall:.0%} of all deals")
        return "this tier or better: " + ", ".join(parts)


class TierPolicy(BaseModel):
    """Tiers best first: one rule per tier, then the name of the remaining tier."""

    model_config = ConfigDict(extra="forbid")

    rules: tuple[TierRule, ...] = (
        TierRule(name="sql", max_share_per_week=0.05),
        TierRule(name="mql", min_recall=0.8),
    )
    last: str = "nurture"

    @property
    def names(self) -> tuple[str, ...]:
        return (*(r.name for r in self.rules), self.last)

    @model_validator(mode="after")
    def _names_unique(self) -> TierPolicy:
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"tier names must be unique: {self.names}")
        return self


class TierRow(BaseModel):
    """What one tier holds on a set of rows."""

    tier: str
    threshold: float | None
    rows: int
    share_of_leads: float
    mean_weekly_share: float | None
    conversion_rate: float | None
    share_of_deals: float


def week_of(as_of: pd.Series) -> np.ndarray:
    """Monday-based week number of each cut-off (1970-01-01 was a Thursday)."""
    return np.floor((to_epoch_seconds(as_of) / SECONDS_PER_DAY + 3) / 7).astype(np.int64)


def _week_weights(weeks: np.ndarray | None, n: int) -> np.ndarray:
    """Row weights whose sum over selected rows is the mean over weeks of the weekly share."""
    if weeks is None:
        return np.full(n, 1.0 / n)
    _, index, counts = np.unique(weeks, return_inverse=True, return_counts=True)
    return 1.0 / (len(counts) * counts[index])


def choose_thresholds(
    probability: np.ndarray,
    y: np.ndarray,
    weeks: np.ndarray | None,
    policy: TierPolicy,
) -> Tiers:
    """Thresholds (best tier first) meeting `policy` on these rows, with the rule as text.

    Rules that cannot all hold are resolved in favour of the ceilings (capacity,
    precision), and the policy text says which promise was missed.
    """
    probability = np.asarray(probability, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    order = np.argsort(-probability, kind="stable")
    p_sorted = probability[order]
    # Group equal probabilities: a threshold can only fall between distinct values.
    group_end = np.flatnonzero(np.r_[p_sorted[1:] != p_sorted[:-1], True])
    values = p_sorted[group_end]
    share = np.cumsum(_week_weights(weeks, len(y))[order])[group_end]
    positives = np.cumsum(y[order])[group_end]
    precision = positives / (group_end + 1)
    recall = positives / max(y.sum(), 1.0)

    def last_true(ok: np.ndarray) -> int:
        hits = np.flatnonzero(ok)
        return int(hits[-1]) if hits.size else -1

    thresholds, texts, previous = [], {}, -1
    for rule in policy.rules:
        ceiling = len(values) - 1
        if rule.max_share_per_week is not None:
            ceiling = min(ceiling, last_true(share <= rule.max_share_per_week + 1e-12))
        if rule.min_precision is not None:
            ceiling = min(ceiling, last_true(precision >= rule.min_precision))
        floor = -1
        if rule.min_recall is not None:
            floor = int(np.argmax(recall >= rule.min_recall - 1e-12))
        has_ceiling = rule.max_share_per_week is not None or rule.min_precision is not None
        chosen = max(ceiling if has_ceiling else floor, previous)
        text = rule.describe()
        if has_ceiling and rule.min_recall is not None and floor > ceiling:
            text += f" (recall floor not reachable within the ceilings: {recall[chosen]:.0%})"
        if chosen > ceiling:
            text += " (an earlier tier already holds more leads than this rule allows)"
        thresholds.append(_threshold_between(values, chosen))
        texts[rule.name] = text
        previous = chosen
    texts[policy.last] = "everything else"
    return Tiers(names=policy.names, thresholds=tuple(thresholds), policy=texts)


def _threshold_between(values: np.ndarray, k: int) -> float:
    """A threshold keeping the k+1 highest distinct values above it (strictly)."""
    if k < 0:
        return 1.0
    if k >= len(values) - 1:
        return 0.0
    return float((values[k] + values[k + 1]) / 2)


def tier_table(
    tiers: Tiers, assigned: np.ndarray, y: np.ndarray, weeks: np.ndarray | None = None
) -> list[TierRow]:
    """Share of leads, conversion rate and share of deals of each of a model's tiers on these
    rows; `assigned` are the tiers the model gave them (`Prediction.tier`)."""
    return assigned_tier_table(tiers.names, assigned, y, weeks, thresholds=tiers.thresholds)


def assigned_tier_table(
    names: Sequence[str],
    assigned: np.ndarray,
    y: np.ndarray,
    weeks: np.ndarray | None = None,
    thresholds: Sequence[float] = (),
) -> list[TierRow]:
    """The same table for tiers assigned by any method (e.g. the points rules' own)."""
    y = np.asarray(y, dtype=np.float64)
    weights = _week_weights(weeks, len(y)) if weeks is not None else None
    total_deals = y.sum()
    rows = []
    for i, name in enumerate(names):
        mask = assigned == name
        n = int(mask.sum())
        rows.append(
            TierRow(
                tier=name,
                threshold=thresholds[i] if i < len(thresholds) else None,
                rows=n,
                share_of_leads=n / len(y),
                mean_weekly_share=None if weights is None else float(weights[mask].sum()),
                conversion_rate=float(y[mask].mean()) if n else None,
                share_of_deals=float(y[mask].sum() / total_deals) if total_deals else 0.0,
            )
        )
    return rows
