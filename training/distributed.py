"""Booster fits on a Dask cluster (`leadscore train --engine dask`), with `lightgbm.dask`.

Inside `on_cluster(client)`, every `fit_booster` call of the run (the train slice's fit with
early stopping, the refit, tuning trials) trains data-parallel on the cluster's workers and
returns an ordinary `lgb.Booster`: the artifact, its calibration, tiers and evaluation are
the single-machine ones, and `leadscore serve` serves it unchanged. The engine is a context,
as `joblib.parallel_backend` is for scikit-learn, so the training stages keep one signature.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score

if TYPE_CHECKING:
    from distributed import Client

    from training.fit import BoosterParams, FitResult

_CLIENT: ContextVar[Client | None] = ContextVar("leadscore_dask_client", default=None)


@contextmanager
def on_cluster(client: Client) -> Iterator[None]:
    """Booster fits inside this block train on `client`'s cluster."""
    token = _CLIENT.set(client)
    try:
        yield
    finally:
        _CLIENT.reset(token)


def fit_on_cluster(
    train_X: np.ndarray,
    train_y: np.ndarray,
    valid_X: np.ndarray | None,
    valid_y: np.ndarray | None,
    *,
    settings: dict,
    params: BoosterParams,
    feature_names: Sequence[str],
    categorical_features: Sequence[str],
    pos_weight: float,
    weight: np.ndarray | None = None,
    init_model: lgb.Booster | None = None,
) -> tuple[lgb.Booster, FitResult] | None:
    """`fit_booster`'s fit on the active cluster, or None outside `on_cluster`.

    LightGBM's Dask interface has no early stopping, so all `num_boost_round` trees are
    grown and the patient stopping rule of the local fit is replayed on the validation
    rows' AUC after each tree: it keeps the trees the local fit would have stopped at.
    """
    client = _CLIENT.get()
    if client is None:
        return None
    if init_model is not None:
        # lightgbm.dask takes no init_model; `leadscore train --engine dask` offers none.
        raise ValueError(
            "a warm start cannot train on a Dask cluster: set `warm_start: {candidates: "
            "[none]}` with `engine: dask`."
        )
    from lightgbm.dask import DaskLGBMClassifier

    from training.fit import FitResult, _PatientStopping, booster_feature_name

    X, y, w = _spread(client, train_X, train_y, weight)
    # Each worker runs as many LightGBM threads as it has Dask threads.
    model_params = {k: v for k, v in settings.items() if k != "num_threads"}
    model = DaskLGBMClassifier(client=client, n_estimators=params.num_boost_round, **model_params)
    model.fit(
        X,
        y,
        sample_weight=w,
        feature_name=[booster_feature_name(n) for n in feature_names],
        categorical_feature=[booster_feature_name(n) for n in categorical_features],
    )
    booster = model.booster_
    if valid_X is None or valid_y is None:
        return booster, FitResult(
            best_iteration=booster.current_iteration(),
            valid_auc=float("nan"),
            scale_pos_weight=pos_weight,
            params=settings,
        )
    stopping = _PatientStopping(params.early_stopping_rounds, params.min_trees)
    raw = np.zeros(len(valid_X))
    for tree in range(booster.current_iteration()):
        raw += booster.predict(valid_X, start_iteration=tree, num_iteration=1, raw_score=True)
        stopping.auc.append(float(roc_auc_score(valid_y, raw)))
        if len(stopping.auc) - stopping.best_iteration >= stopping.patience:
            break
    best = stopping.best_iteration
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    return booster, FitResult(
        best_iteration=best,
        valid_auc=stopping.auc[best - 1],
        scale_pos_weight=pos_weight,
        params=settings,
    )


def _spread(client: Client, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple:
    """`X`, `y` and the weights `w` (if any) as dask arrays, one contiguous block of rows on
    each worker in address order: each worker trains on its block and the histograms are
    merged. The same blocks on the same workers every run, so a run is repeatable."""
    import dask.array as da

    columns = [X, y] if w is None else [X, y, w]
    workers = sorted(client.scheduler_info()["workers"])
    bounds = np.linspace(0, len(X), len(workers) + 1).astype(int)
    blocks: list[list] = [[] for _ in columns]
    for worker, start, stop in zip(workers, bounds[:-1], bounds[1:], strict=True):
        if stop == start:
            continue
        parts = client.scatter([c[start:stop] for c in columns], workers=[worker])
        for k, (part, column) in enumerate(zip(parts, columns, strict=True)):
            shape = (stop - start, *column.shape[1:])
            blocks[k].append(da.from_delayed(part, shape=shape, dtype=column.dtype))
    arrays = [da.concatenate(b) for b in blocks]
    return arrays[0], arrays[1], arrays[2] if w is not None else None
