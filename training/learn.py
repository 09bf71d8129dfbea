"""Learn a booster from feature rows: their categories, their encoding, then the trees.

Journey training (stopping early on the latest leads, then refitting on all rows) and
flat-export cross-validation (each fold, stopping early on an inner part of it) both learn
through `learn_booster`, so categories are always learned from the rows the booster sees and
never from the rows it is measured on. A warm start (`training.warm_start`) is fitted on the
same rows as the trees it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.contract.schema import AS_OF, LABEL
from features.journeys import SECONDS_PER_DAY
from features.pipeline import FeaturePipeline
from runtime.encoder import FeatureEncoder
from training.categories import categorical_feature_names, learn_categories
from training.fit import BoosterParams, FitResult, fit_booster
from training.tune import TuneSummary, tune_params
from training.warm_start import Evidence, WarmStart, warm_booster

if TYPE_CHECKING:
    from training.train import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """How a booster learns beyond its settings: the warm start and the evidence it is fitted
    to, and how much more recent rows weigh (`half_life_days`: a row this many days older
    than the latest weighs half; None: all alike)."""

    start: WarmStart
    evidence: Evidence
    half_life_days: float | None = None

    def weights(self, rows: pd.DataFrame, latest: pd.Timestamp) -> np.ndarray | None:
        """The target's row weights of `rows`, ages counted back from `latest`."""
        if self.half_life_days is None:
            return None
        age = (latest - rows[AS_OF]).dt.total_seconds().to_numpy() / SECONDS_PER_DAY
        return 0.5 ** (age / self.half_life_days)


@dataclass(frozen=True)
class LearnedBooster:
    """A booster with the categories and encoder of its rows, and how its size was chosen."""

    booster: lgb.Booster
    categories: dict[str, tuple[str, ...]]
    encoder: FeatureEncoder
    fit: FitResult  # the early-stopping fit (or the fixed-size one, without stopping rows)
    tuning: TuneSummary | None = None
    # The early-stopped booster, which never saw the stopping rows: their out-of-time scorer.
    held_out: lgb.Booster | None = None
    trees: int = 0  # the target's trees in `booster` (after any warm start's)
    warm_start: WarmStart = WarmStart.NONE
    half_life_days: float | None = None


def learn_booster(
    rows: pd.DataFrame,
    pipeline: FeaturePipeline,
    config: TrainConfig,
    *,
    stop_rows: pd.DataFrame | None = None,
    refit: bool = False,
    trees: int | None = None,
    recipe: Recipe | None = None,
) -> LearnedBooster:
    """A booster on `rows` (label and the pipeline's features).

    With `stop_rows` it stops early on them (after tuning on them when `config.tune` is
    enabled); `refit` then fits again on `rows` and `stop_rows` together, with the number of
    trees early stopping chose scaled by how many more rows the refit has. Without, it has
    exactly `trees` trees (default: the booster settings' `num_boost_round`). Categories come
    from `rows` and `stop_rows`; `recipe` starts every fit from its warm start, fitted on that
    fit's rows, and weighs the target's rows by their age.
    """
    learning = rows if stop_rows is None else pd.concat([rows, stop_rows])
    categorical = categorical_feature_names(pipeline)
    categories = learn_categories(learning, categorical, config.min_category_count)
    encoder = FeatureEncoder(pipeline, categories)
    # One matrix for all rows; the fit and early-stopping parts are views of it.
    X = encoder.encode_frame(learning)
    y = learning[LABEL].to_numpy(dtype=np.int8)
    inputs = {
        "feature_names": encoder.feature_names,
        "categorical_features": categorical,
        "seed": config.seed,
    }
    params, tuning = config.booster, None
    start = recipe.start if recipe is not None else WarmStart.NONE
    half_life = recipe.half_life_days if recipe is not None else None
    latest = learning[AS_OF].max()

    def weights(n: int) -> np.ndarray | None:
        return recipe.weights(learning.iloc[:n], latest) if recipe is not None else None

    def begin(n: int) -> lgb.Booster | None:
        """The warm start fitted on the first `n` learning rows."""
        if recipe is None:
            return None
        return warm_booster(
            X[:n],
            learning.iloc[:n],
            recipe.start,
            recipe.evidence,
            config.warm_start,
            params,
            feature_names=encoder.feature_names,
            categorical_features=categorical,
            seed=config.seed,
        )

    def fit_all(fixed: BoosterParams) -> tuple[lgb.Booster, FitResult]:
        """`fixed.num_boost_round` target trees on every learning row, after the warm start."""
        return fit_booster(
            X,
            y,
            None,
            None,
            params=fixed,
            init_model=begin(len(X)),
            weight=weights(len(X)),
            **inputs,
        )

    if stop_rows is None:
        if trees is not None:
            params = params.model_copy(update={"num_boost_round": trees})
        booster, fit = fit_all(params)
        return LearnedBooster(
            booster,
            categories,
            encoder,
            fit,
            trees=fit.best_iteration,
            warm_start=start,
            half_life_days=half_life,
        )
    n_fit = len(rows)
    parts = (X[:n_fit], y[:n_fit], X[n_fit:], y[n_fit:])
    if config.tune.enabled:
        params, tuning = tune_params(*parts, base=params, config=config.tune, **inputs)
    stopped, fit = fit_booster(
        *parts, params=params, init_model=begin(n_fit), weight=weights(n_fit), **inputs
    )
    booster, n_trees = stopped, fit.best_iteration
    if refit:
        # More rows carry more signal before the trees start fitting noise.
        n_trees = max(1, round(fit.best_iteration * len(X) / n_fit))
        booster, _ = fit_all(params.model_copy(update={"num_boost_round": n_trees}))
    return LearnedBooster(
        booster,
        categories,
        encoder,
        fit,
        tuning,
        held_out=stopped,
        trees=n_trees,
        warm_start=start,
        half_life_days=half_life,
    )
