"""Side-by-side ranking measures of scoring methods on the same rows (model, points, oracle)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import average_precision_score, roc_auc_score

from training.evaluate import lift_at, positives_in_top


class MethodRow(BaseModel):
    """How well one method ranks the same rows."""

    method: str
    roc_auc: float
    pr_auc: float
    lift_top_5pct: float
    lift_top_10pct: float
    deals_captured_at_sql_volume: float


def compare_scores(
    y: np.ndarray, scores: Mapping[str, np.ndarray], sql_share: float
) -> list[MethodRow]:
    """Rank measures of each score on outcomes `y`.

    Each method's "SQL tier" is its top `sql_share` of rows (the model's SQL volume), so
    the deals they capture are compared at equal sales effort.
    """
    y = np.asarray(y, dtype=np.int8)
    total = float(y.sum())
    return [
        MethodRow(
            method=method,
            roc_auc=float(roc_auc_score(y, score)),
            pr_auc=float(average_precision_score(y, score)),
            lift_top_5pct=lift_at(score, y, 0.05),
            lift_top_10pct=lift_at(score, y, 0.10),
            deals_captured_at_sql_volume=positives_in_top(score, y, sql_share) / total,
        )
        for method, score in scores.items()
    ]
