"""Journeys encoded as flat numpy arrays: the one input format of the feature kernel.

Events of lead `i` are `times[offsets[i]:offsets[i + 1]]` (seconds since the epoch, UTC,
ascending) with event codes `codes[...]` (index into `schema.EVENT_TYPES`). The same
structure holds the leads of one request (the service) or millions (training), so both run
the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract.schema import (
    EVENT_CODE,
    EVENT_TYPE,
    EVENT_TYPES,
    LEAD_ID,
    OCCURRED_AT,
    OTHER_CODE,
)
from features.contract.tables import locations

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Journeys:
    """Events of many leads, grouped by lead and sorted by time."""

    lead_ids: np.ndarray  # lead id of each journey, in journey order
    offsets: np.ndarray  # int64, len(lead_ids) + 1
    times: np.ndarray  # float64 seconds since epoch, ascending within a lead
    codes: np.ndarray  # int8 event codes

    def __len__(self) -> int:
        return len(self.lead_ids)

    def index_of(self, lead_ids: Sequence | np.ndarray) -> np.ndarray:
        """Position of each lead id in this set (-1 where the lead is unknown)."""
        return pd.Index(self.lead_ids).get_indexer(lead_ids)

    @classmethod
    def from_arrays(
        cls, lead_ids: np.ndarray, lead_index: np.ndarray, times: np.ndarray, codes: np.ndarray
    ) -> Journeys:
        """Group events given as parallel arrays; `lead_index` points into `lead_ids`."""
        order = np.lexsort((times, lead_index))
        counts = np.bincount(lead_index, minlength=len(lead_ids))
        offsets = np.zeros(len(lead_ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(
            lead_ids=np.asarray(lead_ids),
            offsets=offsets,
            times=np.ascontiguousarray(times[order], dtype=np.float64),
            codes=np.ascontiguousarray(codes[order], dtype=np.int8),
        )

    @classmethod
    def from_frame(cls, events: pd.DataFrame, lead_ids: Sequence | np.ndarray) -> Journeys:
        """Encode a contract-shaped events frame for the given leads.

        Events of leads not in `lead_ids` are a data error: run validation first.
        """
        lead_ids = np.asarray(lead_ids)
        lead_index = pd.Index(lead_ids).get_indexer(events[LEAD_ID])
        unknown = np.flatnonzero(lead_index < 0)
        if len(unknown):
            # Read by `read_table`, the rows are named by file:line.
            shown = zip(
                locations(events, unknown[:3]), events[LEAD_ID].iloc[unknown[:3]], strict=True
            )
            raise ValueError(
                f"{len(unknown)} events belong to leads that are not in the leads table (e.g. "
                f"{', '.join(f'{where} lead {lead!r}' for where, lead in shown)}): give the "
                "events of these leads only, or run `leadscore data validate` to find and "
                "quarantine them."
            )
        return cls.from_arrays(
            lead_ids,
            lead_index.astype(np.int64),
            to_epoch_seconds(events[OCCURRED_AT]),
            encode_event_types(events[EVENT_TYPE]),
        )

    @classmethod
    def from_parquet(cls, path: str | Path, lead_ids: Sequence | np.ndarray) -> Journeys:
        """Read and encode a (possibly huge) events Parquet file or directory with DuckDB.

        DuckDB reads, joins and sorts in parallel without building a pandas frame, which
        matters at tens of millions of events.
        """
        import duckdb

        lead_ids = np.asarray(lead_ids)
        source = Path(path)
        pattern = str(source / "**" / "*.parquet") if source.is_dir() else str(source)
        con = duckdb.connect()
        # Naive timestamps are UTC by contract; casts go through the session zone.
        con.execute("SET TimeZone = 'UTC'")
        con.register(
            "lead_ids", pd.DataFrame({"lead_id": lead_ids, "idx": np.arange(len(lead_ids))})
        )
        # Events of unknown leads would vanish in the join: refuse them instead.
        unknown = con.execute(
            f"SELECT count(*), any_value(e.{LEAD_ID}) FROM read_parquet(?) e "
            f"ANTI JOIN lead_ids l ON e.{LEAD_ID} = l.lead_id",
            [pattern],
        ).fetchone()
        if unknown[0]:
            raise ValueError(
                f"{unknown[0]} events in {path} belong to unknown leads (e.g. {unknown[1]!r}); "
                "run `leadscore data validate` to find and quarantine them."
            )
        codes_case = " ".join(f"WHEN '{name}' THEN {code}" for name, code in EVENT_CODE.items())
        table = con.execute(
            f"""
            SELECT l.idx AS idx,
                   epoch_us(CAST(e.{OCCURRED_AT} AS TIMESTAMPTZ)) / 1e6 AS t,
                   CAST(CASE e.{EVENT_TYPE} {codes_case} ELSE {OTHER_CODE} END AS TINYINT) AS code
            FROM read_parquet(?) e JOIN lead_ids l ON e.{LEAD_ID} = l.lead_id
            ORDER BY idx, t
            """,
            [pattern],
        ).fetchnumpy()
        con.close()
        idx = table["idx"]
        counts = np.bincount(idx, minlength=len(lead_ids))
        offsets = np.zeros(len(lead_ids) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return cls(
            lead_ids=lead_ids,
            offsets=offsets,
            times=np.ascontiguousarray(table["t"], dtype=np.float64),
            codes=np.ascontiguousarray(table["code"], dtype=np.int8),
        )


def to_epoch_seconds(timestamps: pd.Series) -> np.ndarray:
    """UTC timestamps (tz-aware or naive-as-UTC) as float64 seconds since the epoch."""
    # pandas 3 may store timestamps in us or ns: pin the unit before taking integers.
    ts = pd.to_datetime(timestamps, utc=True).dt.as_unit("us")
    return ts.astype("int64").to_numpy() / 1e6


def encode_event_types(event_types: pd.Series) -> np.ndarray:
    """Canonical event type names as int8 codes; anything unknown becomes `other`."""
    codes = pd.Index(EVENT_TYPES).get_indexer(event_types.astype(object))
    return np.where(codes < 0, OTHER_CODE, codes).astype(np.int8)
