"""Batch scoring without HTTP (`leadscore score`): whole tables through the same `ScoringModel`
and the same reasons as the service."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract.schema import AS_OF, CREATED_AT, EVENT_TYPE, LEAD_ID, OCCURRED_AT
from features.contract.tables import SOURCE_COLUMNS, read_table, unique_ids
from features.journeys import Journeys
from runtime.methods import ReasonsMethod
from runtime.model import Reasons, ScoringModel


def read_leads(path: Path, id_column: str = LEAD_ID, *, created_at: bool = True) -> pd.DataFrame:
    """A leads table (Parquet file or directory, or CSV) keyed by `lead_id`.

    `id_column` is the table's own id column (a CRM export's, e.g. "Prospect ID");
    `created_at` is required only when the model reads journeys.
    """
    table = read_table(path)
    required = [id_column, *([CREATED_AT] if created_at else [])]
    missing = [c for c in required if c not in table]
    if missing:
        columns = [c for c in table.columns if c not in SOURCE_COLUMNS]
        raise ValueError(
            f"{path} lacks the column(s) {missing}; its columns are {columns}. Name the id "
            "column with --id-column; a model that reads journeys also needs created_at."
        )
    ids = unique_ids(table, id_column)
    leads = table.drop(columns=[*SOURCE_COLUMNS, LEAD_ID, id_column], errors="ignore")
    leads.insert(0, LEAD_ID, ids.astype(str).to_numpy())
    if created_at:
        leads[CREATED_AT] = pd.to_datetime(leads[CREATED_AT], utc=True, format="mixed")
    return leads


def read_journeys(path: Path, lead_ids: np.ndarray) -> Journeys:
    """The events of `lead_ids`; Parquet goes through DuckDB without a pandas frame."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        return Journeys.from_parquet(path, lead_ids)
    events = read_table(path)
    events[LEAD_ID] = events[LEAD_ID].astype(str)
    events[OCCURRED_AT] = pd.to_datetime(events[OCCURRED_AT], utc=True, format="mixed")
    return Journeys.from_frame(events[[LEAD_ID, OCCURRED_AT, EVENT_TYPE]], lead_ids)


def score_leads(
    model: ScoringModel,
    leads: pd.DataFrame,
    journeys: Journeys | None,
    as_of: datetime,
    *,
    reasons: bool = False,
    n_positive: int = 3,
    n_negative: int = 3,
    method: ReasonsMethod = ReasonsMethod.PATH,
) -> pd.DataFrame:
    """lead_id, as_of, probability, score, tier (and reasons) of every lead as of `as_of`."""
    rows = pd.DataFrame({LEAD_ID: leads[LEAD_ID].to_numpy(), AS_OF: pd.Timestamp(as_of)})
    prediction = model.predict_rows(
        leads, journeys, rows, Reasons(n_positive, n_negative, method) if reasons else None
    )
    out = rows.assign(
        probability=prediction.probability,
        score=prediction.score.astype(np.int16),
        tier=prediction.tier.astype(str),
    )
    if reasons:
        out["reasons"] = [[vars(reason) for reason in row] for row in prediction.reasons]
    return out
