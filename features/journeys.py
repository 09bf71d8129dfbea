"""Journeys encoded as flat numpy arrays: the one input format of the feature kernel.

Events of lead `i` are `times[offsets[i]:offsets[i + 1]]` (seconds since the epoch, UTC,
ascending) with event codes `codes[...]` (index into `schema.EVENT_TYPES`). The same
structure holds the leads of one request (the service) or millions (training), so both run
the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

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
        return self._index.get_indexer(lead_ids)

    @cached_property
    def _index(self) -> pd.Index:
        # Hashed once: a chunked build looks leads up here once per chunk.
        return pd.Index(self.lead_ids)

    @classmethod
    def from_arrays(
        cls, lead_ids: np.ndarray, lead_index: np.ndarray, times: np.ndarray, codes: np.ndarray
    ) -> Journeys:
        """Group events given as parallel arrays; `lead_index` points into `lead_ids`."""
        offsets, sorted_times, sorted_codes = group_by_lead(
            np.asarray(lead_index), np.asarray(times), np.asarray(codes), len(lead_ids)
        )
        return cls(
            lead_ids=np.asarray(lead_ids), offsets=offsets, times=sorted_times, codes=sorted_codes
        )

    @classmethod
    def from_frame(cls, events: pd.DataFrame, lead_ids: Sequence | np.ndarray) -> Journeys:
        """Encode a contract-shaped events frame for the given leads.

        Events of leads not in `lead_ids` are a data error: run validation first.
        """
        return cls.from_encoded(encode_events(events), lead_ids, source=events)

    @classmethod
    def from_encoded(
        cls,
        events: pd.DataFrame,
        lead_ids: Sequence | np.ndarray,
        source: pd.DataFrame | None = None,
    ) -> Journeys:
        """Journeys of the given leads from `encode_events` output; `source`, the frame it was
        encoded from, names the rows of unknown leads by file:line."""
        lead_ids = np.asarray(lead_ids)
        lead_index = pd.Index(lead_ids).get_indexer(events[LEAD_ID])
        unknown = np.flatnonzero(lead_index < 0)
        if len(unknown):
            leads = events[LEAD_ID].iloc[unknown[:3]]
            # Read by `read_table`, the rows are named by file:line.
            where = locations(source, unknown[:3]) if source is not None else ["event"] * 3
            shown = zip(where, leads, strict=False)
            raise ValueError(
                f"{len(unknown)} events belong to leads that are not in the leads table (e.g. "
                f"{', '.join(f'{where} lead {lead!r}' for where, lead in shown)}): give the "
                "events of these leads only, or run `leadscore data validate` to find and "
                "quarantine them."
            )
        return cls.from_arrays(
            lead_ids, lead_index.astype(np.int64), events[TIME].to_numpy(), events[CODE].to_numpy()
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
        # No ORDER BY: sorting 49M rows by (lead, time) in SQL took 4x the join itself;
        # `group_by_lead` groups them in one linear pass instead.
        table = con.execute(
            f"""
            SELECT l.idx AS idx,
                   epoch_us(CAST(e.{OCCURRED_AT} AS TIMESTAMPTZ)) / 1e6 AS t,
                   CAST(CASE e.{EVENT_TYPE} {codes_case} ELSE {OTHER_CODE} END AS TINYINT) AS code
            FROM read_parquet(?) e JOIN lead_ids l ON e.{LEAD_ID} = l.lead_id
            """,
            [pattern],
        ).fetchnumpy()
        con.close()
        offsets, times, codes = group_by_lead(
            table.pop("idx"), table.pop("t"), table.pop("code"), len(lead_ids)
        )
        return cls(lead_ids=lead_ids, offsets=offsets, times=times, codes=codes)


def group_by_lead(
    lead_index: np.ndarray, times: np.ndarray, codes: np.ndarray, n_leads: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events grouped by lead and sorted by time within each, events at the same time by
    code, so the arrays (and the data fingerprint) do not depend on the order the events
    arrived in: the offsets, times (float64) and codes (int8) of `Journeys`."""
    lead_index = np.ascontiguousarray(lead_index, dtype=np.int64)
    counts = np.bincount(lead_index, minlength=n_leads)
    offsets = np.zeros(n_leads + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    out_times = np.empty(len(lead_index), dtype=np.float64)
    out_codes = np.empty(len(lead_index), dtype=np.int8)
    _scatter_sorted(
        lead_index,
        np.ascontiguousarray(times, dtype=np.float64),
        np.ascontiguousarray(codes, dtype=np.int8),
        offsets,
        out_times,
        out_codes,
    )
    return offsets, out_times, out_codes


@njit(cache=True)
def _scatter_sorted(lead_index, times, codes, offsets, out_times, out_codes):  # pragma: no cover
    # A counting sort by lead (linear, stable), then each lead's few events by time: most
    # journeys arrive in time order already, and are only checked.
    cursor = offsets[:-1].copy()
    for i in range(lead_index.size):
        j = cursor[lead_index[i]]
        out_times[j] = times[i]
        out_codes[j] = codes[i]
        cursor[lead_index[i]] = j + 1
    for lead in range(offsets.size - 1):
        start, end = offsets[lead], offsets[lead + 1]
        for k in range(start + 1, end):
            t, previous = out_times[k], out_times[k - 1]
            if t < previous or (t == previous and out_codes[k] < out_codes[k - 1]):
                # By time, then code: two stable sorts make a lexicographic one.
                by_code = np.argsort(out_codes[start:end], kind="mergesort")
                order = by_code[np.argsort(out_times[start:end][by_code], kind="mergesort")]
                out_times[start:end] = out_times[start:end][order]
                out_codes[start:end] = out_codes[start:end][order]
                break


# Columns of encoded events besides the lead id.
TIME, CODE = "t", "code"


def encode_events(events: pd.DataFrame) -> pd.DataFrame:
    """Contract events as (lead_id, `TIME` in epoch seconds, event `CODE`): the kernel's
    encoding, and a fraction of the bytes of the text columns when events move between
    machines."""
    return pd.DataFrame(
        {
            LEAD_ID: events[LEAD_ID].astype(str),
            TIME: to_epoch_seconds(events[OCCURRED_AT]),
            CODE: encode_event_types(events[EVENT_TYPE]),
        },
        index=events.index,
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
