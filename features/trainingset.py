"""Point-in-time training sets: cut-offs, labels after each cut-off, features before it."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.attributes import DEFAULT_MISSING_VALUES, infer_attributes
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
        import pyarrow as pa
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(self.frame, preserve_index=False)
        metadata = dict(table.schema.metadata or {})
        metadata[PIPELINE_METADATA_KEY] = self.pipeline.model_dump_json().encode()
        pq.write_table(table.replace_schema_metadata(metadata), path)
        path.with_suffix(".report.json").write_text(self.report.model_dump_json(indent=2))
        path.with_suffix(".report.md").write_text(self.report.markdown())


def read_training_set(path: Path) -> tuple[pd.DataFrame, FeaturePipeline]:
    """A training set written by `TrainingSet.write`, with its feature pipeline."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(PIPELINE_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} was not written by `leadscore features build` (no pipeline).")
    return table.to_pandas(), FeaturePipeline.model_validate_json(raw)


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
    at = pd.to_datetime(outcomes[OCCURRED_AT], utc=True)
    positive = outcomes[MILESTONE].isin(_positive_milestones(target))
    closing = positive | outcomes[MILESTONE].isin(TERMINAL_MILESTONES)
    first_positive = at[positive].groupby(outcomes.loc[positive, LEAD_ID]).min()
    first_closed = at[closing].groupby(outcomes.loc[closing, LEAD_ID]).min()
    created = pd.Series(
        pd.to_datetime(leads[CREATED_AT], utc=True).to_numpy(), index=leads[LEAD_ID]
    )

    ids = rows[LEAD_ID]
    as_of = rows[AS_OF]
    done = pd.to_datetime(ids.map(first_closed), utc=True)
    won = pd.to_datetime(ids.map(first_positive), utc=True)
    before_creation = as_of < pd.to_datetime(ids.map(created), utc=True)
    already = (done <= as_of).fillna(False) & ~before_creation
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


def data_end_of(
    leads: pd.DataFrame, journeys: Journeys | None, outcomes: pd.DataFrame
) -> pd.Timestamp:
    """The latest timestamp anywhere in the data: nothing is known after it."""
    candidates = [pd.to_datetime(leads[CREATED_AT], utc=True).max()]
    if len(outcomes):
        candidates.append(pd.to_datetime(outcomes[OCCURRED_AT], utc=True).max())
    if journeys is not None and len(journeys.times):
        candidates.append(pd.Timestamp(float(journeys.times.max()), unit="s", tz="UTC"))
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


def build_training_set(
    leads: pd.DataFrame,
    journeys: Journeys | None,
    outcomes: pd.DataFrame,
    config: TrainingSetConfig,
) -> TrainingSet:
    """Rows from the cut-off policy, labels from after each cut-off, features from before it."""
    data_end = (
        pd.Timestamp(config.data_end).tz_convert("UTC")
        if config.data_end
        else data_end_of(leads, journeys, outcomes)
    )
    candidates = make_cutoffs(leads, config.cutoffs, data_end)
    rows, counts = label_rows(
        candidates, leads, outcomes, config.target, config.horizon_days, data_end
    )
    attributes, skipped = infer_attributes(
        leads,
        exclude=config.exclude_columns,
        missing_values=config.missing_values,
        competitor_domains=config.competitor_domains,
    )
    pipeline = FeaturePipeline(attributes=attributes, use_behaviour=journeys is not None)
    features = pipeline.frame(leads, journeys, rows)
    frame = pd.concat([rows, features], axis=1)
    kinds = {n: "float" for n in pipeline.behaviour_names}
    kinds |= {s.name: s.kind for s in attributes.specs}
    n_pos = int(frame[LABEL].sum())
    report = TrainingSetReport(
        rows=len(frame),
        leads=int(frame[LEAD_ID].nunique()),
        positives=n_pos,
        label_rate=n_pos / len(frame) if len(frame) else 0.0,
        cutoff_min=frame[AS_OF].min() if len(frame) else None,
        cutoff_max=frame[AS_OF].max() if len(frame) else None,
        data_end=data_end,
        target=config.target.value,
        horizon_days=config.horizon_days,
        features=kinds,
        skipped_columns=skipped,
        fingerprint=fingerprint(leads, journeys, outcomes),
        **counts,
    )
    return TrainingSet(frame=frame, pipeline=pipeline, report=report)
