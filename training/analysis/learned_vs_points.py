"""Learned model vs hand-weighted points on the same out-of-time leads.

`learned_vs_points` scores the model's held-out rows (see `training.analysis.heldout`) both ways and
explains both: the model through its per-feature contributions, the points through their
per-rule breakdown. The tables below are what an analyst needs to decide between the two:
deals caught at equal sales volume, conversion by score bucket, tier against tier, and the
leads where the two disagree most.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.directory import ContractData
from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.points import TIERS as POINTS_TIERS
from features.points import PointsRules
from runtime.model import Reasons, ScoringModel
from runtime.reasons import Reason
from training.analysis.drivers import action_effects
from training.analysis.heldout import held_out_from, model_rows
from training.baseline import points_on_rows
from training.evaluate import decile_table, positives_in_top
from training.report import MODEL as MODEL_METHOD  # method names as in the training report
from training.report import POINTS as POINTS_METHOD

PROBABILITY = "probability"
LOG_ODDS = "log_odds"
TIER = "tier"
POINTS = "points"
POINTS_TIER = "points_tier"
REASONS = "reasons"
ORACLE = "oracle"


@dataclass(frozen=True)
class LearnedVsPoints:
    """Held-out rows scored by the model and by the points, with both explanations.

    `frame` has one row per (lead, cut-off): lead_id, as_of, label, probability, log_odds,
    tier, reasons, points, points_tier, one column per points rule (`action:...`, `fit:...`)
    and, on synthetic data, the oracle's true probability. `features` and `contributions`
    (the model's log-odds contribution of each feature) and `action_effects` (log-odds the
    lead would lose without each action, see `training.analysis.drivers`) are aligned with it.
    """

    frame: pd.DataFrame
    features: pd.DataFrame
    contributions: pd.DataFrame
    action_effects: pd.DataFrame
    rule_columns: tuple[str, ...]
    model: ScoringModel
    rules: PointsRules

    @property
    def y(self) -> np.ndarray:
        return self.frame[LABEL].to_numpy(dtype=np.int8)

    @property
    def points_breakdown(self) -> pd.DataFrame:
        return self.frame[list(self.rule_columns)]

    def scores(self) -> dict[str, np.ndarray]:
        """Each method's score of the rows (higher = more likely to buy)."""
        return {
            MODEL_METHOD: self.frame[PROBABILITY].to_numpy(),
            POINTS_METHOD: self.frame[POINTS].to_numpy(),
        }

    def tier_shares(self) -> dict[str, float]:
        """Share of rows in each method's SQL tier and in its SQL + MQL tiers."""
        return {
            "learned SQL": float((self.frame[TIER] == "sql").mean()),
            "learned SQL + MQL": float(self.frame[TIER].isin(["sql", "mql"]).mean()),
            "points SQL": float((self.frame[POINTS_TIER] == "sql").mean()),
            "points SQL + MQL": float(self.frame[POINTS_TIER].isin(["sql", "mql"]).mean()),
        }


def learned_vs_points(
    contract: ContractData, model: ScoringModel, rules: PointsRules, *, top_reasons: int = 2
) -> LearnedVsPoints:
    """Score the model's held-out rows of `contract` with the model and with `rules`.

    Reasons are the service's (`runtime.reasons`): up to `top_reasons` raising the score,
    then up to `top_reasons` lowering it.
    """
    built = model_rows(contract, model)
    held = built.take(built.held_out)
    if not len(held.rows) or len(np.unique(held.y)) < 2:
        raise ValueError(
            "the data has no held-out rows with both outcomes from "
            f"{held_out_from(model):%Y-%m-%d} on (the first cut-off the model did not learn "
            "from): pass newer data, or judge the model the report's test figures belong to "
            "on the data it was trained on (`runs:/RUN_ID/measured_model` of its training run)."
        )
    prediction = model.predict_features(held.features, Reasons(top_reasons, top_reasons))
    contributions = pd.DataFrame(prediction.contributions, columns=list(model.feature_names))
    points = points_on_rows(rules, contract.leads, contract.journeys, held.rows)
    frame = held.rows.assign(
        **{
            PROBABILITY: prediction.probability,
            LOG_ODDS: prediction.raw,
            TIER: prediction.tier,
            REASONS: _reason_texts(prediction.reasons or [[] for _ in range(len(held.rows))]),
            POINTS: points.total,
            POINTS_TIER: points.tier,
        }
    )
    frame = pd.concat([frame, points.rules.reset_index(drop=True)], axis=1)
    if contract.oracle is not None:
        truth = contract.oracle.set_index(LEAD_ID)["p_convert"]
        frame[ORACLE] = frame[LEAD_ID].map(truth).to_numpy(dtype=float)
    return LearnedVsPoints(
        frame=frame,
        features=held.features,
        contributions=contributions,
        action_effects=action_effects(
            model, contract.leads, contract.journeys, held.rows, held.features
        ),
        rule_columns=tuple(points.rules.columns),
        model=model,
        rules=rules,
    )


def _reason_texts(reasons: list[list[Reason]]) -> list[str]:
    """`+ Requested a demo 2 days ago (odds ×3.1); - Job title: student (odds ×0.4)` per row."""
    return [
        "; ".join(
            f"{'+' if r.direction == 'positive' else '-'} {r.text} "
            f"(odds ×{np.exp(r.contribution):.2f})"
            for r in row
        )
        for row in reasons
    ]


def equal_volume_table(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    volumes: Mapping[str, float],
    *,
    baseline: str = POINTS_METHOD,
) -> pd.DataFrame:
    """Deals each method catches when sales get the same number of leads.

    One row per named volume (share of rows handed to sales, best scores first): the number
    of leads, then the deals each method's top leads hold (ties shared pro rata), then each
    other method's extra deals over `baseline`.
    """
    y = np.asarray(y)
    total = float(y.sum())
    rows = []
    for name, share in volumes.items():
        row: dict[str, object] = {
            "volume": name,
            "leads handed to sales": round(share * len(y)),
            "share of leads": share,
        }
        caught = {m: positives_in_top(s, y, share) for m, s in scores.items()}
        for method, deals in caught.items():
            row[f"deals caught: {method}"] = deals
            row[f"share of all deals: {method}"] = deals / total if total else np.nan
        for method, deals in caught.items():
            if method != baseline and baseline in caught:
                row[f"extra deals: {method} vs {baseline}"] = deals - caught[baseline]
        rows.append(row)
    return pd.DataFrame(rows)


def default_volumes(comparison: LearnedVsPoints) -> dict[str, float]:
    """Volumes worth comparing at: each method's tier sizes, then fixed shares of leads."""
    volumes = {f"{name} tier size": share for name, share in comparison.tier_shares().items()}
    volumes |= {f"top {p:g}% of leads": p / 100 for p in (5, 10, 20)}
    return {name: share for name, share in volumes.items() if share > 0}


def plain_summary(table: pd.DataFrame, total_deals: int) -> pd.DataFrame:
    """The equal-volume table in words a marketing director reads in ten seconds."""
    methods = [c.removeprefix("deals caught: ") for c in table if c.startswith("deals caught: ")]
    out = pd.DataFrame({"If sales get": table["volume"]})
    out["leads"] = table["leads handed to sales"].map("{:,}".format)
    for method in methods:
        deals = table[f"deals caught: {method}"]
        out[f"deals found by {method}"] = [
            f"{d:,.0f} of {total_deals:,} ({d / total_deals:.0%})" if total_deals else "–"
            for d in deals
        ]
    for column in (c for c in table if c.startswith("extra deals: ")):
        out[column.removeprefix("extra deals: ")] = table[column].map("{:+,.0f}".format)
    return out


def bucket_table(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Conversion rate per tenth of the leads by each method's score (1 = best tenth)."""
    columns = {}
    for method, score in scores.items():
        deciles = decile_table(score, y)
        columns[f"conversion rate: {method}"] = [d.conversion_rate for d in deciles]
        columns[f"lowest score in bucket: {method}"] = [d.min_probability for d in deciles]
    return pd.DataFrame(columns, index=pd.RangeIndex(1, len(deciles) + 1, name="bucket"))


def tier_cross_table(comparison: LearnedVsPoints) -> pd.DataFrame:
    """Learned tier against points tier: leads, deals and conversion rate of every pair."""
    frame = comparison.frame
    order = list(comparison.model.spec.tiers.names)
    model_tier = pd.Categorical(frame[TIER], categories=order, ordered=True)
    points_tier = pd.Categorical(frame[POINTS_TIER], categories=list(POINTS_TIERS), ordered=True)
    table = (
        pd.DataFrame({"learned tier": model_tier, "points tier": points_tier, "y": frame[LABEL]})
        .groupby(["learned tier", "points tier"], observed=False)["y"]
        .agg(leads="size", deals="sum")
        .reset_index()
    )
    table["conversion_rate"] = table["deals"] / table["leads"].where(table["leads"] > 0)
    return table


def cross_table_grid(cross: pd.DataFrame) -> pd.DataFrame:
    """The cross table as a grid of "leads (conversion rate)" cells, learned tiers as rows."""
    cells = cross.assign(
        cell=[
            f"{n:,} ({r:.1%})" if n else "0"
            for n, r in zip(cross["leads"], cross["conversion_rate"], strict=True)
        ]
    )
    return cells.pivot(index="learned tier", columns="points tier", values="cell")


def disagreements(comparison: LearnedVsPoints, n: int = 5) -> pd.DataFrame:
    """The `n` leads the model ranks far above the points, and the `n` far below.

    Ranks are percentiles among the held-out rows (100 = best); `gap` = model percentile -
    points percentile. Each row carries the model's reasons and the points breakdown.
    """
    frame = comparison.frame
    model_pct = frame[PROBABILITY].rank(pct=True) * 100
    points_pct = frame[POINTS].rank(pct=True) * 100
    gap = model_pct - points_pct
    chosen = pd.concat([gap.nlargest(n), gap.nsmallest(n)]).index
    breakdown = comparison.points_breakdown
    out = pd.DataFrame(
        {
            LEAD_ID: frame.loc[chosen, LEAD_ID],
            AS_OF: frame.loc[chosen, AS_OF],
            "converted": frame.loc[chosen, LABEL].astype(bool),
            "model percentile": model_pct[chosen].round(),
            PROBABILITY: frame.loc[chosen, PROBABILITY],
            TIER: frame.loc[chosen, TIER],
            "points percentile": points_pct[chosen].round(),
            POINTS: frame.loc[chosen, POINTS],
            POINTS_TIER: frame.loc[chosen, POINTS_TIER],
            "gap": gap[chosen],
            "who ranks it higher": np.where(gap[chosen] > 0, MODEL_METHOD, POINTS_METHOD),
            "model's reasons": frame.loc[chosen, REASONS],
            "points breakdown": [_breakdown_text(breakdown.loc[i]) for i in chosen],
        }
    )
    return out.reset_index(drop=True)


def _breakdown_text(points: pd.Series, top: int = 5) -> str:
    """`demo request +40, seniority +15, ...`: the largest rules of one row."""
    points = points[points != 0]
    points = points.reindex(points.abs().sort_values(ascending=False).index)[:top]
    if points.empty:
        return "no points"
    return ", ".join(
        f"{rule.partition(':')[2].replace('_', ' ')} {value:+.0f}" for rule, value in points.items()
    )
