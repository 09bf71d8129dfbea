"""Train without a time axis: stratified K-fold cross-validation, then one model on all rows.

For a one-row-per-lead export with no dates there is no "later" slice to calibrate and test
on. Each fold's booster is fitted on the other folds and predicts its own fold, so every
row gets an out-of-fold raw score that no model trained on it produced. The number of trees
is the median of the folds' early stopping on an inner stratified part of their own training
rows; all fold models and the final model use it, so their raw scores share one scale (one
integer chosen across folds, whose inner rows may be another fold's test rows: a negligible
leak, the price of one scale). Then:
- reported metrics: each fold's out-of-fold scores calibrated by a calibrator fitted on the
  other folds' out-of-fold scores (cross-fitted), so calibration is measured on rows it was
  not fitted on either;
- the final calibrator and the tier thresholds: fitted on all out-of-fold scores;
- the final booster: all rows, the same number of trees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from features.contract.schema import LABEL
from features.pipeline import FeaturePipeline
from training.calibrate import CalibrationFit, fit_calibrator
from training.evaluate import Metrics, evaluate
from training.learn import LearnedBooster, learn_booster
from training.train import TrainConfig


class FoldResult(BaseModel):
    """One fold: its size, where its early stopping ended, and its out-of-fold ROC AUC."""

    rows: int
    positives: int
    early_stop: int = Field(description="Best iteration on an inner part of its training rows.")
    roc_auc: float


class CrossValidation(BaseModel):
    """What cross-validation measured; the headline of a model trained without dates."""

    folds: list[FoldResult]
    trees: int = Field(description="Trees of every fold model and of the final model.")
    metrics: Metrics
    calibrator_kinds: list[str]


@dataclass
class CrossValidated:
    """Out-of-fold scores and what is fitted on them (the final model only if asked for)."""

    summary: CrossValidation
    raw: np.ndarray  # out-of-fold raw log-odds
    probability: np.ndarray  # cross-fitted calibrated out-of-fold probability
    calibration: CalibrationFit  # fitted on all out-of-fold raw scores
    final: LearnedBooster | None = None  # all rows, the folds' number of trees


def cross_validate(
    frame: pd.DataFrame,
    pipeline: FeaturePipeline,
    config: TrainConfig,
    folds: int = 5,
    *,
    final_model: bool = True,
) -> CrossValidated:
    """Out-of-fold scores of `frame` (label and the pipeline's features), and the final model."""
    y = frame[LABEL].to_numpy(dtype=np.int8)
    if int(y.sum()) < folds or int((1 - y).sum()) < folds:
        raise ValueError(
            f"{folds}-fold cross-validation needs at least {folds} converted and {folds} "
            "non-converted leads; check the target column and its positive value."
        )
    if config.tune.enabled:
        raise ValueError(
            "hyperparameter search needs a held-out slice: train with a date column (time "
            "split) to use it, or set the booster parameters in the config file."
        )
    splitter = StratifiedKFold(folds, shuffle=True, random_state=config.seed)
    splits = list(splitter.split(np.zeros(len(y)), y))
    # Pass 1: each fold's early stopping on an inner part of its own training rows.
    stops = [_early_stop(frame.iloc[train], pipeline, config) for train, _ in splits]
    # Pass 2: every fold model (and the final one) gets the same number of trees, so their
    # raw scores share one scale and one calibrator fits them all.
    trees = max(1, round(float(np.median(stops))))
    raw = np.empty(len(y))
    fold_of = np.empty(len(y), dtype=np.int64)
    results = []
    for k, ((train, test), stop) in enumerate(zip(splits, stops, strict=True)):
        # Categories come from the fold's training rows only, never from its test rows.
        fold = learn_booster(frame.iloc[train], pipeline, config, trees=trees)
        test_X = fold.encoder.encode_frame(frame.iloc[test])
        raw[test] = fold.booster.predict(test_X, raw_score=True)
        fold_of[test] = k
        results.append(
            FoldResult(
                rows=len(test),
                positives=int(y[test].sum()),
                early_stop=stop,
                roc_auc=float(roc_auc_score(y[test], raw[test])),
            )
        )

    probability = np.empty(len(y))
    kinds = []
    for k in range(folds):
        held = fold_of == k
        fitted = _calibrate(raw[~held], y[~held], config)
        probability[held] = fitted.calibrator.apply(raw[held])
        kinds.append(fitted.calibrator.kind)
    summary = CrossValidation(
        folds=results,
        trees=trees,
        metrics=evaluate(
            probability, y, raw_probability=1.0 / (1.0 + np.exp(-raw)), bins=config.ece_bins
        ),
        calibrator_kinds=kinds,
    )
    out = CrossValidated(
        summary=summary, raw=raw, probability=probability, calibration=_calibrate(raw, y, config)
    )
    if final_model:
        out.final = learn_booster(frame, pipeline, config, trees=trees)
    return out


def _calibrate(raw: np.ndarray, y: np.ndarray, config: TrainConfig) -> CalibrationFit:
    # Rows are leads here: each row is its own group.
    return fit_calibrator(raw, y, folds=config.calibration_folds)


def _early_stop(part: pd.DataFrame, pipeline: FeaturePipeline, config: TrainConfig) -> int:
    """The number of trees early stopping chooses on an inner stratified share of `part`."""
    fit_rows, stop_rows = train_test_split(
        np.arange(len(part)),
        test_size=config.split.valid_share,
        stratify=part[LABEL].to_numpy(dtype=np.int8),
        random_state=config.seed,
    )
    learned = learn_booster(part.iloc[fit_rows], pipeline, config, stop_rows=part.iloc[stop_rows])
    return learned.fit.best_iteration
