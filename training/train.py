"""Train one packaged scoring model from a training set, and measure it honestly.

Steps: split by time -> minimum-data check -> categories from the train slice -> booster
(optionally tuned) -> calibrator and tier thresholds on the calibration slice -> package the
artifact -> save/load round trip -> measure the loaded artifact on the test slice, beside
the hand-weighted points and (with synthetic data) the oracle.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, Field

from features.contract.schema import LEAD_ID
from features.journeys import Journeys
from features.pipeline import AS_OF, FeaturePipeline
from features.points import TIERS as POINTS_TIERS
from features.points import PointsBreakdown, PointsRules
from features.trainingset import LABEL, TrainingSetConfig
from runtime.artifact import ArtifactSpec, ModelMetadata
from runtime.encoder import FeatureEncoder
from runtime.model import ScoringModel
from training.audit.leakage import AuditConfig, LeakageAudit, audit_training_set
from training.baseline import points_on_rows
from training.calibrate import fit_calibrator
from training.categories import categorical_feature_names, learn_categories
from training.evaluate import Metrics, decile_table, evaluate, reliability_table
from training.fit import BoosterParams, fit_booster, gain_importance
from training.method_comparison import compare_scores
from training.minimum_data import check_minimum_data
from training.plots import gain_figure, importance_figure, reliability_figure, roc_figure
from training.provenance import code_version, frame_fingerprint
from training.report import METHOD_KEYS, MODEL, ORACLE, POINTS, TrainReport, write_report
from training.split import SliceSummary, SplitConfig, TimeSplit, time_split
from training.tiers import (
    TierPolicy,
    assigned_tier_table,
    choose_thresholds,
    tier_table,
    week_of,
)
from training.tune import TuneConfig, tune_params


class TrainConfig(BaseModel):
    """Everything that defines a training run; logged with the model."""

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
        description="After early stopping picks the number of trees, refit with that many on "
        "the whole train slice, so the latest rows before calibration also teach the model.",
    )
    calibration_folds: int = Field(5, ge=2)
    ece_bins: int = Field(10, ge=2)
    min_train_positives: int = Field(100, ge=1)
    min_calibration_positives: int = Field(30, ge=1)
    min_test_positives: int = Field(30, ge=1)
    force: bool = Field(False, description="Train even when the minimum-data check fails.")
    audit: AuditConfig = Field(
        default_factory=AuditConfig,
        description="Leakage audit of the features: flagged ones are left out unless kept.",
    )
    seed: int = 0


@dataclass
class TrainResult:
    """The packaged model, its report and its figures."""

    model: ScoringModel
    report: TrainReport
    figures: dict[str, Figure] = field(default_factory=dict)

    def write(self, out_dir: Path) -> Path:
        """report.json, report.md and one PNG per figure into `out_dir`."""
        return write_report(out_dir, self.report, self.figures)


@dataclass(frozen=True)
class _Slices:
    """Feature frames and labels of the split's slices."""

    frames: dict[str, pd.DataFrame]

    def y(self, name: str) -> np.ndarray:
        return self.frames[name][LABEL].to_numpy(dtype=np.int8)


def _check_columns(frame: pd.DataFrame, pipeline: FeaturePipeline) -> None:
    missing = [c for c in (LEAD_ID, AS_OF, LABEL, *pipeline.feature_names) if c not in frame]
    if missing:
        raise ValueError(
            f"the training set lacks columns {missing[:8]}: build it with "
            "`leadscore features build` (or features.trainingset.build_training_set)."
        )


def train_model(
    frame: pd.DataFrame,
    pipeline: FeaturePipeline,
    config: TrainConfig,
    *,
    rules: PointsRules | None = None,
    journeys: Journeys | None = None,
    leads: pd.DataFrame | None = None,
    oracle: pd.DataFrame | None = None,
) -> TrainResult:
    """Train, calibrate, tier, package and evaluate a model on a training set frame.

    `rules` with `journeys` and `leads` scores the hand-weighted points on the same test
    rows; `oracle` (lead_id, p_convert; synthetic data only) adds the best-possible ranking.
    """
    _check_columns(frame, pipeline)
    audit = audit_training_set(frame, pipeline, config.audit)
    candidates, pipeline = pipeline, pipeline.without(audit.left_out)
    horizon = config.training_set.horizon_days
    split = time_split(frame, config.split, horizon)
    warnings = check_minimum_data(
        split.summary,
        min_train_positives=config.min_train_positives,
        min_calibration_positives=config.min_calibration_positives,
        min_test_positives=config.min_test_positives,
        force=config.force,
    )
    slices = _slice(frame, split)

    categorical = categorical_feature_names(pipeline)
    train_slice = pd.concat([slices.frames["train"], slices.frames["valid"]])
    categories = learn_categories(train_slice, categorical, config.min_category_count)
    encoder = FeatureEncoder(pipeline, categories)
    # One matrix for the train slice; the fit and early-stopping parts are views of it.
    train_slice_X = encoder.encode_frame(train_slice)
    train_slice_y = train_slice[LABEL].to_numpy(dtype=np.int8)
    n_fit = len(slices.frames["train"])
    parts = {
        "train": (train_slice_X[:n_fit], train_slice_y[:n_fit]),
        "valid": (train_slice_X[n_fit:], train_slice_y[n_fit:]),
    }
    fit_inputs = {
        "feature_names": encoder.feature_names,
        "categorical_features": categorical,
        "seed": config.seed,
    }
    params, tuning = config.booster, None
    if config.tune.enabled:
        params, tuning = tune_params(
            *parts["train"], *parts["valid"], base=params, config=config.tune, **fit_inputs
        )
    booster, fit = fit_booster(*parts["train"], *parts["valid"], params=params, **fit_inputs)
    if config.refit_train_slice:
        fixed = params.model_copy(update={"num_boost_round": fit.best_iteration})
        booster, _ = fit_booster(
            train_slice_X, train_slice_y, None, None, params=fixed, **fit_inputs
        )
    del train_slice_X, parts  # about 1 GB at a million rows: free it before the next slices
    calibration_X = encoder.encode_frame(slices.frames["calibration"])

    calibration_raw = booster.predict(calibration_X, raw_score=True)
    calibration = fit_calibrator(
        calibration_raw,
        slices.y("calibration"),
        groups=slices.frames["calibration"][LEAD_ID].to_numpy(),
        folds=config.calibration_folds,
    )
    calibration_probability = calibration.calibrator.apply(calibration_raw)
    calibration_weeks = week_of(slices.frames["calibration"][AS_OF])
    tiers = choose_thresholds(
        calibration_probability, slices.y("calibration"), calibration_weeks, config.tiers
    )

    metadata = ModelMetadata(
        name=config.name,
        target=config.training_set.target.value,
        horizon_days=horizon,
        trained_at=datetime.now(UTC),
        train_window=_window(split.summary.train, split.summary.valid),
        calibration_window=_window(split.summary.calibration),
        test_window=_window(split.summary.test),
        data_fingerprint=frame_fingerprint(frame),
        code_version=code_version(),
        params={
            "lightgbm": fit.params,
            "trees": fit.best_iteration,
            "refit_train_slice": config.refit_train_slice,
            "calibrator": calibration.calibrator.kind,
            "config": config.model_dump(mode="json"),
        },
        score_percentiles=tuple(
            float(q) for q in np.quantile(calibration_probability, np.linspace(0, 1, 101))
        ),
    )
    spec = ArtifactSpec(
        pipeline=pipeline,
        categories=categories,
        calibrator=calibration.calibrator,
        tiers=tiers,
        metadata=metadata,
    )
    served = _round_trip(ScoringModel(spec, booster), calibration_X)

    # Everything below measures the loaded artifact on rows nothing above has touched.
    test_frame, y_test = slices.frames["test"], slices.y("test")
    test_prediction = served.predict_features(test_frame)
    test_raw, test_probability = test_prediction.raw, test_prediction.probability
    test_metrics = evaluate(
        test_probability,
        y_test,
        raw_probability=1.0 / (1.0 + np.exp(-test_raw)),
        bins=config.ece_bins,
    )
    test_weeks = week_of(test_frame[AS_OF])
    tiers_test = tier_table(tiers, test_probability, y_test, test_weeks)
    scores, points, notes = _comparison_scores(
        test_probability, test_frame, rules=rules, journeys=journeys, leads=leads, oracle=oracle
    )
    comparison = compare_scores(y_test, scores, sql_share=tiers_test[0].share_of_leads)
    points_tiers = None
    if points is not None and rules is not None:
        points_tiers = assigned_tier_table(
            POINTS_TIERS,
            points.tier,
            y_test,
            test_weeks,
            thresholds=(rules.thresholds.sql, rules.thresholds.mql),
        )

    metrics = {
        f"test_{k}": v
        for k, v in test_metrics.model_dump().items()
        if isinstance(v, float) and k != "base_rate"
    }
    metrics |= {f"{METHOD_KEYS[row.method]}_roc_auc": row.roc_auc for row in comparison}
    model = ScoringModel(
        served.spec.model_copy(
            update={"metadata": metadata.model_copy(update={"metrics": metrics})}
        ),
        served.booster,
    )
    importance = gain_importance(booster)
    tiers_calibration = tier_table(
        tiers, calibration_probability, slices.y("calibration"), calibration_weeks
    )
    warnings += [
        f"tier {row.tier!r} is empty on the calibration slice: its rule cannot be met with "
        "these scores (see the tier rules)"
        for row in tiers_calibration
        if row.rows == 0
    ]
    report = TrainReport(
        name=config.name,
        target=metadata.target,
        horizon_days=horizon,
        trained_at=metadata.trained_at,
        code_version=metadata.code_version,
        data_fingerprint=metadata.data_fingerprint,
        split=split.summary,
        fit=fit,
        refit_train_slice=config.refit_train_slice,
        tuning=tuning,
        calibration=calibration,
        calibration_metrics=evaluate(
            calibration_probability, slices.y("calibration"), bins=config.ece_bins
        ),
        test=test_metrics,
        reliability=reliability_table(test_probability, y_test, config.ece_bins),
        deciles=decile_table(test_probability, y_test),
        tier_policy=tiers.policy,
        tiers_calibration=tiers_calibration,
        tiers_test=tiers_test,
        points_tiers_test=points_tiers,
        comparison=comparison,
        comparison_notes=notes,
        feature_importance=importance,
        audit=_with_tradeoff(audit, test_metrics, frame, candidates, config),
        warnings=warnings,
    )
    figures = {
        "roc": roc_figure(y_test, scores),
        "reliability": reliability_figure(report.reliability, test_metrics.ece),
        "gain": gain_figure(y_test, scores),
        "feature_importance": importance_figure(importance),
    }
    return TrainResult(model=model, report=report, figures=figures)


def _with_tradeoff(
    audit: LeakageAudit,
    measured: Metrics,
    frame: pd.DataFrame,
    candidates: FeaturePipeline,
    config: TrainConfig,
) -> LeakageAudit:
    """The audit with the test metrics of a second model that uses the flagged columns too."""
    if not audit.left_out or not config.audit.tradeoff:
        return audit
    keep_all = config.audit.model_copy(update={"keep": (*config.audit.keep, *audit.left_out)})
    leaky = train_model(frame, candidates, config.model_copy(update={"audit": keep_all}))
    return audit.with_tradeoff(
        leaky.report.test, measured, "Both rows: the same time split, its untouched test slice."
    )


def _slice(frame: pd.DataFrame, split: TimeSplit) -> _Slices:
    return _Slices(
        frames={
            "train": frame.iloc[split.train],
            "valid": frame.iloc[split.valid],
            "calibration": frame.iloc[split.calibration],
            "test": frame.iloc[split.test],
        }
    )


def _window(first: SliceSummary, last: SliceSummary | None = None) -> tuple | None:
    """First and last cut-off from `first` to `last` (default: the same slice)."""
    end = (last or first).last_cutoff or first.last_cutoff
    return None if first.first_cutoff is None or end is None else (first.first_cutoff, end)


def _round_trip(model: ScoringModel, check_matrix: np.ndarray) -> ScoringModel:
    """Save and load the artifact; refuse if the loaded one predicts differently."""
    with tempfile.TemporaryDirectory(prefix="leadscore-artifact-") as tmp:
        loaded = ScoringModel.load(model.save(Path(tmp) / "model"))
    if not np.array_equal(model.raw_score(check_matrix), loaded.raw_score(check_matrix)):
        raise RuntimeError(
            "the saved and reloaded model predict differently; this is a bug in the artifact "
            "format: please report it with the training set's report."
        )
    return loaded


def _comparison_scores(
    model_probability: np.ndarray,
    test_frame: pd.DataFrame,
    *,
    rules: PointsRules | None,
    journeys: Journeys | None,
    leads: pd.DataFrame | None,
    oracle: pd.DataFrame | None,
) -> tuple[dict[str, np.ndarray], PointsBreakdown | None, list[str]]:
    """Scores of each method on the test rows, the points breakdown, notes on what is missing."""
    scores = {MODEL: model_probability}
    points, notes = None, []
    if rules is not None and leads is not None and journeys is not None:
        points = points_on_rows(rules, leads, journeys, test_frame[[LEAD_ID, AS_OF]])
        scores[POINTS] = points.total
    else:
        notes.append(
            "hand-weighted points not compared: they need the rules and the raw leads and "
            "events (train with `--data DIR`)."
        )
    if oracle is not None:
        p = test_frame[LEAD_ID].map(oracle.set_index(LEAD_ID)["p_convert"])
        if p.isna().any():
            notes.append(f"oracle: {int(p.isna().sum())} test rows have no oracle value")
        scores[ORACLE] = p.fillna(0.0).to_numpy(dtype=np.float64)
        notes.append(
            "oracle = the synthetic generator's true per-lead conversion probability from "
            "hidden factors: a reference for the best achievable ranking, never a feature."
        )
    return scores, points, notes
