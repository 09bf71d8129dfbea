"""Measure the training procedure the way it is used: refit on the past, tested on what came after.

A rolling-origin backtest runs the procedure (`training.procedure`) at several origins: the
last is the test slice's start, each earlier one a test-slice length before the next. At each
origin it learns from every row labelled by then and is tested on the leads first cut off
in the following block, beside the hand-weighted points on the same rows. The warm start with
the best mean (ROC AUC + PR AUC) over the origins is chosen; then that start with recent rows
weighing more (each half-life of `recency_half_lives_days`) is compared with it, and the best
of all is served.

The learning curve runs the same procedure at the last origin on a random share of the leads,
as if the team had only that many, always tested on the whole test slice, so the sizes are
compared on the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.journeys import SECONDS_PER_DAY
from features.pipeline import FeaturePipeline
from runtime.artifact import ModelMetadata
from training.evaluate import evaluate
from training.learn import Recipe
from training.method_comparison import MethodRow, compare_scores
from training.procedure import Fitted, fit_procedure, labelled_before
from training.split import lead_timeline
from training.tiers import tier_table, week_of
from training.warm_start import Evidence, WarmStart

if TYPE_CHECKING:
    from training.train import TrainConfig

MODEL = "learned model"
POINTS = "hand-weighted points"


class BacktestConfig(BaseModel):
    """How many origins the backtest has, and the learning curve's sizes."""

    model_config = ConfigDict(extra="forbid")

    origins: int = Field(
        3,
        ge=1,
        description="Backtest origins: the last at the test slice's start, each earlier one "
        "a test-slice length before the next. Origins that leave too few conversions are "
        "skipped, and the report says so.",
    )
    learning_curve: tuple[int, ...] = Field(
        (),
        description="Lead counts to measure the procedure at (e.g. 5000, 10000, 20000): "
        "model against points on the test slice, as if the team had only that many leads.",
    )
    recency_half_lives_days: tuple[float, ...] = Field(
        (180.0,),
        description="Half-lives (days) of recency weights compared with equal weights for the "
        "chosen warm start: a row this much older than the latest weighs half. Lead data "
        "drifts (campaigns, markets, sales teams); the backtest says whether it pays here.",
    )


class OriginResult(BaseModel):
    """The procedure fitted at one origin and tested on the block after it."""

    origin: datetime
    block_end: datetime | None  # None: to the end of the data
    train_rows: int
    train_positives: int
    test_rows: int
    test_positives: int
    sql_share: float  # the model's SQL tier's share of the block: the volume compared at
    ece: float
    model: MethodRow
    points: MethodRow | None


class CandidateResult(BaseModel):
    """One warm start (and recency weighting) across the origins."""

    warm_start: WarmStart
    half_life_days: float | None = None
    origins: list[OriginResult]

    @property
    def label(self) -> str:
        """'funnel', or 'funnel, half-life 180 d' with recency weights."""
        if self.half_life_days is None:
            return str(self.warm_start)
        return f"{self.warm_start}, half-life {self.half_life_days:g} d"

    def mean(self, field: str, method: str = MODEL) -> float:
        """Mean of a `MethodRow` field (or `ece`) over the origins, for the model or points."""
        if field == "ece":
            return float(np.mean([o.ece for o in self.origins]))
        rows = [o.model if method == MODEL else o.points for o in self.origins]
        return float(np.mean([getattr(r, field) for r in rows if r is not None]))

    @property
    def choice_score(self) -> float:
        """What the choice maximises: mean ROC AUC + mean PR AUC."""
        return self.mean("roc_auc") + self.mean("pr_auc")


class Backtest(BaseModel):
    """Every candidate's backtest and the one chosen for serving."""

    candidates: list[CandidateResult]
    chosen: WarmStart
    half_life_days: float | None = None
    notes: list[str] = []

    @property
    def best(self) -> CandidateResult:
        return next(
            c
            for c in self.candidates
            if (c.warm_start, c.half_life_days) == (self.chosen, self.half_life_days)
        )

    def markdown(self) -> str:
        """Per-origin figures of the chosen start, then every start's means."""
        best = self.best
        lines = [
            f"Served: **{best.label}** (best mean ROC AUC + PR AUC over "
            f"{len(best.origins)} origins).",
            "",
            "| origin | train rows | test rows (conversions) | ROC AUC model / points | "
            "PR AUC model / points | deals in SQL tier model / points | ECE |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for o in best.origins:
            p = o.points
            lines.append(
                f"| {o.origin:%Y-%m-%d} | {o.train_rows:,} | {o.test_rows:,} "
                f"({o.test_positives:,}) | {o.model.roc_auc:.3f} / {_f(p, 'roc_auc')} | "
                f"{o.model.pr_auc:.3f} / {_f(p, 'pr_auc')} | "
                f"{o.model.deals_captured_at_sql_volume:.1%} / "
                f"{_f(p, 'deals_captured_at_sql_volume', pct=True)} | {o.ece:.4f} |"
            )
        has_points = all(o.points is not None for o in best.origins)
        lines.append(
            f"| **mean** | | | {best.mean('roc_auc'):.3f} / "
            f"{best.mean('roc_auc', POINTS) if has_points else float('nan'):.3f} | "
            f"{best.mean('pr_auc'):.3f} / "
            f"{best.mean('pr_auc', POINTS) if has_points else float('nan'):.3f} | "
            f"{best.mean('deals_captured_at_sql_volume'):.1%} / "
            + (f"{best.mean('deals_captured_at_sql_volume', POINTS):.1%}" if has_points else "–")
            + f" | {best.mean('ece'):.4f} |"
        )
        lines += [
            "",
            "| candidate | mean ROC AUC | mean PR AUC | mean deals in SQL tier | mean ECE |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for c in self.candidates:
            mark = " (served)" if c is best else ""
            lines.append(
                f"| {c.label}{mark} | {c.mean('roc_auc'):.3f} | {c.mean('pr_auc'):.3f} | "
                f"{c.mean('deals_captured_at_sql_volume'):.1%} | {c.mean('ece'):.4f} |"
            )
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def _f(row: MethodRow | None, field: str, pct: bool = False) -> str:
    if row is None:
        return "–"
    value = getattr(row, field)
    return f"{value:.1%}" if pct else f"{value:.3f}"


@dataclass(frozen=True)
class BacktestRun:
    """The backtest, and the chosen recipe's fit at the last origin (the test slice's model)."""

    backtest: Backtest
    at_test_start: Fitted
    recipe: Recipe  # the chosen one, for the served fit


def origins(test_start: float, last_start: float, count: int) -> list[tuple[float, float]]:
    """(origin, block end) pairs, earliest first: the last block is the test slice (to the end
    of the data), each earlier one a test-slice length before."""
    length = max(last_start - test_start, SECONDS_PER_DAY)
    return [
        (test_start - k * length, np.inf if k == 0 else test_start - (k - 1) * length)
        for k in reversed(range(count))
    ]


def run_backtest(
    frame: pd.DataFrame,
    pipeline: FeaturePipeline,
    config: TrainConfig,
    evidence: Evidence,
    test_start: float,
) -> BacktestRun:
    """Every usable warm start at every origin, then the best of them with each recency
    half-life; the best of all is chosen (see the module's docstring)."""
    _, start = lead_timeline(frame)
    horizon = config.training_set.horizon_days
    candidates = evidence.usable(config.warm_start.candidates) or [WarmStart.NONE]
    notes = list(evidence.notes)
    usable: list[tuple[float, float]] = []
    for origin, end in origins(test_start, float(start.max()), config.backtest.origins):
        learn = labelled_before(frame, origin, horizon)
        block = (start >= origin) & (start < end)
        have = (int(frame[LABEL].iloc[learn].sum()), int(frame[LABEL][block].sum()))
        too_few = have[0] < config.min_train_positives or have[1] < config.min_test_positives
        if too_few and end != np.inf:  # the test slice's origin is measured whatever it holds
            notes.append(
                f"origin {_day(origin):%Y-%m-%d} skipped: {have[0]} conversions to learn from "
                f"and {have[1]} to test on (needs {config.min_train_positives} and "
                f"{config.min_test_positives})"
            )
        else:
            usable.append((origin, end))

    def compare(recipe: Recipe) -> tuple[CandidateResult, Fitted]:
        rows, last = [], None
        for origin, end in usable:
            learn = frame.iloc[labelled_before(frame, origin, horizon)]
            block = frame[(start >= origin) & (start < end)]
            last = fit_procedure(learn, pipeline, config, recipe)
            rows.append(measure(last, block, evidence, origin, end, config))
        assert last is not None  # the test slice's origin is always measured
        result = CandidateResult(
            warm_start=recipe.start, half_life_days=recipe.half_life_days, origins=rows
        )
        return result, last

    runs = [compare(Recipe(c, evidence)) for c in candidates]
    first = max(runs, key=lambda run: run[0].choice_score)[0].warm_start
    runs += [
        compare(Recipe(first, evidence, half_life))
        for half_life in config.backtest.recency_half_lives_days
    ]
    best, fitted = max(runs, key=lambda run: run[0].choice_score)
    return BacktestRun(
        backtest=Backtest(
            candidates=[result for result, _ in runs],
            chosen=best.warm_start,
            half_life_days=best.half_life_days,
            notes=notes,
        ),
        at_test_start=fitted,
        recipe=Recipe(best.warm_start, evidence, best.half_life_days),
    )


def measure(
    fitted: Fitted,
    block: pd.DataFrame,
    evidence: Evidence,
    origin: float,
    end: float,
    config: TrainConfig,
) -> OriginResult:
    """The fitted procedure's figures on `block`, beside the points on the same rows."""
    model = fitted.scoring_model(_metadata(config))
    prediction = model.predict_features(block)
    y = block[LABEL].to_numpy(dtype=np.int8)
    tiers = tier_table(model.spec.tiers, prediction.tier, y, week_of(block[AS_OF]))
    scores = {MODEL: prediction.probability}
    if evidence.points is not None:
        scores[POINTS] = evidence.points.loc[block.index].to_numpy()
    compared = compare_scores(y, scores, sql_share=tiers[0].share_of_leads)
    return OriginResult(
        origin=_day(origin),
        block_end=None if end == np.inf else _day(end),
        train_rows=len(fitted.rows),
        train_positives=int(fitted.rows[LABEL].sum()),
        test_rows=len(block),
        test_positives=int(y.sum()),
        sql_share=tiers[0].share_of_leads,
        ece=evaluate(prediction.probability, y, bins=config.ece_bins).ece,
        model=compared[0],
        points=compared[1] if len(compared) > 1 else None,
    )


class CurvePoint(BaseModel):
    """The procedure learned from a sample of the leads, on the whole test slice."""

    leads: int  # the team's leads in all: the sample is this share of the full history
    train_rows: int
    train_positives: int
    warm_start: WarmStart
    result: OriginResult


def learning_curve(
    frame: pd.DataFrame,
    pipeline: FeaturePipeline,
    config: TrainConfig,
    evidence: Evidence,
    test_start: float,
    sizes: Sequence[int],
) -> list[CurvePoint]:
    """Each warm start at each size (lead counts below the data's own), tested on the test
    slice; the full data's point is the backtest's last origin."""
    _, start = lead_timeline(frame)
    total = frame[LEAD_ID].nunique()
    learn = frame.iloc[labelled_before(frame, test_start, config.training_set.horizon_days)]
    test = frame[start >= test_start]
    ids = learn[LEAD_ID].unique()
    rng = np.random.default_rng(config.seed)
    points = []
    for size in sorted(s for s in sizes if s < total):
        chosen = rng.permutation(ids)[: round(len(ids) * size / total)]
        sample = learn[learn[LEAD_ID].isin(chosen)]
        for candidate in evidence.usable(config.warm_start.candidates) or [WarmStart.NONE]:
            fitted = fit_procedure(sample, pipeline, config, Recipe(candidate, evidence))
            points.append(
                CurvePoint(
                    leads=size,
                    train_rows=len(sample),
                    train_positives=int(sample[LABEL].sum()),
                    warm_start=candidate,
                    result=measure(fitted, test, evidence, test_start, np.inf, config),
                )
            )
    return points


def curve_markdown(points: Sequence[CurvePoint]) -> str:
    """The learning curve as a Markdown table."""
    lines = [
        "| leads | warm start | train rows (conversions) | ROC AUC model / points | "
        "PR AUC model / points | deals in SQL tier model / points | ECE |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in points:
        r = p.result
        lines.append(
            f"| {p.leads:,} | {p.warm_start} | {p.train_rows:,} ({p.train_positives:,}) | "
            f"{r.model.roc_auc:.3f} / {_f(r.points, 'roc_auc')} | {r.model.pr_auc:.3f} / "
            f"{_f(r.points, 'pr_auc')} | {r.model.deals_captured_at_sql_volume:.1%} / "
            f"{_f(r.points, 'deals_captured_at_sql_volume', pct=True)} | {r.ece:.4f} |"
        )
    return "\n".join(lines) + "\n"


def _metadata(config: TrainConfig) -> ModelMetadata:
    return ModelMetadata(
        name=config.name,
        target=config.training_set.target.value,
        horizon_days=config.training_set.horizon_days,
        trained_at=datetime.now(UTC),
    )


def _day(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)
