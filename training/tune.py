"""Optional, bounded hyperparameter search (Optuna) on the validation part of the train slice.

It never sees the calibration or test slices. The defaults are tried first, so the search
can only keep or improve on them (on validation AUC).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from training.fit import BoosterParams, fit_booster


class TuneConfig(BaseModel):
    """Whether and how long to search."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    trials: int = Field(20, ge=1, le=500, description="Most parameter sets to try.")
    timeout_seconds: float | None = Field(
        900, gt=0, description="Stop starting new trials after this long."
    )


class TuneSummary(BaseModel):
    """What the search tried and kept."""

    trials: int
    default_valid_auc: float
    best_valid_auc: float
    best_params: dict[str, float | int]


def tune_params(
    train_X: np.ndarray,
    train_y: np.ndarray,
    valid_X: np.ndarray,
    valid_y: np.ndarray,
    *,
    feature_names: Sequence[str],
    categorical_features: Sequence[str],
    base: BoosterParams,
    config: TuneConfig,
    seed: int = 0,
) -> tuple[BoosterParams, TuneSummary]:
    """Search a bounded space around `base`; return the best parameters and a summary."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        candidate = base.model_copy(
            update={
                "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
                "num_leaves": trial.suggest_int("num_leaves", 8, 128, log=True),
                "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 500, log=True),
                "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
                "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
                "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
            }
        )
        _, fit = fit_booster(
            train_X,
            train_y,
            valid_X,
            valid_y,
            feature_names=feature_names,
            categorical_features=categorical_features,
            params=candidate,
            seed=seed,
        )
        return fit.valid_auc

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    defaults = {
        "learning_rate": base.learning_rate,
        "num_leaves": base.num_leaves,
        "min_data_in_leaf": base.min_data_in_leaf,
        "feature_fraction": base.feature_fraction,
        "bagging_fraction": base.bagging_fraction,
        "lambda_l2": base.lambda_l2,
    }
    study.enqueue_trial(defaults, skip_if_exists=True)
    study.optimize(objective, n_trials=config.trials, timeout=config.timeout_seconds)
    summary = TuneSummary(
        trials=len(study.trials),
        default_valid_auc=float(study.trials[0].value),
        best_valid_auc=float(study.best_value),
        best_params=study.best_params,
    )
    return base.model_copy(update=study.best_params), summary
