"""Fit the LightGBM booster: categories natively, early stopping, class imbalance, determinism."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from features.catalogue import by_name
from training.distributed import fit_on_cluster

# Below this many training rows one thread trains faster than two (see `num_threads`).
_MULTITHREAD_MIN_ROWS = 50_000
# LightGBM refuses these in feature names (its model dump is JSON); a CRM export's column
# names may hold any of them ("Revenue, USD").
_JSON_SPECIAL = re.compile(r'[",:\[\]{}]')


def booster_feature_name(name: str) -> str:
    """The spelling of a feature name the booster accepts; consumers use names by position."""
    return _JSON_SPECIAL.sub("_", name)


class BoosterParams(BaseModel):
    """LightGBM settings. Defaults suit 10 thousand to a few million rows on 2 cores."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(31, ge=2)
    # Strong leaf size, L2 and column sampling: journeys drift (campaigns, seasons), and on
    # synthetic and real-sized data the validation AUC peaked early and fell without them.
    min_data_in_leaf: int = Field(200, ge=1)
    feature_fraction: float = Field(0.5, gt=0, le=1)
    bagging_fraction: float = Field(0.8, gt=0, le=1)
    bagging_freq: int = Field(1, ge=0)
    lambda_l2: float = Field(10.0, ge=0)
    max_bin: int = Field(255, ge=2)
    cat_smooth: float = Field(10.0, ge=0)
    num_boost_round: int = Field(1000, ge=1, description="Upper bound; early stopping ends sooner.")
    early_stopping_rounds: int = Field(50, ge=1)
    min_trees: int = Field(
        30,
        ge=1,
        description="Early stopping never keeps fewer trees: with few validation conversions "
        "the AUC curve's first peaks are noise (we saw it pick a single tree).",
    )
    class_weight: Literal["sqrt", "balanced", "none"] = Field(
        "sqrt",
        description="Weight of a converted row: sqrt = sqrt(negatives / positives), balanced = "
        "negatives / positives, none = 1. Up-weighting lets the rare converters shape the "
        "trees; full balancing (x20 and more) overfit them in our validation runs. The "
        "calibrator maps the inflated scores back to probabilities either way.",
    )
    monotone_intent: bool = Field(
        True,
        description="More (or more recent) intent actions and activity never lower the score: "
        "a rule reps can trust, and one that stops a noisy tree from punishing a demo request.",
    )
    num_threads: int | None = Field(
        None,
        ge=1,
        description="None: one thread below 50,000 training rows (synchronising threads costs "
        "more than it saves there, and a busy machine can starve them), else two.",
    )

    def threads_for(self, rows: int) -> int:
        """The thread count to train `rows` rows with."""
        if self.num_threads is not None:
            return self.num_threads
        return 1 if rows < _MULTITHREAD_MIN_ROWS else 2


class FitResult(BaseModel):
    """What the fit did, for the report."""

    best_iteration: int
    valid_auc: float
    scale_pos_weight: float
    params: dict[str, Any]


def monotone_constraints(feature_names: Sequence[str]) -> list[int]:
    """Each behaviour feature's direction in the catalogue (+1 for intent counts, decayed
    intent and overall activity; -1 for days since them); 0 for any other feature."""
    return [feature.monotone if (feature := by_name(n)) else 0 for n in feature_names]


def lgb_params(
    params: BoosterParams, feature_names: Sequence[str], seed: int, pos_weight: float, rows: int
) -> dict:
    """The LightGBM parameter dict: deterministic, fixed thread count, quiet."""
    out: dict = {
        "objective": "binary",
        "metric": "auc",
        "learning_rate": params.learning_rate,
        "num_leaves": params.num_leaves,
        "min_data_in_leaf": params.min_data_in_leaf,
        "feature_fraction": params.feature_fraction,
        "bagging_fraction": params.bagging_fraction,
        "bagging_freq": params.bagging_freq,
        "lambda_l2": params.lambda_l2,
        "max_bin": params.max_bin,
        "cat_smooth": params.cat_smooth,
        "scale_pos_weight": pos_weight,
        "num_threads": params.threads_for(rows),
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }
    if params.monotone_intent:
        out["monotone_constraints"] = monotone_constraints(feature_names)
        out["monotone_constraints_method"] = "intermediate"
    return out


def fit_booster(
    train_X: np.ndarray,
    train_y: np.ndarray,
    valid_X: np.ndarray | None,
    valid_y: np.ndarray | None,
    *,
    feature_names: Sequence[str],
    categorical_features: Sequence[str] = (),
    params: BoosterParams | None = None,
    seed: int = 0,
    init_model: lgb.Booster | None = None,
    weight: np.ndarray | None = None,
) -> tuple[lgb.Booster, FitResult]:
    """Train a binary booster on the encoded matrix, stopping early on the validation rows.

    The returned booster holds exactly the best iteration's trees. Without validation rows
    (`valid_X=None`: a final model on all rows, its number of trees chosen by cross-validation)
    it trains exactly `params.num_boost_round` trees. With `init_model` (a warm start) the new
    trees learn corrections to its scores and the result holds its trees first;
    `FitResult.best_iteration` counts the new trees only. `weight` weighs the training rows
    (the validation rows count alike).
    """
    params = params or BoosterParams()
    n_pos = float(np.sum(train_y))
    has_valid = valid_X is not None and valid_y is not None
    if (
        n_pos == 0
        or n_pos == len(train_y)
        or (has_valid and not 0 < np.sum(valid_y) < len(valid_y))
    ):
        raise ValueError(
            "the training and validation rows must each hold both converted and "
            "non-converted leads; use more history (or `--force` only if you know why)."
        )
    ratio = (len(train_y) - n_pos) / n_pos
    pos_weight = {"balanced": ratio, "sqrt": ratio**0.5, "none": 1.0}[params.class_weight]
    settings = lgb_params(params, feature_names, seed, pos_weight, len(train_y))
    on_cluster = fit_on_cluster(  # `leadscore train --engine dask` (training/distributed.py)
        train_X,
        train_y,
        valid_X,
        valid_y,
        settings=settings,
        params=params,
        feature_names=feature_names,
        categorical_features=categorical_features,
        pos_weight=pos_weight,
        weight=weight,
        init_model=init_model,
    )
    if on_cluster is not None:
        return on_cluster
    dataset_params = {"max_bin": params.max_bin, "verbosity": -1}
    train_set = lgb.Dataset(
        train_X,
        label=train_y,
        weight=weight,
        feature_name=[booster_feature_name(n) for n in feature_names],
        categorical_feature=[booster_feature_name(n) for n in categorical_features],
        params=dataset_params,
        free_raw_data=True,
    )
    start = init_model.current_iteration() if init_model is not None else 0
    if not has_valid:
        booster = lgb.train(
            settings, train_set, num_boost_round=params.num_boost_round, init_model=init_model
        )
        return booster, FitResult(
            best_iteration=booster.current_iteration() - start,
            valid_auc=float("nan"),
            scale_pos_weight=pos_weight,
            params=settings,
        )
    valid_set = lgb.Dataset(valid_X, label=valid_y, reference=train_set, params=dataset_params)
    stopping = _PatientStopping(params.early_stopping_rounds, params.min_trees)
    booster = lgb.train(
        settings,
        train_set,
        num_boost_round=params.num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[stopping],
        init_model=init_model,
    )
    best = stopping.best_iteration
    # Keep only the trees up to the best iteration, so every consumer predicts the same.
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=start + best))
    return booster, FitResult(
        best_iteration=best,
        valid_auc=stopping.auc[best - 1],
        scale_pos_weight=pos_weight,
        params=settings,
    )


class _PatientStopping:
    """Early stopping on validation AUC that cannot choose fewer than `min_trees` trees."""

    order = 30  # where LightGBM runs its own early stopping among callbacks

    def __init__(self, patience: int, min_trees: int) -> None:
        self.patience = patience
        self.min_trees = min_trees
        self.auc: list[float] = []

    @property
    def best_iteration(self) -> int:
        """Number of trees (1-based) with the best validation AUC, at least `min_trees`."""
        floor = min(self.min_trees, len(self.auc))
        return floor + int(np.argmax(self.auc[floor - 1 :]))

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        self.auc.append(float(env.evaluation_result_list[0][2]))
        if len(self.auc) - self.best_iteration >= self.patience:
            # LightGBM keeps iterations up to this one, counted from a warm start's first.
            raise lgb.callback.EarlyStopException(
                env.begin_iteration + self.best_iteration - 1, env.evaluation_result_list
            )


class FeatureImportance(BaseModel):
    """Total split gain of one feature and its share of all gain."""

    feature: str
    gain: float
    share: float


def gain_importance(
    booster: lgb.Booster, top: int = 20, feature_names: Sequence[str] | None = None
) -> list[FeatureImportance]:
    """The `top` features by total split gain, largest first.

    `feature_names` (the model's, in booster order) reports them as the user wrote them:
    the booster's own spelling has underscores for spaces.
    """
    gain = booster.feature_importance(importance_type="gain")
    total = float(gain.sum()) or 1.0
    order = np.argsort(-gain, kind="stable")[:top]
    names = list(feature_names) if feature_names is not None else booster.feature_name()
    return [
        FeatureImportance(feature=names[i], gain=float(gain[i]), share=float(gain[i]) / total)
        for i in order
        if gain[i] > 0
    ]
