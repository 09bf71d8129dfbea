"""Training sets on a Dask cluster: the same rows as `build_training_set`, past one machine.

Leads, events and outcomes are read with `dask.dataframe` (a directory or any fsspec URL) and
partitioned by a hash of the lead id, so each lead's whole journey and funnel sit in one
partition on one worker. The plan (data end, attribute inference) is decided once, from all
leads; each partition then runs `training_rows`, the single-machine code path with the same
numba kernel, and writes its rows as one Parquet part. Nothing here computes a feature.
"""

from __future__ import annotations

import hashlib
import math
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel

from features.contract.directory import (
    EVENTS_NAME,
    LEADS_FILE,
    OUTCOMES_FILE,
    no_journeys,
    normalise_leads,
    normalise_outcomes,
)
from features.contract.schema import EVENT_TYPE, LEAD_ID, OCCURRED_AT
from features.engine import EngineConfig
from features.journeys import TIME, Journeys, encode_events
from features.trainingset import (
    RowCounts,
    TrainingSetConfig,
    TrainingSetPlan,
    TrainingSetReport,
    arrow_table,
    fingerprint,
    latest_timestamp,
    plan_training_set,
    training_rows,
    training_set_report,
)

if TYPE_CHECKING:
    from distributed import Client

_PART = "_lead_partition"  # the partition key column; never written
EVENT_COLUMNS = (LEAD_ID, OCCURRED_AT, EVENT_TYPE)


class PartitionResult(BaseModel):
    """What one partition of leads made, and what it cost on its worker."""

    partition: int
    counts: RowCounts
    fingerprint: str
    events: int
    seconds: float
    worker_peak_bytes: int


@dataclass(frozen=True)
class DaskBuild:
    """The report of a training set built on a cluster, and each partition's measures."""

    report: TrainingSetReport
    partitions: list[PartitionResult]


def lead_partition(lead_ids: pd.Series, partitions: int) -> np.ndarray:
    """The partition of each lead id: a hash of its text, the same on every worker (unlike
    Python's salted `hash`)."""
    hashed = pd.util.hash_pandas_object(lead_ids.astype(str), index=False).to_numpy()
    return (hashed % np.uint64(partitions)).astype(np.int64)


def build_training_set_dask(
    source: str,
    out: str,
    config: TrainingSetConfig,
    client: Client,
    *,
    leads_per_partition: int = EngineConfig().leads_per_partition,
    progress: Callable[[int, int], None] | None = None,
) -> DaskBuild:
    """Build the training set of the contract tables at `source` (directory or URL) on the
    `client`'s cluster, and write it to `out` as a directory of Parquet parts (plus the report
    beside it, as `TrainingSet.write` does). `progress(done, total)` follows partitions.

    The parts are written to a temporary directory beside `out` and moved into place at the
    end: a failed build leaves nothing at `out`.
    """
    import dask
    import dask.dataframe as dd
    from distributed import as_completed
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(source)
    root = root.rstrip("/")
    missing = [
        f"{root}/{name}" for name in (LEADS_FILE, OUTCOMES_FILE) if not fs.exists(f"{root}/{name}")
    ]
    if missing:
        raise FileNotFoundError(
            f"{source} is not a contract data directory; missing {missing}. Create one with "
            "`leadscore data synth --out DIR` or `leadscore data validate ... --out DIR`."
        )
    events_path = next(
        (p for p in (f"{root}/{EVENTS_NAME}", f"{root}/{EVENTS_NAME}.parquet") if fs.exists(p)),
        None,
    )
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    url = (lambda p: p) if protocol in ("file", "local") else (lambda p: f"{protocol}://{p}")

    leads_path = url(f"{root}/{LEADS_FILE}")
    # The driver reads the leads (not the events) once: attributes are inferred from all.
    leads = normalise_leads(pd.read_parquet(leads_path, filesystem=fs))
    outcomes = dd.read_parquet(url(f"{root}/{OUTCOMES_FILE}"), filesystem=fs)
    events = None
    if events_path is not None:
        # A partition per row group: a worker reads a million events at a time, not a file.
        raw = dd.read_parquet(
            url(events_path), filesystem=fs, columns=list(EVENT_COLUMNS), split_row_groups=True
        )
        # Encoded before the shuffle: times and int8 codes move, not timestamps and text.
        events = raw.map_partitions(encode_events, meta=encode_events(raw._meta))
    plan = plan_training_set(leads, config, _latest(leads, outcomes, events), behaviour=True)
    workers = len(client.scheduler_info()["workers"])
    n_parts = max(workers, math.ceil(len(leads) / leads_per_partition))
    frames = [dd.read_parquet(leads_path, filesystem=fs), outcomes]
    if events is not None:
        frames.append(events)
    # The same key, hashed the same way, puts a lead's rows of every table in the same
    # partition number: the partitions line up lead for lead.
    by_lead = [_by_lead(frame, n_parts).to_delayed() for frame in frames]
    fs_out, out_root = url_to_fs(out)
    out_root = out_root.rstrip("/")
    staging = f"{out_root}.tmp-{uuid.uuid4().hex[:8]}"
    fs_out.makedirs(staging, exist_ok=True)
    build = dask.delayed(_build_partition, pure=False)
    try:
        tasks = [
            build(i, plan, fs_out, staging, *(parts[i] for parts in by_lead))
            for i in range(n_parts)
        ]
        results: list[PartitionResult] = []
        for future in as_completed(client.compute(tasks)):
            results.append(future.result())
            if progress is not None:
                progress(len(results), n_parts)
    except BaseException:
        fs_out.rm(staging, recursive=True)
        raise
    results.sort(key=lambda r: r.partition)
    counts = sum((r.counts for r in results), RowCounts())
    combined = hashlib.blake2b(digest_size=16)
    for result in results:
        combined.update(result.fingerprint.encode())
    report = training_set_report(plan, counts, combined.hexdigest())
    if fs_out.exists(out_root):
        fs_out.rm(out_root, recursive=True)
    fs_out.mv(staging, out_root, recursive=True)
    for suffix, text in (
        (".report.json", report.model_dump_json(indent=2)),
        (".report.md", report.markdown()),
    ):
        with fs_out.open(str(PurePosixPath(out_root).with_suffix(suffix)), "w") as f:
            f.write(text)
    return DaskBuild(report=report, partitions=results)


def _latest(leads: pd.DataFrame, outcomes, events) -> pd.Timestamp:
    """The data end as `data_end_of` finds it on one machine, from the cluster's maxima."""
    import dask

    outcome_max, event_max = dask.compute(
        outcomes[OCCURRED_AT].max(), events[TIME].max() if events is not None else None
    )
    # Epoch seconds, as the journeys hold them on one machine.
    last_event = None if event_max is None or pd.isna(event_max) else float(event_max)
    last_outcome = pd.DataFrame({OCCURRED_AT: [] if pd.isna(outcome_max) else [outcome_max]})
    return latest_timestamp(leads, last_outcome, last_event)


def _by_lead(frame, partitions: int):
    """`frame` shuffled into `partitions` partitions by `lead_partition` of its lead ids."""
    key = frame[LEAD_ID].map_partitions(lead_partition, partitions, meta=(_PART, "int64"))
    return frame.assign(**{_PART: key}).shuffle(on=_PART, npartitions=partitions)


def _build_partition(
    number: int,
    plan: TrainingSetPlan,
    fs,
    staging: str,
    leads: pd.DataFrame,
    outcomes: pd.DataFrame,
    events: pd.DataFrame | None = None,
) -> PartitionResult:
    """One partition's training rows, written as `part-NNNNN.parquet` into `staging`."""
    import pyarrow.parquet as pq

    started = time.perf_counter()
    # Sorted (journeys sort themselves), so the part's rows and fingerprint do not depend on
    # the order the shuffle delivered them in.
    leads = normalise_leads(leads.drop(columns=_PART).sort_values(LEAD_ID, ignore_index=True))
    outcomes = normalise_outcomes(outcomes.drop(columns=_PART))
    outcomes = outcomes.sort_values(list(outcomes.columns), ignore_index=True)
    if events is None:
        journeys = no_journeys(leads[LEAD_ID].to_numpy())
        n_events = 0
    else:
        journeys = Journeys.from_encoded(events, leads[LEAD_ID].to_numpy())
        n_events = len(events)
    frame, counts = training_rows(leads, journeys, outcomes, plan)
    if len(frame):
        pq.write_table(
            arrow_table(frame, plan.pipeline), f"{staging}/part-{number:05d}.parquet", filesystem=fs
        )
    return PartitionResult(
        partition=number,
        counts=counts,
        fingerprint=fingerprint(leads, journeys, outcomes),
        events=n_events,
        seconds=time.perf_counter() - started,
        # ru_maxrss is in KiB on Linux: the worker process's peak so far.
        worker_peak_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )
