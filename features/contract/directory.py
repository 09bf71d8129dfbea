"""A directory of clean contract tables (as written by `data synth` or `data validate --out`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract.schema import CREATED_AT, LEAD_ID, OCCURRED_AT
from features.journeys import Journeys

LEADS_FILE = "leads.parquet"
EVENTS_NAME = "events"  # events.parquet, or a directory events/ of Parquet parts
OUTCOMES_FILE = "outcomes.parquet"
ORACLE_FILE = "oracle.parquet"


@dataclass(frozen=True)
class ContractData:
    """Leads, their encoded journeys and their outcomes, ready for features and labels."""

    leads: pd.DataFrame
    journeys: Journeys
    outcomes: pd.DataFrame
    oracle: pd.DataFrame | None = None


def read_contract_dir(directory: Path) -> ContractData:
    """Read contract-shaped Parquet tables; events are streamed through DuckDB.

    These tables are trusted to be valid: raw exports go through `leadscore data validate`
    (which can write such a directory with `--out`) first. Events are optional: without them
    every journey is empty.
    """
    directory = Path(directory)
    leads_path = directory / LEADS_FILE
    events_path = next(
        (p for p in (directory / EVENTS_NAME, directory / f"{EVENTS_NAME}.parquet") if p.exists()),
        None,
    )
    outcomes_path = directory / OUTCOMES_FILE
    missing = [str(p) for p in (leads_path, outcomes_path) if not p.exists()]
    if missing:
        raise FileNotFoundError(
            f"{directory} is not a contract data directory; missing {missing}. Create one with "
            "`leadscore data synth --out DIR` or `leadscore data validate ... --out DIR`."
        )
    leads = normalise_leads(pd.read_parquet(leads_path))
    outcomes = normalise_outcomes(pd.read_parquet(outcomes_path))
    oracle_path = directory / ORACLE_FILE
    lead_ids = leads[LEAD_ID].to_numpy()
    return ContractData(
        leads=leads,
        journeys=Journeys.from_parquet(events_path, lead_ids)
        if events_path is not None
        else no_journeys(lead_ids),
        outcomes=outcomes,
        oracle=pd.read_parquet(oracle_path) if oracle_path.exists() else None,
    )


def normalise_leads(leads: pd.DataFrame) -> pd.DataFrame:
    """Lead ids as text and creation times as UTC, whatever the Parquet writer stored."""
    leads[LEAD_ID] = leads[LEAD_ID].astype(str)
    leads[CREATED_AT] = pd.to_datetime(leads[CREATED_AT], utc=True)
    return leads


def normalise_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Lead ids as text and milestone times as UTC, whatever the Parquet writer stored."""
    outcomes[LEAD_ID] = outcomes[LEAD_ID].astype(str)
    outcomes[OCCURRED_AT] = pd.to_datetime(outcomes[OCCURRED_AT], utc=True)
    return outcomes


def no_journeys(lead_ids: np.ndarray) -> Journeys:
    """Empty journeys of the given leads: a business that records no events."""
    return Journeys.from_arrays(
        lead_ids,
        np.zeros(0, dtype=np.int64),
        np.zeros(0, dtype=np.float64),
        np.zeros(0, dtype=np.int8),
    )
