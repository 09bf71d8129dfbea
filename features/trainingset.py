"""Point-in-time training sets: cut-offs, labels after each cut-off, features before it."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.attributes import DEFAULT_MISSING_VALUES, NUMERIC_KINDS, infer_attributes
from features.contract.schema import (
    AS_OF,
    CREATED_AT,
    FUNNEL_ORDER,
    LABEL,
    LEAD_ID,
    MILESTONE,
    OCCURRED_AT,
    TERMINAL_MILESTONES,
    Milestone,
)
from features.journeys import Journeys
from features.pipeline import FeaturePipeline

PIPELINE_METADATA_KEY = b"leadscore.pipeline"


class CutoffPolicy(BaseModel):
    """Which (lead, cut-off time) pairs become training rows."""

    # A misspelt key in a config file is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid")

    kind: Literal["offsets", "periodic", "table"] = Field(
        "offsets",
        description="offsets: fixed days after creation; periodic: a snapshot every N days "
        "while the lead is open; table: explicit (lead_id, as_of) rows from a file.",
    )
    offsets_days: tuple[float, ...] = (1.0, 7.0, 30.0)
    every_days: float = Field(30.0, gt=0)
    max_per_lead: int = Field(12, ge=1)
    table: Path | None = None

    @classmethod
    def parse(cls, text: str) -> CutoffPolicy:
        """From the CLI form: `offsets:1,7,30`, `periodic:30` or `table:path.parquet`."""
        kind, _, arg = text.partition(":")
        if kind == "offsets":
            return cls(kind="offsets", offsets_days=tuple(float(x) for x in arg.split(",") if x))
        if kind == "periodic":
            return cls(kind="periodic", every_days=float(arg or 30))
        if kind == "table" and arg:
            return cls(kind="table", table=Path(arg))
        raise ValueError(
            f"unknown cut-off policy {text!r}: use offsets:1,7,30, periodic:30 or table:FILE"
        )


class TrainingSetConfig(BaseModel):
    """Everything that defines a training set; logged with each training run."""

    model_config = ConfigDict(extra="forbid")

    cutoffs: CutoffPolicy = CutoffPolicy()
    target: Milestone = Milestone.CLOSED_WON
    horizon_days: float = Field(90.0, gt=0)
    data_end: datetime | None = Field(
        None, description="End of the data; defaults to the latest timestamp seen."
    )
    exclude_columns: tuple[str, ...] = ()
    missing_values: tuple[str, ...] = DEFAULT_MISSING_VALUES
    competitor_domains: tuple[str, ...] = ()

    @field_validator("target")
    @classmethod
    def _target_is_a_success(cls, value: Milestone) -> Milestone:
        if value in (Milestone.CLOSED_LOST, Milestone.DISQUALIFIED):
            raise ValueError("the target must be a success milestone (e.g. closed_won, sql)")
        return value


class TrainingSetReport(BaseModel):
    """What a training set holds and what was left out of it, and why."""

    rows: int
    leads: int
    positives: int
    label_rate: float
    candidate_rows: int
    excluded_already_reached: int
    excluded_censored: int
    excluded_before_creation: int
    cutoff_min: datetime | None
    cutoff_max: datetime | None
    data_end: datetime
    target: str
    horizon_days: float
    features: dict[str, str]
    skipped_columns: dict[str, str]
    fingerprint: str

    def markdown(self) -> str:
        lines = [
            "# Training set",
            "",
            f"- rows: {self.rows:,} from {self.leads:,} leads; positives: {self.positives:,} "
            f"(label rate {self.label_rate:.2%})",
            f"- target: `{self.target}` within {self.horizon_days:g} days after the cut-off",
            f"- cut-offs from {self.cutoff_min} to {self.cutoff_max}; data ends {self.data_end}",
            f"- candidate rows: {self.candidate_rows:,}; excluded because the lead had already "
            f"reached the target or closed: {self.excluded_already_reached:,}; censored (horizon "
            f"runs past the data end): {self.excluded_censored:,}; cut-off before creation: "
            f"{self.excluded_before_creation:,}",
            f"- data fingerprint: `{self.fingerprint}`",
            "",
            f"## Features ({len(self.features)})",
            "",
            ", ".join(f"`{n}` ({k})" for n, k in self.features.items()),
        ]
        if self.skipped_columns:
            lines += ["", "## Columns not used", ""]
            lines += [f"- `{c}`: {why}" for c, why in self.skipped_columns.items()]
        return "\n".join(lines) + "\n"


class TrainingSet(BaseModel):
    """A built training set: rows, the pipeline that made them, and the report."""

    model_config = {"arbitrary_types_allowed": True}

    frame: pd.DataFrame
    pipeline: FeaturePipeline
    report: TrainingSetReport

    def write(self, path: Path) -> None:
        """Parquet with the pipeline in its metadata, plus report JSON and Markdown beside it."""
        import pyarrow.parquet as pq

        with staged_training_set(path) as (staged, finish):
            pq.write_table(arrow_table(self.frame, self.pipeline), staged)
            finish(self.report)


@contextmanager
def staged_training_set(
    path: Path,
) -> Iterator[tuple[Path, Callable[[TrainingSetReport], None]]]:
    """A file to write the training set into, beside `path`, and `finish(report)`, which
    moves it into place with its reports. Without `finish` (an error on the way) nothing
    reaches `path`: a failed build never leaves half a training set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        staged = Path(tmp)

        def finish(report: TrainingSetReport) -> None:
            (staged / "report.json").write_text(report.model_dump_json(indent=2))
            (staged / "report.md").write_text(report.markdown())
            (staged / "set.parquet").replace(path)
            (staged / "report.json").replace(path.with_suffix(".report.json"))
            (staged / "report.md").replace(path.with_suffix(".report.md"))

        yield staged / "set.parquet", finish


def arrow_table(frame: pd.DataFrame, pipeline: FeaturePipeline) -> pa.Table:
    """A training set frame (or a part of one) as Arrow, with the pipeline in its metadata.

    Every part gets the same schema whatever values it holds (a category column that is
    empty in one part is still text), so parts can be row groups of one file or files of
    one dataset.
    """
    table = pa.Table.from_pandas(frame, preserve_index=False)
    kinds = {s.name: s.kind for s in pipeline.attributes.specs}
    fields = [
        pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
        if f.name in kinds and kinds[f.name] not in NUMERIC_KINDS
        else f
        for f in table.schema
    ]
    metadata = dict(table.schema.metadata or {})
    metadata[PIPELINE_METADATA_KEY] = pipeline.model_dump_json().encode()
    return table.cast(pa.schema(fields, metadata=metadata))


def read_training_set(path: Path) -> tuple[pd.DataFrame, FeaturePipeline]:
    """A training set written by `leadscore features build` (a file, or with `--engine dask`
    a directory of parts), with its feature pipeline."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(PIPELINE_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} was not written by `leadscore features build` (no pipeline).")
    frame = table.to_pandas()
    if Path(path).is_dir():
        # Parts come in partition order; training is sensitive to row order (bagging), so
        # rows are put in one order that does not depend on how leads were partitioned.
        frame = frame.sort_values([LEAD_ID, AS_OF], ignore_index=True, kind="stable")
    return frame, FeaturePipeline.model_validate_json(raw)


def make_cutoffs(leads: pd.DataFrame, policy: CutoffPolicy, data_end: pd.Timestamp) -> pd.DataFrame:
    """Candidate (lead_id, as_of) rows according to the policy."""
    created = pd.to_datetime(leads[CREATED_AT], utc=True)
    if policy.kind == "table":
        from features.contract.tables import read_table

        table = read_table(policy.table)
        missing = {LEAD_ID, AS_OF} - set(table.columns)
        if missing:
            raise ValueError(f"cut-off table {policy.table} needs columns {sorted(missing)}")
        return pd.DataFrame(
            {LEAD_ID: table[LEAD_ID].astype(str), AS_OF: pd.to_datetime(table[AS_OF], utc=True)}
        )
    if policy.kind == "offsets":
        offsets = np.asarray(policy.offsets_days, dtype=float)
    else:
        offsets = policy.every_days * np.arange(1, policy.max_per_lead + 1)
    ids = np.repeat(leads[LEAD_ID].to_numpy(), len(offsets))
    as_of = np.repeat(created.dt.tz_localize(None).to_numpy(), len(offsets)) + np.tile(
        pd.to_timedelta(offsets, unit="D").to_numpy(), len(leads)
    )
    rows = pd.DataFrame({LEAD_ID: ids, AS_OF: pd.to_datetime(as_of, utc=True)})
    # Periodic snapshots only while there is data to label them.
    return (
        rows[rows[AS_OF] <= data_end].reset_index(drop=True) if policy.kind == "periodic" else rows
    )


def _positive_milestones(target: Milestone) -> set[str]:
    """Milestones that mean the target was reached (a later stage implies the earlier one)."""
    order = FUNNEL_ORDER[target]
    failures = {Milestone.CLOSED_LOST, Milestone.DISQUALIFIED}
    return {m for m, o in FUNNEL_ORDER.items() if o >= order and m not in failures} | {target}


def label_rows(
    rows: pd.DataFrame,
    leads: pd.DataFrame,
    outcomes: pd.DataFrame,
    target: Milestone,
    horizon_days: float,
    data_end: pd.Timestamp,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Label each row: target reached within the horizon after its cut-off.

    Rows whose lead had already reached the target or closed at the cut-off are excluded,
    as are rows whose horizon runs past the end of the data (censored).
    """
    horizon = pd.Timedelta(days=horizon_days)
    positive = outcomes[MILESTONE].isin(_positive_milestones(target))
    closing = positive | outcomes[MILESTONE].isin(TERMINAL_MILESTONES)
    as_of = rows[AS_OF]
    # One lookup of each row's lead; every per-lead time is then taken by position.
    lead_ids = pd.Index(leads[LEAD_ID])
    position = lead_ids.get_indexer(rows[LEAD_ID])

    def per_row(per_lead: pd.Series) -> pd.Series:
        values = per_lead.array.take(position, allow_fill=True)
        return pd.Series(values, index=rows.index)

    won = per_row(first_reached(outcomes, positive, lead_ids))
    done = per_row(first_reached(outcomes, closing, lead_ids))
    before_creation = as_of < per_row(pd.to_datetime(leads[CREATED_AT], utc=True))
    already = (done <= as_of) & ~before_creation
    censored = (as_of + horizon > data_end) & ~already & ~before_creation
    keep = ~(already | censored | before_creation)
    out = rows[keep].copy()
    out[LABEL] = ((won[keep] > as_of[keep]) & (won[keep] <= as_of[keep] + horizon)).astype(np.int8)
    counts = {
        "candidate_rows": len(rows),
        "excluded_already_reached": int(already.sum()),
        "excluded_censored": int(censored.sum()),
        "excluded_before_creation": int(before_creation.sum()),
    }
    return out.reset_index(drop=True), counts


def first_reached(outcomes: pd.DataFrame, mask: pd.Series, lead_ids: pd.Index) -> pd.Series:
    """The first time each lead of `lead_ids` (repeats allowed) reached one of the `mask`
    milestones (NaT if never), by a vectorised join: no Python loop over leads or rows."""
    at = pd.to_datetime(outcomes.loc[mask, OCCURRED_AT], utc=True)
    first = at.groupby(outcomes.loc[mask, LEAD_ID]).min()
    return first.reindex(lead_ids)


def data_end_of(
    leads: pd.DataFrame, journeys: Journeys | None, outcomes: pd.DataFrame
) -> pd.Timestamp:
    """The latest timestamp anywhere in the data: nothing is known after it."""
    last_event = (
        float(journeys.times.max()) if journeys is not None and len(journeys.times) else None
    )
    return latest_timestamp(leads, outcomes, last_event)


def latest_timestamp(
    leads: pd.DataFrame, outcomes: pd.DataFrame, last_event_seconds: float | None
) -> pd.Timestamp:
    """The latest of the leads' creation, the outcomes and the last event (epoch seconds,
    as the journeys hold it, so every engine rounds it alike)."""
    candidates = [pd.to_datetime(leads[CREATED_AT], utc=True).max()]
    if len(outcomes):
        candidates.append(pd.to_datetime(outcomes[OCCURRED_AT], utc=True).max())
    if last_event_seconds is not None:
        candidates.append(pd.Timestamp(last_event_seconds, unit="s", tz="UTC"))
    return max(candidates)


def fingerprint(leads: pd.DataFrame, journeys: Journeys | None, outcomes: pd.DataFrame) -> str:
    """A short content hash of the inputs, so a model can name the data it was trained on."""
    h = hashlib.blake2b(digest_size=16)
    h.update(pd.util.hash_pandas_object(leads, index=False).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(outcomes, index=False).to_numpy().tobytes())
    if journeys is not None:
        for array in (journeys.offsets, journeys.times, journeys.codes):
            h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class TrainingSetPlan:
    """What every group of leads is built with: decided once, from all the leads."""

    config: TrainingSetConfig
    data_end: pd.Timestamp
    pipeline: FeaturePipeline
    skipped_columns: dict[str, str]


def plan_training_set(
    leads: pd.DataFrame,
    config: TrainingSetConfig,
    data_end: pd.Timestamp | None,
    *,
    behaviour: bool,
) -> TrainingSetPlan:
    """The data end (the configured one, else `data_end`: the latest timestamp in the data)
    and the feature pipeline, its attributes inferred from all `leads`."""
    if config.data_end:
        data_end = pd.Timestamp(config.data_end).tz_convert("UTC")
    attributes, skipped = infer_attributes(
        leads,
        exclude=config.exclude_columns,
        missing_values=config.missing_values,
        competitor_domains=config.competitor_domains,
    )
    pipeline = FeaturePipeline(attributes=attributes, use_behaviour=behaviour)
    return TrainingSetPlan(config, data_end, pipeline, skipped)


class RowCounts(BaseModel):
    """What a group of leads contributed to a training set; groups add up."""

    rows: int = 0
    leads: int = 0
    positives: int = 0
    candidate_rows: int = 0
    excluded_already_reached: int = 0
    excluded_censored: int = 0
    excluded_before_creation: int = 0
    cutoff_min: datetime | None = None
    cutoff_max: datetime | None = None

    def __add__(self, other: RowCounts) -> RowCounts:
        sums = {
            k: getattr(self, k) + getattr(other, k)
            for k in RowCounts.model_fields
            if k not in ("cutoff_min", "cutoff_max")
        }
        bounds = [c for c in (self.cutoff_min, other.cutoff_min) if c is not None]
        ends = [c for c in (self.cutoff_max, other.cutoff_max) if c is not None]
        return RowCounts(
            **sums,
            cutoff_min=min(bounds) if bounds else None,
            cutoff_max=max(ends) if ends else None,
        )


def training_rows(
    leads: pd.DataFrame, journeys: Journeys | None, outcomes: pd.DataFrame, plan: TrainingSetPlan
) -> tuple[pd.DataFrame, RowCounts]:
    """The labelled feature rows of `leads` (every lead with all of its events and outcomes).

    Leads do not interact, so any grouping of them (one machine, or partitions by lead on a
    cluster) gives the same rows.
    """
    config = plan.config
    candidates = make_cutoffs(leads, config.cutoffs, plan.data_end)
    rows, excluded = label_rows(
        candidates, leads, outcomes, config.target, config.horizon_days, plan.data_end
    )
    frame = pd.concat([rows, plan.pipeline.frame(leads, journeys, rows)], axis=1)
    counts = RowCounts(
        rows=len(frame),
        leads=int(frame[LEAD_ID].nunique()),
        positives=int(frame[LABEL].sum()),
        cutoff_min=frame[AS_OF].min() if len(frame) else None,
        cutoff_max=frame[AS_OF].max() if len(frame) else None,
        **excluded,
    )
    return frame, counts


def training_set_report(
    plan: TrainingSetPlan, counts: RowCounts, data_hash: str
) -> TrainingSetReport:
    """The report of a training set built with `plan`, from its groups' summed counts."""
    pipeline = plan.pipeline
    kinds = {n: "float" for n in pipeline.behaviour_names}
    kinds |= {s.name: s.kind for s in pipeline.attributes.specs}
    return TrainingSetReport(
        **counts.model_dump(),
        label_rate=counts.positives / counts.rows if counts.rows else 0.0,
        data_end=plan.data_end,
        target=plan.config.target.value,
        horizon_days=plan.config.horizon_days,
        features=kinds,
        skipped_columns=plan.skipped_columns,
        fingerprint=data_hash,
    )


def write_training_set(
    leads: pd.DataFrame,
    journeys: Journeys | None,
    outcomes: pd.DataFrame,
    config: TrainingSetConfig,
    path: Path,
    *,
    leads_per_chunk: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
) -> TrainingSetReport:
    """`build_training_set`, written to `path` chunk by chunk of leads: each chunk's rows are
    one Parquet row group, written while the next chunk is computed, so memory holds two
    chunks' rows rather than the whole set. `progress(done, total)` follows the leads."""
    import pyarrow.parquet as pq

    data_end = None if config.data_end else data_end_of(leads, journeys, outcomes)
    plan = plan_training_set(leads, config, data_end, behaviour=journeys is not None)
    counts = RowCounts()
    with (
        staged_training_set(path) as (staged, finish),
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        writer, pending = None, None
        for leads_part, outcomes_part in _lead_chunks(leads, outcomes, leads_per_chunk):
            frame, part_counts = training_rows(leads_part, journeys, outcomes_part, plan)
            table = arrow_table(frame, plan.pipeline)
            del frame
            counts += part_counts
            if pending is not None:
                pending.result()
            # Dictionaries for the category columns only: trying them on a hundred float
            # columns cost a third of the write time.
            writer = writer or pq.ParquetWriter(
                staged, table.schema, use_dictionary=_category_columns(table)
            )
            pending = pool.submit(writer.write_table, table)
            if progress is not None:
                progress(int(leads_part.index[-1]) + 1, len(leads))
        if pending is not None:
            pending.result()
        if writer is not None:
            writer.close()
        report = training_set_report(plan, counts, fingerprint(leads, journeys, outcomes))
        finish(report)
    return report


def _category_columns(table: pa.Table) -> list[str]:
    return [f.name for f in table.schema if pa.types.is_dictionary(f.type)]


def _lead_chunks(
    leads: pd.DataFrame, outcomes: pd.DataFrame, size: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """Consecutive chunks of `size` leads, each with its leads' outcomes."""
    leads = leads.reset_index(drop=True)
    position = pd.Index(leads[LEAD_ID]).get_indexer(outcomes[LEAD_ID])
    order = np.argsort(position, kind="stable")
    bounds = np.searchsorted(position[order], np.arange(0, len(leads) + size, size))
    for k, start in enumerate(range(0, len(leads), size)):
        yield leads.iloc[start : start + size], outcomes.iloc[order[bounds[k] : bounds[k + 1]]]


def build_training_set(
    leads: pd.DataFrame,
    journeys: Journeys | None,
    outcomes: pd.DataFrame,
    config: TrainingSetConfig,
) -> TrainingSet:
    """Rows from the cut-off policy, labels from after each cut-off, features from before it."""
    data_end = None if config.data_end else data_end_of(leads, journeys, outcomes)
    plan = plan_training_set(leads, config, data_end, behaviour=journeys is not None)
    frame, counts = training_rows(leads, journeys, outcomes, plan)
    report = training_set_report(plan, counts, fingerprint(leads, journeys, outcomes))
    return TrainingSet(frame=frame, pipeline=plan.pipeline, report=report)
