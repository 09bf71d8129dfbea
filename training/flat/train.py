"""Train from a flat CRM export: type the columns, audit them for leakage, train, package.

Without a date column the model is measured by stratified cross-validation and trained
once more on all rows (`training.flat.crossval`); with one, the export goes through the same
time split and trainer as journey data (`training.train.train_model`). Either way the
result is the usual `ScoringModel` with an attribute-only pipeline, so the registry, the
service and batch scoring take it as they take any model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import BaseModel, Field, field_validator

from features.attributes import infer_attributes
from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.pipeline import FeaturePipeline
from runtime.artifact import ModelMetadata
from runtime.model import ScoringModel
from training.audit.dominance import dominant_candidate, measure_dominance
from training.audit.leakage import (
    AuditConfig,
    ColumnEvidence,
    LeakageAudit,
    audit_set_aside,
    audit_training_set,
)
from training.calibrate import CalibrationFit
from training.evaluate import DecileRow, ReliabilityBin, decile_table, reliability_table
from training.fit import BoosterParams, FeatureImportance, FitResult, gain_importance
from training.flat.crossval import CrossValidated, CrossValidation, cross_validate
from training.flat.table import ColumnType, FlatTableConfig, column_types, read_flat_table
from training.minimum_data import refuse_or_warn
from training.package import metric_values, package_model, score_percentiles, with_metadata
from training.plots import OUT_OF_FOLD, report_figures
from training.provenance import code_version, frame_fingerprint
from training.report import (
    MODEL,
    TrainReport,
    decile_lines,
    importance_lines,
    parameters_line,
    policy_lines,
    reliability_lines,
    tier_table_markdown,
    write_report,
)
from training.tiers import TierRow, choose_thresholds, tier_table
from training.train import TrainConfig, TrainResult, train_model

if TYPE_CHECKING:
    from runtime.source import RegistrySettings
    from training.registry.tracking import LoggedVersion


def small_table_training() -> TrainConfig:
    """Trainer settings for a CRM export: thousands of rows, tens of columns.

    Shallow, slowly learning trees with half the columns per tree. On X Education (5-fold
    cross-validation on other fold seeds than the report's, sales-filled columns left out) they
    reach ROC AUC 0.905 where the trainer's defaults, written for millions of journey rows,
    reach 0.902. A `train:` section in the config file is merged over them, key by key.
    """
    booster = BoosterParams(
        learning_rate=0.03,
        num_leaves=7,
        min_data_in_leaf=20,
        feature_fraction=0.5,
        num_boost_round=3000,
        early_stopping_rounds=100,
    )
    return TrainConfig(booster=booster)


class FlatConfig(FlatTableConfig):
    """A flat-export training run: the table's columns, the audit, and the trainer's settings."""

    keep_columns: tuple[str, ...] = Field(
        (), description="Columns the leakage audit flagged that you want used anyway."
    )
    folds: int = Field(5, ge=2, description="Cross-validation folds (without a date column).")
    horizon_days: float = Field(
        30.0,
        gt=0,
        description="With a date column: how long a lead usually takes to convert. Leads "
        "created less than this before the newest one are left out (their conversion flag is "
        "not final yet), and the time split purges leads this close before a slice boundary "
        "(their outcome became known during the next slice).",
    )
    train: TrainConfig = Field(default_factory=small_table_training)

    @field_validator("train", mode="before")
    @classmethod
    def _over_small_table_defaults(cls, value: object) -> object:
        # A section that sets only `split:` must not bring back the journey booster defaults.
        if isinstance(value, dict):
            return _merged(small_table_training().model_dump(exclude_unset=True), value)
        return value

    @property
    def target_text(self) -> str:
        return f"{self.target_column} = {self.positive_value}"


def _merged(base: dict, update: dict) -> dict:
    """`update` over `base`, nested sections merged rather than replaced."""
    out = dict(base)
    for key, value in update.items():
        both_sections = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = _merged(base[key], value) if both_sections else value
    return out


class FlatReport(BaseModel):
    """What was read, how each column is used, what the audit found, and how the model measured."""

    name: str
    source: str
    target: str
    trained_at: datetime
    code_version: str
    data_fingerprint: str
    rows: int
    positives: int
    dropped_without_target: int
    too_recent: int = Field(0, description="Leads left out as too recent to have converted.")
    evaluation: Literal["cross-validation", "time split"]
    notes: list[str] = Field([], description="What the reader detected (separator, ids, ...).")
    columns: list[ColumnType]
    audit: LeakageAudit | None = None
    cross_validation: CrossValidation | None = None
    calibration: CalibrationFit | None = None
    reliability: list[ReliabilityBin] = []
    deciles: list[DecileRow] = []
    tier_policy: dict[str, str] = {}
    tiers: list[TierRow] = []
    fit: FitResult | None = None
    feature_importance: list[FeatureImportance] = []
    time_split: TrainReport | None = Field(
        None, description="The trainer's own report, when a date column allowed a time split."
    )
    warnings: list[str] = []

    def markdown(self) -> str:
        lines = [
            f"# Model `{self.name}` from a flat export",
            "",
            f"- source: `{self.source}`: {self.rows:,} leads, {self.positives:,} converted "
            f"(base rate {self.positives / self.rows:.2%})"
            + (
                f"; {self.dropped_without_target:,} rows without a target value left out"
                if self.dropped_without_target
                else ""
            ),
            f"- target: `{self.target}`"
            + (
                f"; {self.too_recent:,} leads created within the horizon before the newest one "
                "left out: their conversion flag is not final yet"
                if self.too_recent
                else ""
            ),
            *[f"- {note}" for note in self.notes],
            f"- trained {self.trained_at:%Y-%m-%d %H:%M} UTC with code `{self.code_version}` on "
            f"rows `{self.data_fingerprint}`",
            f"- features used: {len(self.audit.used_columns)} of {len(self.audit.columns)} "
            f"candidates; left out by the leakage audit: {len(self.audit.left_out)}",
            "",
        ]
        if self.cross_validation is not None:
            lines += self._cross_validation_lines()
        if self.time_split is None:
            lines.append(self.audit.markdown(level=2))
        lines += self._column_lines()
        if self.time_split is not None:
            # The trainer's report, its leakage audit included, one heading level down.
            lines += ["", self.time_split.markdown().replace("\n#", "\n##")]
        if self.warnings:
            lines += ["", "## Warnings", "", *[f"- {w}" for w in self.warnings]]
        return "\n".join(lines) + "\n"

    def _cross_validation_lines(self) -> list[str]:
        cv, m = self.cross_validation, self.cross_validation.metrics
        k = len(cv.folds)
        return [
            f"## Headline: {k}-fold stratified cross-validation",
            "",
            "The export has no dates, so there is no later slice to test on: every lead is "
            f"scored by a model trained on the other {k - 1} folds, and calibrated by a "
            "calibrator fitted on the other folds' scores. The served model is trained on all "
            "rows with the fold models' number of trees; its calibrator and tier thresholds "
            "are fitted on all out-of-fold scores.",
            "",
            "| out of fold | value |",
            "| --- | ---: |",
            f"| ROC AUC | {m.roc_auc:.4f} |",
            f"| PR AUC | {m.pr_auc:.4f} |",
            f"| log loss (raw booster, class-weighted) | {m.raw_log_loss:.4f} |",
            f"| log loss (calibrated) | {m.log_loss:.4f} |",
            f"| Brier score | {m.brier:.4f} |",
            f"| expected calibration error (10 equal-count bins) | {m.ece:.4f} |",
            f"| lift, top 5% / top 10% | {m.lift_top_5pct:.2f} / {m.lift_top_10pct:.2f} |",
            "",
            "ROC AUC per fold: " + ", ".join(f"{f.roc_auc:.4f}" for f in cv.folds),
            "",
            "## Calibration",
            "",
            f"Served calibrator: **{self.calibration.calibrator.kind}**, chosen by cross-fitted "
            "log loss on all out-of-fold scores: "
            + ", ".join(f"{k} {v:.4f}" for k, v in self.calibration.cv_log_loss.items())
            + ".",
            "",
            *reliability_lines(self.reliability),
            "",
            "## Tiers",
            "",
            "Thresholds chosen on the out-of-fold probabilities from these rules:",
            "",
            *policy_lines(self.tier_policy),
            "",
            tier_table_markdown("Out of fold", self.tiers),
            "",
            "## Lift by score decile (out of fold)",
            "",
            *decile_lines(self.deciles),
            "",
            "## Booster",
            "",
            "- early stopping per fold (on a stratified 15% of the fold's training rows): "
            + ", ".join(str(f.early_stop) for f in cv.folds),
            f"- every fold model and the served model: {cv.trees} trees (the median); the "
            f"served one on all rows; positives weighted ×{self.fit.scale_pos_weight:.2f}",
            parameters_line(self.fit),
            "",
            "## Feature importance (share of total split gain)",
            "",
            *importance_lines(self.feature_importance),
            "",
        ]

    def _column_lines(self) -> list[str]:
        return [
            "## Columns of the export",
            "",
            "Values meaning 'not filled' are missing, not a category; rare values are grouped.",
            "",
            "| column | used as | missing | distinct | rare values grouped | note |",
            "| --- | --- | ---: | ---: | ---: | --- |",
            *[
                f"| `{c.column}` | {c.used_as} | "
                f"{'' if c.missing_share is None else f'{c.missing_share:.1%}'} | "
                f"{'' if c.distinct is None else c.distinct} | {c.grouped_values or ''} | "
                f"{c.note} |"
                for c in self.columns
            ],
        ]


@dataclass
class FlatResult:
    """The packaged model, its report, its figures and the rows it was trained on."""

    model: ScoringModel
    report: FlatReport
    frame: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    time_result: TrainResult | None = None

    def write(self, out_dir: Path) -> Path:
        """report.json, report.md and one PNG per figure into `out_dir`."""
        return write_report(out_dir, self.report, self.figures)


def train_flat(path: Path, config: FlatConfig) -> FlatResult:
    """Read, type, audit and train on the export at `path`; package the model."""
    table = read_flat_table(path, config)
    # What the reader detected is the run's configuration from here on (target, metadata).
    config = config.model_copy(
        update={"id_column": table.id_column, "positive_value": table.positive_value}
    )
    transform, skipped = infer_attributes(
        table.leads,
        exclude=config.exclude,
        missing_values=config.missing_values,
        kinds=config.kinds,
        min_category_rows=config.min_category_rows,
    )
    if not transform.specs:
        raise ValueError(f"no column of {path} can be a feature: {skipped}")
    candidates = FeaturePipeline(attributes=transform, use_behaviour=False)
    features = candidates.frame(table.leads, None, table.rows)
    frame = pd.concat([table.rows, features], axis=1)
    report = FlatReport(
        name=config.train.name,
        source=str(path),
        target=config.target_text,
        trained_at=datetime.now(UTC),
        code_version=code_version(),
        data_fingerprint=frame_fingerprint(frame),
        rows=len(frame),
        positives=int(frame[LABEL].sum()),
        dropped_without_target=table.dropped_without_target,
        evaluation="time split" if config.date_column else "cross-validation",
        notes=list(table.notes),
        columns=column_types(table.leads, transform, skipped, config),
    )
    set_aside = audit_set_aside(
        table.leads[[c for c in skipped if c in table.leads.columns]],
        frame[LABEL],
        missing_values=transform.missing_values,
        config=config.train.audit,
    )
    if config.date_column:
        result = _by_time(frame, candidates, config, report)
    else:
        result = _by_folds(frame, candidates, config, report)
    return _with_set_aside(result, set_aside)


def _with_set_aside(result: FlatResult, flagged: tuple[ColumnEvidence, ...]) -> FlatResult:
    """The result with the set-aside columns the audit flagged in both reports' audits."""
    if not flagged:
        return result
    report = result.report
    update = {"audit": report.audit.with_set_aside(flagged)}
    if report.time_split is not None:
        update["time_split"] = report.time_split.model_copy(
            update={"audit": report.time_split.audit.with_set_aside(flagged)}
        )
    result.report = report.model_copy(update=update)
    return result


def _by_folds(
    frame: pd.DataFrame, candidates: FeaturePipeline, config: FlatConfig, report: FlatReport
) -> FlatResult:
    train = _train_config(config)
    y = frame[LABEL].to_numpy(dtype=np.int8)
    warnings = _check_size(y, config)
    audit = audit_training_set(frame, candidates, train.audit)
    pipeline = candidates.without(audit.left_out)
    cv = cross_validate(frame, pipeline, train, config.folds)
    # Nothing left out yet: this cross-validation is also the one on every column.
    every = None if audit.left_out else cv
    audit, pipeline, cv = _check_dominance(frame, audit, pipeline, cv, train, config.folds)
    if audit.left_out and train.audit.tradeoff:
        if every is None:
            every = cross_validate(frame, candidates, train, config.folds, final_model=False)
        audit = audit.with_tradeoff(every.summary.metrics, cv.summary.metrics, _SAME_FOLDS)
    model = _package(cv, frame, pipeline, config, report)
    reliability = reliability_table(cv.probability, y, train.ece_bins)
    importance = gain_importance(model.booster, feature_names=model.feature_names)
    # The served model's tiers of the out-of-fold scores, as it assigns them.
    tiers = tier_table(model.spec.tiers, model.predict_raw(cv.raw).tier, y)
    report = report.model_copy(
        update={
            "audit": audit,
            "cross_validation": cv.summary,
            "calibration": cv.calibration,
            "reliability": reliability,
            "deciles": decile_table(cv.probability, y),
            "tier_policy": model.spec.tiers.policy,
            "tiers": tiers,
            "fit": cv.final.fit,
            "feature_importance": importance,
            "warnings": warnings,
        }
    )
    figures = report_figures(
        y,
        {MODEL: cv.probability},
        reliability,
        cv.summary.metrics.ece,
        importance,
        rows=OUT_OF_FOLD,
    )
    return FlatResult(model=model, report=report, frame=frame, figures=figures)


_SAME_FOLDS = (
    "Both rows: stratified cross-validation on the same folds, out-of-fold probabilities "
    "calibrated by cross-fitting."
)


def _check_dominance(
    frame: pd.DataFrame,
    audit: LeakageAudit,
    pipeline: FeaturePipeline,
    cv: CrossValidated,
    train: TrainConfig,
    folds: int,
) -> tuple[LeakageAudit, FeaturePipeline, CrossValidated]:
    """The dominance check on the first model's gain; its cross-validation without the
    column is the drop-one measure. A suspect column is left out unless kept, and the
    model without it (with its cross-validation) is then the one served."""
    config: AuditConfig = train.audit
    importance = gain_importance(cv.final.booster, feature_names=pipeline.feature_names)
    candidate = dominant_candidate(importance, config)
    if candidate is None:
        return audit, pipeline, cv
    top, _ = candidate
    kept = top.feature in config.keep
    without = pipeline.without([top.feature])
    dropped = cross_validate(frame, without, train, folds, final_model=not kept)
    alone = next(c.auc for c in audit.columns if c.column == top.feature)
    dominance = measure_dominance(
        *candidate, alone, cv.summary.metrics, dropped.summary.metrics, _SAME_FOLDS, config
    )
    audit = audit.with_dominance(dominance, config.keep)
    if dominance.suspect and not kept:
        return audit, without, dropped
    return audit, pipeline, cv


def _check_size(y: np.ndarray, config: FlatConfig) -> list[str]:
    """The minimum-data check of the trainer, for rows that are all train, calibrate and test."""
    need = config.train.min_train_positives
    have = int(y.sum())
    if have >= need:
        return []
    problem = f"the export has {have} conversions; at least {need} are needed to learn from"
    return refuse_or_warn([problem], "Add leads (a longer export)", force=config.train.force)


def _package(
    cv: CrossValidated,
    frame: pd.DataFrame,
    pipeline: FeaturePipeline,
    config: FlatConfig,
    report: FlatReport,
) -> ScoringModel:
    """The served artifact: final booster, calibrator and tiers from out-of-fold scores."""
    y = frame[LABEL].to_numpy(dtype=np.int8)
    # The served calibrator's probabilities of the out-of-fold scores place the thresholds.
    probability = cv.calibration.calibrator.apply(cv.raw)
    tiers = choose_thresholds(probability, y, None, config.train.tiers)
    metadata = ModelMetadata(
        name=config.train.name,
        target=config.target_text,
        # No horizon: the label is the export's own conversion flag.
        horizon_days=0.0,
        trained_at=report.trained_at,
        data_fingerprint=report.data_fingerprint,
        code_version=report.code_version,
        metrics=metric_values(cv.summary.metrics, "cv"),
        params={
            "lightgbm": cv.final.fit.params,
            "best_iteration": cv.final.fit.best_iteration,
            "calibrator": cv.calibration.calibrator.kind,
            "config": config.model_dump(mode="json"),
        },
        score_percentiles=score_percentiles(probability),
        id_column=config.id_column or LEAD_ID,
    )
    return package_model(
        pipeline,
        cv.final,
        cv.calibration.calibrator,
        tiers,
        metadata,
        cv.final.encoder.encode_frame(frame),
    )


def _train_config(config: FlatConfig) -> TrainConfig:
    """The trainer's config: the flagged columns to keep, and the export's horizon (the
    purge gap of a time split)."""
    train = config.train
    keep = (*train.audit.keep, *config.keep_columns)
    training_set = train.training_set.model_copy(update={"horizon_days": config.horizon_days})
    return train.model_copy(
        update={
            "audit": train.audit.model_copy(update={"keep": keep}),
            "training_set": training_set,
        }
    )


def _by_time(
    frame: pd.DataFrame, candidates: FeaturePipeline, config: FlatConfig, report: FlatReport
) -> FlatResult:
    recent = frame[AS_OF] > frame[AS_OF].max() - pd.Timedelta(days=config.horizon_days)
    frame = frame[~recent].reset_index(drop=True)
    # The trainer audits, leaves flagged columns out and measures the trade-off itself.
    result = train_model(frame, candidates, _train_config(config))
    # The trainer names a funnel milestone; this label is the export's own flag.
    model = with_metadata(
        result.model, target=config.target_text, id_column=config.id_column or LEAD_ID
    )
    time_report = result.report.model_copy(update={"target": config.target_text})
    report = report.model_copy(
        update={
            "audit": time_report.audit,
            "time_split": time_report,
            "too_recent": int(recent.sum()),
            "data_fingerprint": model.spec.metadata.data_fingerprint,
            "rows": len(frame),
            "positives": int(frame[LABEL].sum()),
            "warnings": _censoring_warning(time_report),
        }
    )
    return FlatResult(
        model=model,
        report=report,
        frame=frame,
        figures=result.figures,
        time_result=TrainResult(
            model=model, report=time_report, split=result.split, figures=result.figures
        ),
    )


def _censoring_warning(report: TrainReport) -> list[str]:
    """A warning when the latest leads convert visibly less: the export's flag is as of the
    export, so they may simply not have had the time yet."""
    split = report.split
    train = (split.train.positives + split.valid.positives) / (split.train.rows + split.valid.rows)
    test = split.test.positives / split.test.rows
    if test >= 0.8 * train:
        return []
    return [
        f"the test slice converts at {test:.1%}, the train slice at {train:.1%}: the export's "
        "conversion flag is as of the export, so the latest leads may not have had time to "
        "convert yet. Set horizon_days (config file) to the time most conversions take."
    ]


def log_flat(
    result: FlatResult, config: FlatConfig, settings: RegistrySettings | None = None
) -> LoggedVersion:
    """Log a flat-export model as an MLflow run, register it and alias it `@challenger`.

    With a time split this is the trainer's own logging (its test slice is what promotion
    compares on) plus the flat report. Cross-validated models have no untouched rows, so none
    are logged: promotion then asks for --force rather than compare on training rows.
    """
    from runtime.source import RegistrySettings
    from training.registry.tracking import flatten_params, log_model_run, log_training

    settings = settings or RegistrySettings()
    texts = {
        "report/flat_report.md": result.report.markdown(),
        "report/flat_report.json": result.report.model_dump_json(indent=2),
    }
    if result.time_result is not None:
        return log_training(
            result.time_result,
            _train_config(config),
            result.frame,
            settings=settings,
            extra_texts=texts,
        )
    cv = result.report.cross_validation
    metrics = dict(result.model.spec.metadata.metrics)
    metrics |= {"rows": result.report.rows, "positives": result.report.positives}
    params = flatten_params(config.model_dump(mode="json"))
    params |= {
        "evaluation": "cross-validation",
        "trees": str(cv.trees),
        "calibrator": result.model.spec.calibrator.kind,
        "features": str(len(result.model.feature_names)),
        "left_out_by_audit": ", ".join(result.report.audit.left_out),
    }
    return log_model_run(
        result.model,
        params=params,
        metrics=metrics,
        headline={k: metrics[f"cv_{k}"] for k in ("roc_auc", "ece", "log_loss")},
        texts=texts,
        figures=result.figures,
        evaluation_rows=None,
        settings=settings,
    )
