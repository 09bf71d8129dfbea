"""Batch scoring without HTTP (`leadscore score`): whole tables through the same `ScoringModel`
and the same reasons as the service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract.mapping import TimestampSettings
from features.contract.schema import AS_OF, CREATED_AT, EVENT_TYPE, LEAD_ID, OCCURRED_AT
from features.contract.tables import SOURCE_COLUMNS, locations, read_table, row_ids, unique_ids
from features.contract.timestamps import parse_timestamps
from features.journeys import Journeys
from runtime.methods import ReasonsMethod
from runtime.model import Reasons, ScoringModel

_EVENT_COLUMNS = [LEAD_ID, OCCURRED_AT, EVENT_TYPE]
# Each value's layout guessed on its own, as a CRM export may mix them.
_TIMES = TimestampSettings(format="mixed")


@dataclass(frozen=True)
class LeadsTable:
    """The leads to score, keyed by `lead_id`; `numbered`: the file had no id column."""

    leads: pd.DataFrame
    numbered: bool = False


def read_leads(
    path: Path, id_column: str = LEAD_ID, *, created_at: bool = True, number_rows: bool = False
) -> LeadsTable:
    """A leads table (Parquet file or directory, or CSV) keyed by `lead_id`.

    `id_column` is the table's own id column (a CRM export's, e.g. "Prospect ID");
    `created_at` is required only when the model reads journeys. With `number_rows`, a table
    without the id column gets row_1, row_2, ... as a model trained on such an export did.
    """
    table = read_table(path)
    numbered = number_rows and id_column not in table
    if numbered:
        table = table.assign(**{id_column: row_ids(len(table))})
    required = [id_column, *([CREATED_AT] if created_at else [])]
    _require_columns(
        table,
        path,
        required,
        "name the id column with --id-column; a model that reads journeys also needs created_at",
    )
    if table.empty:
        raise ValueError(f"{path} has a header but no rows: there are no leads to score")
    ids = unique_ids(table, id_column)
    leads = table.drop(columns=[*SOURCE_COLUMNS, LEAD_ID, id_column], errors="ignore")
    leads.insert(0, LEAD_ID, ids.astype(str).to_numpy())
    if created_at:
        leads[CREATED_AT] = _utc(table, CREATED_AT, path)
    return LeadsTable(leads, numbered)


def read_journeys(path: Path, lead_ids: np.ndarray) -> Journeys:
    """The events of `lead_ids`; Parquet goes through DuckDB without a pandas frame."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() in (".parquet", ".pq"):
        import duckdb

        try:
            return Journeys.from_parquet(path, lead_ids)
        except duckdb.Error as exc:
            raise ValueError(
                f"{path}: cannot read the events ({str(exc).splitlines()[0]}); give a Parquet "
                f"file or directory with the columns {_EVENT_COLUMNS}"
            ) from exc
    events = read_table(path)
    _require_columns(events, path, _EVENT_COLUMNS, "an events table needs all three")
    events[LEAD_ID] = events[LEAD_ID].astype(str)
    events[OCCURRED_AT] = _utc(events, OCCURRED_AT, path)
    return Journeys.from_frame(events, lead_ids)


def _require_columns(table: pd.DataFrame, path: Path, required: list[str], hint: str) -> None:
    missing = [c for c in required if c not in table]
    if missing:
        columns = [c for c in table.columns if c not in SOURCE_COLUMNS]
        raise ValueError(f"{path} has no column(s) {missing} (columns read: {columns}); {hint}")


def _utc(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """A timestamp column in UTC; empty or unreadable values are named by file:line."""
    parsed = parse_timestamps(table[column], _TIMES)
    bad = np.flatnonzero(parsed.missing | parsed.unparseable | parsed.out_of_range)
    if len(bad):
        shown = table[column].iloc[bad[:3]].fillna("")
        examples = ", ".join(
            f"{where} {value!r}"
            for where, value in zip(locations(table, bad[:3]), shown, strict=True)
        )
        raise ValueError(
            f"{path}: {len(bad)} row(s) with an empty or unreadable {column} (e.g. {examples}); "
            "write times as ISO 8601, e.g. 2025-03-01T14:05:00Z, between 1970 and 2099"
        )
    return parsed.utc


def unusable_columns(model: ScoringModel, leads: pd.DataFrame) -> list[str]:
    """Columns the model reads that `leads` lacks or leaves empty in every row: every lead is
    scored as if those values were unknown, which quietly drags scores towards nurture."""
    sources = model.spec.pipeline.attributes.sources
    return [c for c in sources if c not in leads or leads[c].isna().all()]


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
