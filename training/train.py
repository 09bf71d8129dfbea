"""Train one packaged scoring model from a training set, and measure it honestly.

`train_model` runs named stages, each returning what it decided: audit the features ->
split by time (and check there is enough data) -> learn a booster on the train slice and
check that it does not lean on one column out of line (the dominance check, on the
calibration slice) -> backtest the training procedure (`training.procedure`: warm start,
early stopping, refit, calibration and tiers) at rolling origins, choosing the warm start ->
package the procedure fitted before the test slice and test that loaded artifact on the test
slice, beside the hand-weighted points and (synthetic data) the oracle -> fit the same
procedure on every labelled row and package it: the served model -> report.
`train_from_directory` builds the training set from a contract directory first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field

from features.contract.directory import ContractData, read_contract_dir
from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.contract.validation_report import no_events_notice
from features.engine import EngineConfig
from features.journeys import Journeys
from features.pipeline import FeaturePipeline
from features.points import TIERS as POINTS_TIERS
from features.points import PointsRules
from features.trainingset import TrainingSet, TrainingSetConfig, build_training_set
from runtime.artifact import ModelMetadata
from runtime.model import Prediction, ScoringModel
from training.audit.dominance import dominant_candidate, measure_dominance
from training.audit.leakage import AuditConfig, LeakageAudit, audit_columns, audit_training_set
from training.backtest import (
    BacktestConfig,
    learning_curve,
    run_backtest,
)
from training.baseline import points_on_rows
from training.evaluate import Metrics, decile_table, evaluate, reliability_table
from training.fit import BoosterParams, gain_importance
from training.learn import LearnedBooster, learn_booster
from training.method_comparison import MethodRow, compare_scores
from training.minimum_data import AUTO_SPLIT_OPTION, refuse_or_warn, shortfalls, split_advice
from training.package import metric_values, package_model, score_percentiles, with_metadata
from training.plots import report_figures
from training.procedure import Fitted, fit_procedure, labelled_before
from training.provenance import code_version, frame_fingerprint
from training.report import (
    METHOD_KEYS,
    MODEL,
    ORACLE,
    POINTS,
    ServedSummary,
    TrainReport,
    write_report,
)
from training.split import SplitConfig, TimeSplit, feasible_split, time_split
from training.tiers import (
    TierPolicy,
    TierRow,
    assigned_tier_table,
    tier_table,
    week_of,
)
from training.tune import TuneConfig
from training.warm_start import WarmStartConfig, gather_evidence

T = TypeVar("T")


class TrainConfig(BaseModel):
    """Everything that defines a training run; logged with the model."""

    # A misspelt key in a config file is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")

    name: str = Field("lead-conversion", description="Model name in reports and the registry.")
    training_set: TrainingSetConfig = Field(
        default_factory=TrainingSetConfig,
        description="How rows and labels are made from raw data (used with `--data`); its "
        "target and horizon also describe a training set read from a file.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    booster: BoosterParams = Field(default_factory=BoosterParams)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    tiers: TierPolicy = Field(default_factory=TierPolicy)
    min_category_count: int = Field(
        20, ge=1, description="A category seen in fewer train rows than this counts as missing."
    )
    refit_train_slice: bool = Field(
        True,
        description="After early stopping picks the number of trees, refit on all the rows "
        "(the tree count scaled by how many more there are), so the latest rows also teach "
        "the model.",
    )
    warm_start: WarmStartConfig = Field(default_factory=WarmStartConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    calibration_folds: int = Field(5, ge=2)
    ece_bins: int = Field(10, ge=2)
    min_train_positives: int = Field(100, ge=1)
    min_calibration_positives: int = Field(30, ge=1)
    min_test_positives: int = Field(30, ge=1)
    force: bool = Field(False, description="Train even when the minimum-data check fails.")
    auto_split: bool = Field(
        False,
        description="When the split leaves a slice too few conversions, use the split by shares "
        "that leaves every slice enough (purge gaps unchanged), and say so.",
    )
    audit: AuditConfig = Field(
        default_factory=AuditConfig,
        description="Leakage audit of the features: flagged ones are left out unless kept.",
    )
    seed: int = 0
    engine: EngineConfig = Field(
        default_factory=EngineConfig,
        description="Where the training set is built and the booster trained (`--engine`).",
    )


@dataclass
class TrainResult:
    """The served model, its report, the split it was measured on and its figures.

    `measured` is the same procedure fitted on the rows labelled before the test slice: the
    model the test figures belong to (the served one has learned from the test slice too).
    """

    model: ScoringModel
    report: TrainReport
    split: TimeSplit
    figures: dict[str, Figure] = field(default_factory=dict)
    measured: ScoringModel | None = None

    def write(self, out_dir: Path) -> Path:
        """report.json, report.md and one PNG per figure into `out_dir`."""
        return write_report(out_dir, self.report, self.figures)


@dataclass(frozen=True)
class TrainedFromData:
    """A model trained from a contract directory, with the data and training set behind it."""

    result: TrainResult
    training_set: TrainingSet
    contract: ContractData


class Progress(Protocol):
    """Announces a long stage, runs it, and says what it made (e.g. the quickstart's lines)."""

    def run(self, name: str, step: Callable[[], T], detail: Callable[[T], str]) -> T: ...


def train_from_directory(
    data_dir: Path,
    config: TrainConfig,
    *,
    rules: PointsRules | None = None,
    progress: Progress | None = None,
) -> TrainedFromData:
    """Build the training set of a contract directory and train on it, beside the
    hand-weighted points (`rules`, default: the shipped ones, each fit rule only where the
    leads have its column) and, when the directory holds one, the oracle. The report says
    which rules were left out, and what a model without events cannot learn."""
    contract = read_contract_dir(data_dir)
    usable = (rules or PointsRules.default()).usable_with(contract.leads.columns)
    run = progress.run if progress is not None else _run_quietly
    built = run(
        "build the point-in-time training set",
        lambda: build_training_set(
            contract.leads, contract.journeys, contract.outcomes, config.training_set
        ),
        lambda t: (
            f"{t.report.rows:,} rows, {t.report.positives:,} conversions, "
            f"{len(t.report.features)} features"
        ),
    )
    result = run(
        "backtest the training procedure, test it against hand-weighted points, refit on "
        "all labelled history",
        lambda: train_model(
            built.frame,
            built.pipeline,
            config,
            rules=usable.rules,
            journeys=contract.journeys,
            leads=contract.leads,
            outcomes=contract.outcomes,
            oracle=contract.oracle,
        ),
        lambda r: f"test ROC AUC {r.report.test.roc_auc:.3f}, ECE {r.report.test.ece:.4f}",
    )
    # A model without events looks as if it learned behaviour: say it did not, loudly.
    no_events = [] if contract.journeys.times.size else [no_events_notice()]
    result.report = result.report.model_copy(
        update={
            "comparison_notes": result.report.comparison_notes + usable.skipped,
            "warnings": no_events + result.report.warnings,
        }
    )
    return TrainedFromData(result=result, training_set=built, contract=contract)


def _run_quietly(name: str, step: Callable[[], T], detail: Callable[[T], str]) -> T:
    return step()


def train_model(
    frame: pd.DataFrame,
    pipeline: FeaturePipeline,
    config: TrainConfig,
    *,
    rules: PointsRules | None = None,
    journeys: Journeys | None = None,
    leads: pd.DataFrame | None = None,
    outcomes: pd.DataFrame | None = None,
    oracle: pd.DataFrame | None = None,
) -> TrainResult:
    """Train, calibrate, tier, package and evaluate a model on a training set frame.

    `rules` with `journeys` and `leads` scores the hand-weighted points on the same test
    rows and offers them as a warm start; `outcomes` offers the funnel warm start; `oracle`
    (lead_id, p_convert; synthetic data only) adds the best-possible ranking.
    """
    _check_columns(frame, pipeline)
    audited = audit_features(frame, pipeline, config)
    slices = split_by_time(frame, config)
    learned = learn_and_check_dominance(audited, slices, config)
    evidence = gather_evidence(
        frame,
        config.warm_start,
        config.training_set.horizon_days,
        rules=rules,
        leads=leads,
        journeys=journeys,
        outcomes=outcomes,
    )
    chosen_pipeline = learned.audited.pipeline
    tuning = learned.booster.tuning
    if tuning is not None:
        # Tuned once, on the train slice: every run of the procedure uses what it found.
        config = config.model_copy(
            update={
                "booster": config.booster.model_copy(update=tuning.best_params),
                "tune": config.tune.model_copy(update={"enabled": False}),
            }
        )
    test_start = slices.split.summary.test_start.timestamp()
    run = run_backtest(frame, chosen_pipeline, config, evidence, test_start)
    # The test slice measures the loaded artifact of the procedure fitted before it: nothing
    # above has touched those rows. Only the served fit, further down, learns from them.
    measured = package_fitted(run.at_test_start, slices.test, config)
    tested = evaluate_test_slice(measured, slices.test, config)
    compared = compare_methods(
        tested, slices.test, rules=rules, journeys=journeys, leads=leads, oracle=oracle
    )
    curve = (
        learning_curve(
            frame, chosen_pipeline, config, evidence, test_start, config.backtest.learning_curve
        )
        if config.backtest.learning_curve
        else []
    )
    served_fit = fit_procedure(frame, chosen_pipeline, config, run.recipe)
    served = package_fitted(served_fit, slices.test, config)
    metrics = metric_values(tested.metrics, "test")
    metrics |= {f"{METHOD_KEYS[row.method]}_roc_auc": row.roc_auc for row in compared.rows}
    best = run.backtest.best
    metrics |= {
        "backtest_roc_auc": best.mean("roc_auc"),
        "backtest_pr_auc": best.mean("pr_auc"),
        "backtest_ece": best.mean("ece"),
    }
    audit = _with_tradeoff(learned, tested.metrics, frame, slices, config)
    report = report_training(
        slices, run.at_test_start, tested, compared, audit, config, measured=measured
    ).model_copy(
        update={
            "backtest": run.backtest,
            "learning_curve": curve,
            "served": served_summary(served_fit),
            "data_fingerprint": served.spec.metadata.data_fingerprint,
            "tuning": tuning,
        }
    )
    figures = report_figures(
        tested.y,
        compared.scores,
        report.reliability,
        tested.metrics.ece,
        report.feature_importance,
    )
    return TrainResult(
        model=with_metadata(served, metrics=metrics),
        report=report,
        split=slices.split,
        figures=figures,
        measured=with_metadata(measured, metrics=metrics),
    )


def _check_columns(frame: pd.DataFrame, pipeline: FeaturePipeline) -> None:
    missing = [c for c in (LEAD_ID, AS_OF, LABEL, *pipeline.feature_names) if c not in frame]
    if missing:
        raise ValueError(
            f"the training set lacks columns {missing[:8]}: build it with "
            "`leadscore features build` (or features.trainingset.build_training_set)."
        )


def _labels(rows: pd.DataFrame) -> np.ndarray:
    return rows[LABEL].to_numpy(dtype=np.int8)


# -- audit ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Audited:
    """The leakage audit's findings, and the features left once flagged ones are out."""

    audit: LeakageAudit
    candidates: FeaturePipeline  # every feature of the training set
    pipeline: FeaturePipeline  # the candidates without the flagged, unkept ones


def audit_features(frame: pd.DataFrame, pipeline: FeaturePipeline, config: TrainConfig) -> Audited:
    """Audit the training set's features for leakage; flagged ones are left out unless kept."""
    audit = audit_training_set(frame, pipeline, config.audit)
    return Audited(audit=audit, candidates=pipeline, pipeline=pipeline.without(audit.left_out))


def _with_tradeoff(
    learned: Learned,
    measured: Metrics,
    frame: pd.DataFrame,
    slices: Slices,
    config: TrainConfig,
) -> LeakageAudit:
    """The audit with the test metrics of the same procedure using the flagged columns too."""
    audited = learned.audited
    if not audited.audit.left_out or not config.audit.tradeoff:
        return audited.audit
    test_start = slices.split.summary.test_start.timestamp()
    rows = frame.iloc[labelled_before(frame, test_start, config.training_set.horizon_days)]
    # The warm start plays no part in the trade-off: both rows of it start from none.
    leaky = fit_procedure(rows, audited.candidates, config, None)
    return audited.audit.with_tradeoff(
        evaluate_test_slice(
            package_fitted(leaky, slices.test, config), slices.test, config
        ).metrics,
        measured,
        "Both rows: the procedure fitted on the rows labelled before the test slice, measured "
        "on its untouched test slice.",
    )


# -- split ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slices:
    """The time split and its slices' rows, in the order the split gave them."""

    split: TimeSplit
    train: pd.DataFrame  # fits the booster
    valid: pd.DataFrame  # the train slice's latest leads: early stopping and tuning only
    calibration: pd.DataFrame  # fits the calibrator and places the tier thresholds
    test: pd.DataFrame  # only measured
    warnings: list[str]  # the minimum-data check's, when training was forced


def split_by_time(frame: pd.DataFrame, config: TrainConfig) -> Slices:
    """Split by time; when a slice has too few conversions, take a split that leaves enough
    (with `auto_split`), or refuse naming one (unless forced)."""
    horizon = config.training_set.horizon_days
    split = time_split(frame, config.split, horizon)
    needs = (
        config.min_train_positives,
        config.min_calibration_positives,
        config.min_test_positives,
    )
    warnings: list[str] = []
    problems = shortfalls(split.summary, needs)
    if problems:
        feasible = feasible_split(frame, horizon, needs)
        if config.auto_split and feasible is not None:
            split = time_split(frame, feasible[0], horizon)
            warnings = [
                f"split chosen by {AUTO_SPLIT_OPTION} ({feasible[0].describe()}) because the "
                f"configured one left too few conversions: {'; '.join(problems)}"
            ]
        else:
            advice = split_advice(split.summary, feasible)
            warnings = refuse_or_warn(problems, advice, force=config.force)
    return Slices(
        split=split,
        train=frame.iloc[split.train],
        valid=frame.iloc[split.valid],
        calibration=frame.iloc[split.calibration],
        test=frame.iloc[split.test],
        warnings=warnings,
    )


# -- learn, and check for a dominant column ------------------------------------------------
@dataclass(frozen=True)
class Learned:
    """The booster learned on the train slice with the features the audit left, a suspect
    dominant column left out unless kept."""

    audited: Audited  # the audit with the dominance check's finding
    booster: LearnedBooster  # on audited.pipeline


ON_CALIBRATION = (
    "Both rows: the booster learned on the train slice with and without the column, scored "
    "on the calibration slice (the test slice plays no part in the decision); the column's "
    "AUC alone on the calibration slice too."
)


def learn_and_check_dominance(audited: Audited, slices: Slices, config: TrainConfig) -> Learned:
    """Learn the booster; when one column holds a share of its gain out of line with every
    other (`training.audit.dominance`), learn it once more without that column and compare
    both on the calibration slice. A suspect column is left out unless kept."""
    first = _learn(slices, audited.pipeline, config)
    audit = audited.audit
    importance = gain_importance(first.booster, feature_names=first.encoder.feature_names)
    point_in_time = [c.column for c in audit.columns if c.point_in_time]
    candidate = dominant_candidate(importance, config.audit, point_in_time)
    if candidate is None:
        return Learned(audited=audited, booster=first)
    column = candidate[0].feature
    without = audited.pipeline.without([column])
    dropped = _learn(slices, without, config)
    rows = slices.calibration
    dominance = measure_dominance(
        *candidate,
        _alone_auc(rows, column, config.audit),
        _raw_metrics(first, rows, config),
        _raw_metrics(dropped, rows, config),
        ON_CALIBRATION,
        config.audit,
    )
    audit = audit.with_dominance(dominance, config.audit.keep)
    if column in audit.left_out:
        return Learned(Audited(audit, audited.candidates, without), dropped)
    return Learned(replace(audited, audit=audit), first)


def _alone_auc(rows: pd.DataFrame, column: str, config: AuditConfig) -> float:
    """The column's stand-alone AUC as the audit measures it, on `rows` only."""
    ids = rows[LEAD_ID]
    # Kept columns are checked against the audited frame; this one has a single column.
    audit = audit_columns(
        rows[[column]],
        _labels(rows),
        config=config.model_copy(update={"keep": ()}),
        groups=ids.to_numpy() if ids.duplicated().any() else None,
    )
    return audit.columns[0].auc


def _raw_metrics(learned: LearnedBooster, rows: pd.DataFrame, config: TrainConfig) -> Metrics:
    """The uncalibrated booster's metrics on `rows` (ranking measures need no calibrator)."""
    raw = learned.booster.predict(learned.encoder.encode_frame(rows), raw_score=True)
    return evaluate(1.0 / (1.0 + np.exp(-raw)), _labels(rows), bins=config.ece_bins)


def _learn(slices: Slices, pipeline: FeaturePipeline, config: TrainConfig) -> LearnedBooster:
    return learn_booster(
        slices.train, pipeline, config, stop_rows=slices.valid, refit=config.refit_train_slice
    )


# -- package ------------------------------------------------------------------------------
def package_fitted(fitted: Fitted, test: pd.DataFrame, config: TrainConfig) -> ScoringModel:
    """The artifact of one run of the procedure, saved and loaded (`test`: the rows its
    figures are measured on, named in its metadata)."""
    return package_model(
        fitted.pipeline,
        fitted.learned,
        fitted.calibrated.fit.calibrator,
        fitted.tiers,
        _metadata(fitted, test, config),
        fitted.calibrated.matrix,
    )


def _metadata(fitted: Fitted, test: pd.DataFrame, config: TrainConfig) -> ModelMetadata:
    learned = fitted.learned
    return ModelMetadata(
        name=config.name,
        target=config.training_set.target.value,
        horizon_days=config.training_set.horizon_days,
        trained_at=datetime.now(UTC),
        train_window=_window(fitted.rows),
        calibration_window=_window(fitted.held_out),
        test_window=_window(test),
        data_fingerprint=frame_fingerprint(fitted.rows),
        code_version=code_version(),
        params={
            "lightgbm": learned.fit.params,
            "trees": learned.trees,
            "warm_start": learned.warm_start.value,
            "recency_half_life_days": learned.half_life_days,
            "refit_train_slice": config.refit_train_slice,
            "calibrator": fitted.calibrated.fit.calibrator.kind,
            "config": config.model_dump(mode="json"),
        },
        score_percentiles=score_percentiles(fitted.calibrated.probability),
    )


def _window(rows: pd.DataFrame) -> tuple | None:
    """First and last cut-off of `rows`."""
    return None if rows.empty else (rows[AS_OF].min(), rows[AS_OF].max())


def served_summary(fitted: Fitted) -> ServedSummary:
    """What the served model was fitted on, for the report."""
    rows, held = fitted.rows, fitted.held_out
    return ServedSummary(
        rows=len(rows),
        leads=int(rows[LEAD_ID].nunique()),
        positives=int(rows[LABEL].sum()),
        first_cutoff=rows[AS_OF].min(),
        last_cutoff=rows[AS_OF].max(),
        held_out_rows=len(held),
        held_out_positives=int(held[LABEL].sum()),
        trees=fitted.learned.trees,
        early_stopping_trees=fitted.learned.fit.best_iteration,
        warm_start=fitted.learned.warm_start,
        half_life_days=fitted.learned.half_life_days,
        calibrator=fitted.calibrated.fit.calibrator.kind,
    )


# -- test and compare ----------------------------------------------------------------------
@dataclass(frozen=True)
class Tested:
    """The packaged model's prediction on the test slice, and what it measured."""

    prediction: Prediction
    y: np.ndarray
    weeks: np.ndarray
    metrics: Metrics
    tiers: list[TierRow]  # the tiers the model assigned


def evaluate_test_slice(model: ScoringModel, rows: pd.DataFrame, config: TrainConfig) -> Tested:
    """Score the test rows through the model, as it will be served, and measure it."""
    prediction = model.predict_features(rows)
    y, weeks = _labels(rows), week_of(rows[AS_OF])
    metrics = evaluate(
        prediction.probability,
        y,
        raw_probability=1.0 / (1.0 + np.exp(-prediction.raw)),
        bins=config.ece_bins,
    )
    tiers = tier_table(model.spec.tiers, prediction.tier, y, weeks)
    return Tested(prediction=prediction, y=y, weeks=weeks, metrics=metrics, tiers=tiers)


@dataclass(frozen=True)
class Compared:
    """Each method's scores of the test rows and how well they rank them."""

    scores: dict[str, np.ndarray]  # method -> score of each test row
    rows: list[MethodRow]
    points_tiers: list[TierRow] | None  # the points rules' own tiers
    notes: list[str]  # what was left out of the comparison, and why


def compare_methods(
    tested: Tested,
    rows: pd.DataFrame,
    *,
    rules: PointsRules | None,
    journeys: Journeys | None,
    leads: pd.DataFrame | None,
    oracle: pd.DataFrame | None,
) -> Compared:
    """The model beside the hand-weighted points and the oracle (those given) on the test rows.

    Each method's "SQL tier" is its top rows at the model's SQL volume.
    """
    scores = {MODEL: tested.prediction.probability}
    points_tiers, notes = None, []
    if rules is not None and leads is not None and journeys is not None:
        points = points_on_rows(rules, leads, journeys, rows[[LEAD_ID, AS_OF]])
        scores[POINTS] = points.total
        points_tiers = assigned_tier_table(
            POINTS_TIERS,
            points.tier,
            tested.y,
            tested.weeks,
            thresholds=(rules.thresholds.sql, rules.thresholds.mql),
        )
    else:
        notes.append(
            "hand-weighted points not compared: they need the rules and the raw leads and "
            "events (train with `--data DIR`)."
        )
    if oracle is not None:
        p = rows[LEAD_ID].map(oracle.set_index(LEAD_ID)["p_convert"])
        if p.isna().any():
            notes.append(f"oracle: {int(p.isna().sum())} test rows have no oracle value")
        scores[ORACLE] = p.fillna(0.0).to_numpy(dtype=np.float64)
        notes.append(
            "oracle = the synthetic generator's true per-lead conversion probability from "
            "hidden factors: a reference for the best achievable ranking, never a feature."
        )
    ranked = compare_scores(tested.y, scores, sql_share=tested.tiers[0].share_of_leads)
    return Compared(scores=scores, rows=ranked, points_tiers=points_tiers, notes=notes)


# -- report --------------------------------------------------------------------------------
def report_training(
    slices: Slices,
    fitted: Fitted,
    tested: Tested,
    compared: Compared,
    audit: LeakageAudit,
    config: TrainConfig,
    *,
    measured: ScoringModel,
) -> TrainReport:
    """The training report: every stage's decision and the test slice's measures of the
    procedure `fitted` before it (packaged as `measured`)."""
    calibrated, held_out = fitted.calibrated, fitted.held_out
    y_calibration = _labels(held_out)
    tiers_calibration = tier_table(
        measured.spec.tiers,
        measured.predict_raw(calibrated.raw).tier,
        y_calibration,
        week_of(held_out[AS_OF]),
    )
    empty_tiers = [
        f"tier {row.tier!r} is empty on the held-out leads: its rule cannot be met with "
        "these scores (see the tier rules)"
        for row in tiers_calibration
        if row.rows == 0
    ]
    metadata, probability = measured.spec.metadata, tested.prediction.probability
    return TrainReport(
        name=config.name,
        target=metadata.target,
        horizon_days=slices.split.summary.horizon_days,
        trained_at=metadata.trained_at,
        code_version=metadata.code_version,
        data_fingerprint=metadata.data_fingerprint,
        split=slices.split.summary,
        fit=fitted.learned.fit,
        refit_train_slice=config.refit_train_slice,
        tuning=fitted.learned.tuning,
        calibration=calibrated.fit,
        calibration_metrics=evaluate(calibrated.probability, y_calibration, bins=config.ece_bins),
        test=tested.metrics,
        reliability=reliability_table(probability, tested.y, config.ece_bins),
        deciles=decile_table(probability, tested.y),
        tier_policy=measured.spec.tiers.policy,
        tiers_calibration=tiers_calibration,
        tiers_test=tested.tiers,
        points_tiers_test=compared.points_tiers,
        comparison=compared.rows,
        comparison_notes=compared.notes,
        feature_importance=gain_importance(fitted.learned.booster),
        audit=audit,
        warnings=slices.warnings + empty_tiers,
    )
