"""Read a flat CRM export (one row per lead, a conversion flag) into the contract's shapes.

The export becomes a leads table (`lead_id` plus the export's own columns, which the
attribute transforms read by their own names, so reasons speak the export's words) and
training rows (`lead_id`, `as_of`, `label`). There are no events: the pipeline is
attribute-only (`FeaturePipeline(use_behaviour=False)`).

Exports are taken as they come: the CSV separator and encoding are detected, an export
without an id column has its rows numbered, a yes/no-like target needs no positive value,
and the date column also gives weekday, month and hour features.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.attributes import (
    DEFAULT_MISSING_VALUES,
    OTHER_CATEGORY,
    AttributeKind,
    AttributeTransform,
)
from features.contract.schema import AS_OF, CREATED_AT, LABEL, LEAD_ID
from features.contract.tables import (
    ROW_ID_PREFIX,
    SOURCE_COLUMNS,
    locations,
    read_table_as,
    row_ids,
    unique_ids,
)

# Target values recognised without --positive-value (case-insensitive): (converted, not).
TARGET_PAIRS = (
    ("yes", "no"),
    ("y", "n"),
    ("true", "false"),
    ("won", "lost"),
    ("converted", "not converted"),
    ("1", "0"),
)


class FlatTableError(ValueError):
    """The export cannot be used as given; the message says which column or rows to fix."""


class FlatTableConfig(BaseModel):
    """Which columns of the export are what."""

    # A misspelt key must not be ignored silently.
    model_config = ConfigDict(frozen=True, extra="forbid")

    id_column: str | None = Field(
        None,
        description="Column that identifies a lead (unique per row). Default: a unique column "
        "named like 'id' ('Lead ID', 'lead_id'), else the rows are numbered row_1, row_2, ...",
    )
    target_column: str = Field(description="Column that says whether the lead converted.")
    positive_value: str | None = Field(
        None,
        description="Value of the target column meaning converted. Default: recognised when "
        "the values are a known pair (yes/no, y/n, true/false, won/lost, converted/not "
        "converted, 1/0).",
    )
    csv_delimiter: str | None = Field(
        None, description="Field separator of a CSV export, e.g. ';'. Default: detected."
    )
    encoding: str | None = Field(
        None, description="Text encoding of a CSV export, e.g. cp1252. Default: detected."
    )
    date_column: str | None = Field(
        None, description="When each lead was created: enables the time-based split."
    )
    exclude: tuple[str, ...] = Field((), description="Columns never used as features.")
    missing_values: tuple[str, ...] = Field(
        DEFAULT_MISSING_VALUES,
        description="Values meaning 'not filled' (case-insensitive), e.g. Select, N/A, Unknown.",
    )
    kinds: dict[str, AttributeKind] = Field(
        default_factory=dict,
        description="Kind of named columns instead of the inferred one, e.g. a free-text job "
        "title mapped to `seniority`, or a code column forced to `categorical`.",
    )
    min_category_rows: int = Field(
        20, ge=1, description=f"Rarer categories are grouped as {OTHER_CATEGORY!r}."
    )


@dataclass(frozen=True)
class FlatTable:
    """The export as a leads table and labelled rows."""

    leads: pd.DataFrame
    rows: pd.DataFrame
    dropped_without_target: int
    id_column: str | None  # the id column used; None: the rows were numbered
    positive_value: str
    notes: tuple[str, ...]  # what was detected, said on the console and in the report


class ColumnType(BaseModel):
    """How one column of the export is used (the report's type table)."""

    column: str
    used_as: str = Field(description="Feature kind, or the column's role (id, target, date).")
    missing_share: float | None = None
    distinct: int | None = None
    grouped_values: int = Field(0, description=f"Rare values grouped as {OTHER_CATEGORY!r}.")
    note: str = ""


def read_flat_table(path: Path, config: FlatTableConfig) -> FlatTable:
    """The export at `path` (CSV or Parquet) as leads and labelled rows."""
    table, form = read_table_as(path, delimiter=config.csv_delimiter, encoding=config.encoding)
    notes = [f"read {path.name} as {form.describe()}"] if form else []
    named = [config.id_column, config.target_column, *config.exclude, *config.kinds]
    named.append(config.date_column)
    unknown = [c for c in dict.fromkeys(named) if c is not None and c not in table.columns]
    if unknown:
        columns = [c for c in table.columns if c not in SOURCE_COLUMNS]
        raise FlatTableError(f"{path} has no column(s) {unknown}; its columns are {columns}")
    id_column = config.id_column or _obvious_id(table, config)
    if id_column is None:
        # Numbered before rows without a target are dropped: row_k is the k-th data row.
        table = table.assign(**{LEAD_ID: row_ids(len(table))})
        notes.append(f"no id column: the rows are numbered {ROW_ID_PREFIX}1, {ROW_ID_PREFIX}2, ...")
    elif config.id_column is None:
        notes.append(f"id column: {id_column!r} (named like an id, unique per row)")

    target = table[config.target_column].astype("string").str.strip()
    has_target = target.notna() & (target != "")
    if not has_target.any():
        raise FlatTableError(
            f"{path} has no rows with a value in {config.target_column!r} "
            f"({len(table):,} rows in all): export the leads with their outcome."
        )
    table, target = table[has_target.to_numpy()], target[has_target]
    positive = config.positive_value or _recognised_positive(path, config.target_column, target)
    label = (target.str.lower() == positive.strip().lower()).to_numpy(np.int8)
    if label.sum() == 0 or label.sum() == len(label):
        seen = target.value_counts().head(10).index.tolist()
        raise FlatTableError(
            f"every row of {config.target_column!r} is "
            f"{'the' if label.sum() else 'not the'} positive value {positive!r}; "
            f"values seen: {seen}. Name the value that means converted with --positive-value."
        )
    if config.positive_value is None:
        notes.append(f"target: {config.target_column} = {positive} means converted")

    try:
        ids = unique_ids(table, id_column or LEAD_ID)
    except ValueError as exc:
        raise FlatTableError(str(exc)) from None

    leads = table.drop(columns=[config.target_column, *SOURCE_COLUMNS], errors="ignore")
    leads = leads.rename(columns={id_column or LEAD_ID: LEAD_ID})
    leads[LEAD_ID] = ids.to_numpy()
    as_of = pd.Series(pd.NaT, index=leads.index, dtype="datetime64[ns, UTC]")
    if config.date_column:
        # The date column stays as it is: the model's own attribute transform derives its
        # weekday, month and hour (features.attributes), in training and in scoring alike.
        as_of = _parse_dates(table, config.date_column)
        leads[CREATED_AT] = as_of.to_numpy()
    rows = pd.DataFrame({LEAD_ID: ids.to_numpy(), AS_OF: as_of.to_numpy(), LABEL: label})
    return FlatTable(
        leads=leads.reset_index(drop=True),
        rows=rows,
        dropped_without_target=int((~has_target).sum()),
        id_column=id_column,
        positive_value=positive,
        notes=tuple(notes),
    )


def _obvious_id(table: pd.DataFrame, config: FlatTableConfig) -> str | None:
    """The first column named like an id ("Lead ID", "lead_id", "id") that is filled and
    unique, unless the configuration gives it another role."""
    taken = {config.target_column, config.date_column, *config.exclude, *config.kinds}
    for column in table.columns:
        words = re.findall(r"[a-z0-9]+", str(column).lower())
        if column in taken or not words or words[-1] != "id":
            continue
        ids = table[column].astype("string").str.strip()
        if ids.notna().all() and (ids != "").all() and ids.is_unique:
            return column
    return None


def _recognised_positive(path: Path, column: str, target: pd.Series) -> str:
    """The converted value of a known pair (yes/no, won/lost, ...) the target's values form."""
    values = set(target.str.lower())
    for positive, negative in TARGET_PAIRS:
        if values <= {positive, negative}:
            return positive
    seen = target.value_counts().head(10).index.tolist()
    pairs = ", ".join("/".join(pair) for pair in TARGET_PAIRS)
    raise FlatTableError(
        f"{path}: the values of {column!r} are not a known pair ({pairs}); values seen: "
        f"{seen}. Name the value that means converted with --positive-value."
    )


def _parse_dates(table: pd.DataFrame, column: str) -> pd.Series:
    text = table[column]
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="mixed")
    bad = (parsed.isna() & text.notna()).to_numpy() | text.isna().to_numpy()
    if bad.any():
        where = locations(table, np.flatnonzero(bad)[:5])
        raise FlatTableError(
            f"{int(bad.sum())} values of the date column {column!r} are empty or not dates "
            f"(e.g. {', '.join(where)}); fix them, or train without --date-column "
            "(cross-validation instead of a time split)."
        )
    return parsed


def column_types(
    leads: pd.DataFrame,
    transform: AttributeTransform,
    skipped: dict[str, str],
    config: FlatTableConfig,
) -> list[ColumnType]:
    """One row per column of the export: how it is used, its missing share after
    placeholders, its distinct values and how many rare values were grouped."""
    features = transform.frame(leads)
    id_row = (
        ColumnType(column=config.id_column, used_as="id")
        if config.id_column
        else ColumnType(column="(row number)", used_as="id", note="no id column: rows numbered")
    )
    out = [
        id_row,
        ColumnType(column=config.target_column, used_as="target", note=config.positive_value),
    ]
    if config.date_column:
        out.append(ColumnType(column=config.date_column, used_as="date (time split)"))
    for spec in transform.specs:
        values = features[spec.name]
        raw = leads[spec.source].dropna().astype(str).str.strip()
        filled = raw[~raw.str.lower().isin(transform.missing_values)]
        out.append(
            ColumnType(
                column=spec.name,
                used_as=spec.kind,
                missing_share=float(values.isna().mean()),
                distinct=int(values.nunique()),
                grouped_values=0
                if spec.values is None
                else int(filled.nunique() - len(spec.values)),
            )
        )
    out += [ColumnType(column=c, used_as="left out", note=why) for c, why in skipped.items()]
    return out
