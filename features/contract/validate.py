"""Validate leads, events and outcomes against the data contract; lose nothing, explain everything.

Severities (see `features.contract.validation_report`): fatal problems stop validation in
either mode; row errors fail `strict` mode and are set aside with a reason in `quarantine` mode,
so that for every table rows in = clean rows + quarantined rows; notices keep the row and say
what was assumed.

Decisions (also stated in the report's messages):

- Timestamps without an offset are read in `timestamps.naive_timezone` (default UTC): notice.
- Timestamps outside 1970-2100 (CRM placeholders such as 1900-01-01) are errors.
- A duplicated lead id keeps its first valid row (file order); later rows are quarantined.
- Events and outcomes dated strictly before their lead's `created_at` are errors: usually a
  time-zone mix-up between exports, or a `created_at` that is really a later update date.
- A row with several problems is quarantined for the first one checked (so the error counts
  of a table add up to its quarantined rows); its events and outcomes are then reported as
  `lead_quarantined`, not as unknown.
- Dates written with day and month as numbers (03/04/2024) are read in the configured format;
  when no value of a column has a number above 12 in either place the order is a guess: notice.
- No events table: an empty one, and a notice of what a model cannot learn without events.
- Event types that are not ours become `other` (notice, with the values counted); unknown
  milestones are errors (a label cannot be guessed).
- A lead with both `closed_won` and `closed_lost` contradicts itself (the contract has one
  deal per lead): those rows are errors. A later funnel stage dated before an earlier one
  (sql before mql) is only a notice: CRMs back-fill stage dates, each date is still what the
  CRM recorded, and labels use the target milestone's own date.
- Negative or non-numeric amounts are errors.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from features.contract.mapping import ExportMapping, MappingError, TimestampSettings
from features.contract.schema import (
    AMOUNT,
    CREATED_AT,
    EVENT_OPTIONAL,
    EVENT_REQUIRED,
    EVENT_TYPE,
    EVENT_TYPES,
    FUNNEL_ORDER,
    LEAD_ATTRIBUTES,
    LEAD_ID,
    LEAD_REQUIRED,
    MILESTONE,
    MILESTONES,
    OCCURRED_AT,
    OTHER_CODE,
    OUTCOME_OPTIONAL,
    OUTCOME_REQUIRED,
    Milestone,
)
from features.contract.tables import SOURCE_COLUMNS, locations, read_table
from features.contract.timestamps import naive_utc, parse_timestamps
from features.contract.validation_report import (
    REASON,
    DataValidationError,
    Example,
    Mode,
    Problem,
    ProblemKind,
    Severity,
    TableReport,
    ValidationReport,
    no_events_notice,
)

TABLES = ("leads", "events", "outcomes")
MAX_EXAMPLES = 5
MAPPING_EXAMPLE = "features/contract/examples/mapping_example.yaml"
# Quarantined rows get these two columns ("_" is prepended while a name is taken).
SOURCE_LOCATION = "source"

_REQUIRED = {"leads": LEAD_REQUIRED, "events": EVENT_REQUIRED, "outcomes": OUTCOME_REQUIRED}
_OPTIONAL = {"leads": LEAD_ATTRIBUTES, "events": EVENT_OPTIONAL, "outcomes": OUTCOME_OPTIONAL}
_TIME_COLUMN = {"leads": CREATED_AT, "events": OCCURRED_AT, "outcomes": OCCURRED_AT}


@dataclass(frozen=True)
class ValidationResult:
    """Clean contract tables, the quarantined rows (with reasons) and the report."""

    leads: pd.DataFrame
    events: pd.DataFrame
    outcomes: pd.DataFrame
    quarantined: dict[str, pd.DataFrame]
    report: ValidationReport

    def write_clean(self, directory: str | Path) -> dict[str, Path]:
        """Write the clean tables as `<table>.parquet` into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in TABLES:
            paths[name] = directory / f"{name}.parquet"
            getattr(self, name).to_parquet(paths[name], index=False)
        return paths


def load_contract(
    leads_path: str | Path,
    events_path: str | Path | None,
    outcomes_path: str | Path,
    mapping: ExportMapping | str | Path | None = None,
    mode: Mode = "strict",
    quarantine_dir: str | Path | None = None,
) -> ValidationResult:
    """Read, map and validate the three tables in one call (`mapping` may be a YAML path).

    Without `events_path` the events table is empty (the report says what that costs)."""
    if mapping is not None and not isinstance(mapping, ExportMapping):
        mapping = ExportMapping.from_yaml(mapping)
    mapping = mapping or ExportMapping()
    paths = {"leads": leads_path, "events": events_path, "outcomes": outcomes_path}
    frames = {
        n: no_events() if p is None else read_table(p, delimiter=mapping.csv_delimiter)
        for n, p in paths.items()
    }
    return validate(
        **frames,
        mode=mode,
        mapping=mapping,
        quarantine_dir=quarantine_dir,
        sources={n: str(p) for n, p in paths.items() if p is not None},
    )


def no_events() -> pd.DataFrame:
    """An events table with the contract's columns and no rows, for a business without events."""
    return pd.DataFrame({c: pd.Series([], dtype="str") for c in EVENT_REQUIRED})


def validate(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    outcomes: pd.DataFrame,
    mode: Mode = "strict",
    *,
    mapping: ExportMapping | None = None,
    quarantine_dir: str | Path | None = None,
    sources: dict[str, str] | None = None,
) -> ValidationResult:
    """Map the frames onto the contract and check them.

    `strict` raises `DataValidationError` on any error; `quarantine` sets bad rows aside (and
    writes them to `quarantine_dir/<table>.csv` when given). Fatal problems raise in both modes.
    """
    if mode not in ("strict", "quarantine"):
        raise ValueError(f"mode must be 'strict' or 'quarantine', not {mode!r}")
    mapping = mapping or ExportMapping()
    sources = sources or {}
    raw = {"leads": leads, "events": events, "outcomes": outcomes}
    tables: dict[str, _Table] = {}
    fatal: list[Problem] = []
    for name, frame in raw.items():
        table_mapping = mapping.table(name)
        try:
            mapped = table_mapping.apply(frame)
        except MappingError as exc:
            mapped = None
            fatal.append(_fatal(name, ProblemKind.BAD_MAPPING, len(frame), f"{exc}."))
        else:
            missing = [c for c in _REQUIRED[name] if c not in mapped.columns]
            if missing:
                fatal.append(_missing_columns(name, mapped, missing, table_mapping.file_column))
            elif name == "leads" and mapped.empty:
                # Nothing would fail on it, and every later step would work on no leads.
                fatal.append(
                    _fatal(
                        name,
                        ProblemKind.EMPTY_TABLE,
                        0,
                        f"{sources.get(name, 'the leads table')} has a header but no rows: "
                        "export the leads again (events and outcomes need their leads).",
                    )
                )
        # Positional index: checks align Series by index, which a user's index could break.
        used = (mapped if mapped is not None else frame).reset_index(drop=True)
        tables[name] = _Table(name, used, sources.get(name), mapping.timestamps_of(name))
    if fatal:
        report = _report(mode, mapping.timestamps, tables, fatal, checked=False)
        raise DataValidationError(report)

    lead_ids, created, dropped_ids = _check_leads(tables["leads"])
    for name in ("events", "outcomes"):
        _check_rows_of_leads(tables[name], lead_ids, created, dropped_ids)
    event_types = _check_event_types(tables["events"])
    milestones = _check_outcomes(tables["outcomes"])
    if tables["events"].frame.empty:
        tables["events"].problems.append(
            Problem(
                table="events",
                kind=ProblemKind.NO_EVENTS,
                severity="notice",
                count=0,
                message=f"{no_events_notice()}. Export page views, form fills, email and "
                "webinar activity as an events table (--events) to score behaviour.",
            )
        )

    problems = [p for t in tables.values() for p in t.problems]
    report = _report(mode, mapping.timestamps, tables, problems, checked=True)
    if mode == "strict" and not report.ok:
        raise DataValidationError(report)
    quarantined = {name: t.quarantined() for name, t in tables.items()}
    if quarantine_dir is not None and mode == "quarantine":
        report.quarantine_files = _write_quarantine(quarantined, Path(quarantine_dir))
    return ValidationResult(
        leads=tables["leads"].clean({}),
        events=tables["events"].clean({EVENT_TYPE: event_types}),
        outcomes=tables["outcomes"].clean(milestones),
        quarantined=quarantined,
        report=report,
    )


@dataclass
class _Table:
    """One table under validation: the first failed check of each row, and the problems."""

    name: str
    frame: pd.DataFrame
    source: str | None
    timestamps: TimestampSettings
    reason: np.ndarray = field(init=False)
    reasons: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ids: pd.Series = field(init=False)
    times: pd.Series = field(init=False)

    def __post_init__(self) -> None:
        self.reason = np.full(len(self.frame), -1, dtype=np.int16)

    @property
    def ok(self) -> np.ndarray:
        return self.reason < 0

    def quarantine(
        self,
        kind: ProblemKind,
        mask: np.ndarray,
        reason: str,
        hint: str = "",
        values: str | Callable[[np.ndarray], list[str]] | None = None,
    ) -> None:
        """Quarantine the rows of `mask` that passed every earlier check."""
        new = np.asarray(mask, dtype=bool) & self.ok
        if not new.any():
            return
        self.reasons.append(f"{kind.value}: {reason}")
        self.reason[new] = len(self.reasons) - 1
        self._add(kind, "error", new, f"{reason}. {hint}".strip(), values)

    def notice(
        self,
        kind: ProblemKind,
        mask: np.ndarray,
        message: str,
        values: str | Callable[[np.ndarray], list[str]] | None = None,
    ) -> None:
        """Report rows that are kept but deserve a word."""
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self._add(kind, "notice", mask, message, values)

    def _add(
        self,
        kind: ProblemKind,
        severity: Severity,
        mask: np.ndarray,
        message: str,
        values: str | Callable[[np.ndarray], list[str]] | None,
    ) -> None:
        rows = np.flatnonzero(mask)[:MAX_EXAMPLES]
        if values is None:
            shown: list[str | None] = [None] * len(rows)
        elif callable(values):
            shown = list(values(rows))
        else:
            shown = [_text(v) for v in self.frame[values].iloc[rows]]
        ids = self.ids.iloc[rows]
        examples = [
            Example(location=loc, lead_id=None if pd.isna(i) else str(i), value=v)
            for loc, i, v in zip(locations(self.frame, rows), ids, shown, strict=True)
        ]
        self.problems.append(
            Problem(
                table=self.name,
                kind=kind,
                severity=severity,
                count=int(mask.sum()),
                message=message,
                examples=examples,
            )
        )

    def clean(self, canonical: dict[str, pd.Series | pd.Categorical]) -> pd.DataFrame:
        """The rows that passed, with parsed ids, times and canonical values."""
        keep = self.ok
        frame = self.frame.drop(columns=[c for c in SOURCE_COLUMNS if c in self.frame.columns])
        frame = frame.assign(
            **{LEAD_ID: self.ids, _TIME_COLUMN[self.name]: self.times}, **canonical
        )
        return frame[keep].reset_index(drop=True)

    def quarantined(self) -> pd.DataFrame:
        """The rows that failed, as read, with their location and reason."""
        rows = np.flatnonzero(~self.ok)
        frame = self.frame.iloc[rows].reset_index(drop=True)
        frame = frame.drop(columns=list(SOURCE_COLUMNS), errors="ignore")
        texts = np.asarray(self.reasons, dtype=object)
        # Never overwrite a user's own column of the same name: that would lose data.
        location, reason = (_free_name(n, frame.columns) for n in (SOURCE_LOCATION, REASON))
        return frame.assign(
            **{
                location: locations(self.frame, rows),
                reason: texts[self.reason[rows]] if len(rows) else [],
            }
        )

    def accounting(self, checked: bool) -> TableReport:
        rows_in = len(self.frame)
        quarantined = int((~self.ok).sum())
        return TableReport(
            source=self.source or "<none>",
            columns=[c for c in self.frame.columns if c not in SOURCE_COLUMNS],
            timestamp_format=self.timestamps.format,
            rows_in=rows_in,
            rows_clean=rows_in - quarantined if checked else None,
            rows_quarantined=quarantined if checked else None,
        )


def _report(
    mode: Mode,
    timestamps: TimestampSettings,
    tables: dict[str, _Table],
    problems: list[Problem],
    checked: bool,
) -> ValidationReport:
    return ValidationReport(
        mode=mode,
        timestamp_format=timestamps.format,
        naive_timezone=timestamps.naive_timezone,
        tables={name: t.accounting(checked) for name, t in tables.items()},
        problems=problems,
    )


def _fatal(table: str, kind: ProblemKind, rows: int, message: str) -> Problem:
    return Problem(table=table, kind=kind, severity="fatal", count=rows, message=message)


def _missing_columns(
    table: str, frame: pd.DataFrame, missing: list[str], file_column: Callable[[str], str]
) -> Problem:
    found = [c for c in frame.columns if c not in SOURCE_COLUMNS]
    hints = []
    for column in missing:
        source = file_column(column)
        if source != column:
            hints.append(f"the mapping renames {source!r} to {column!r} but there is no {source!r}")
            continue
        candidate = _closest(column, found) or "<their column>"
        hints.append(f'Map it: `{table}: columns: {{"{candidate}": {column}}}`')
    message = (
        f"Missing required column(s) {missing}. Expected: {list(_REQUIRED[table])} "
        f"(optional: {list(_OPTIONAL[table])}); found: {found}. "
        + "; ".join(hints)
        + f". Mappings live in a YAML file passed with --mapping (example: {MAPPING_EXAMPLE})."
    )
    return _fatal(table, ProblemKind.MISSING_COLUMNS, len(frame), message)


def _free_name(name: str, columns: pd.Index) -> str:
    while name in columns:
        name = f"_{name}"
    return name


def _closest(column: str, found: list[str]) -> str | None:
    """The found column that most looks like `column`, ignoring case, spaces and punctuation."""
    keys = {re.sub(r"[^a-z0-9]", "", str(f).lower()): f for f in found}
    close = difflib.get_close_matches(column.replace("_", ""), list(keys), n=1, cutoff=0.6)
    return keys[close[0]] if close else None


def _text(value: object) -> str:
    return "<empty>" if value is None or (np.isscalar(value) and pd.isna(value)) else str(value)


def _lead_ids(values: pd.Series) -> pd.Series:
    """Ids as stripped text, missing where empty. Integral floats lose their ".0"."""
    if pd.api.types.is_float_dtype(values):
        finite = values.dropna()
        if (finite == np.round(finite)).all():
            values = values.astype("Int64")
    text = values.astype("str").str.strip()
    return text.mask(text == "")


def _check_ids_and_times(table: _Table) -> None:
    """Checks every table shares: lead id present, timestamp present and readable."""
    column, settings = _TIME_COLUMN[table.name], table.timestamps
    table.ids = _lead_ids(table.frame[LEAD_ID])
    table.quarantine(
        ProblemKind.MISSING_LEAD_ID,
        table.ids.isna().to_numpy(),
        "lead_id is empty",
        "Every row needs the id of its lead.",
    )
    parsed = parse_timestamps(table.frame[column], settings)
    table.times = parsed.utc
    table.quarantine(ProblemKind.MISSING_TIMESTAMP, parsed.missing, f"{column} is empty")
    table.quarantine(
        ProblemKind.UNPARSEABLE_TIMESTAMP,
        parsed.unparseable,
        f"{column} is not a timestamp in format {settings.format!r}",
        f"Set the format of {table.name}.{column} in the mapping to your layout "
        f"(`{table.name}: {{timestamps: {{format: ...}}}}` or the global `timestamps.format`; "
        "strftime codes, e.g. '%m/%d/%Y %H:%M') or write ISO 8601 (2024-03-01T14:05:00Z).",
        values=column,
    )
    table.quarantine(
        ProblemKind.TIMESTAMP_OUT_OF_RANGE,
        parsed.out_of_range,
        f"{column} is before 1970 or after 2099",
        "Placeholder dates (such as 1900-01-01) stand for 'unknown': leave the cell empty.",
        values=column,
    )
    table.notice(
        ProblemKind.NAIVE_TIMESTAMP,
        parsed.naive,
        f"{column} has no time zone; read as {settings.naive_timezone} "
        "(set `timestamps.naive_timezone` in the mapping if that is wrong).",
        values=column,
    )
    _notice_day_month_order(table, column, parsed.ambiguous)


def _notice_day_month_order(table: _Table, column: str, ambiguous: np.ndarray) -> None:
    """Say which reading was taken when a column's dates read as well with day and month
    swapped: a wrong guess moves dates by months, and nothing else would catch it."""
    if not ambiguous.any():
        return
    row = int(np.flatnonzero(ambiguous)[0])
    text = str(table.frame[column].iloc[row]).strip()
    # The text as written, not the UTC time: a time zone could move it across midnight.
    read = pd.to_datetime(text, format=table.timestamps.format)
    first, second = (int(n) for n in re.findall(r"[0-9]+", text)[:2])
    # A leap year, so that 02/29 reads either way.
    as_month_day = pd.Timestamp(year=2000, month=first, day=second)
    as_day_month = pd.Timestamp(year=2000, month=second, day=first)
    taken = as_month_day if (read.month, read.day) == (first, second) else as_day_month
    table.notice(
        ProblemKind.AMBIGUOUS_DAY_MONTH,
        ambiguous,
        f"ambiguous: {text} could be {as_month_day:%B} {second} or {as_day_month:%B} {first} "
        f"(no day above 12 in this column); read as {taken:%B} {taken.day} with format "
        f"{table.timestamps.format!r}. If that is wrong, set the format for "
        f"{table.name}.{column} (`{table.name}: {{timestamps: {{format: ...}}}}` in the mapping).",
        values=column,
    )


def _check_leads(table: _Table) -> tuple[pd.Series, np.ndarray, pd.Series]:
    """Check leads; return the clean lead ids, their creation times, and quarantined ids."""
    _check_ids_and_times(table)
    ok = table.ok
    duplicate = np.zeros(len(ok), dtype=bool)
    duplicate[ok] = table.ids[ok].duplicated(keep="first").to_numpy()

    def kept_row(rows: np.ndarray) -> list[str]:
        ids = table.ids.to_numpy()
        kept = [np.flatnonzero(ok & (ids == ids[r]))[0] for r in rows]
        return [f"first row kept: {loc}" for loc in locations(table.frame, np.array(kept))]

    table.quarantine(
        ProblemKind.DUPLICATE_LEAD_ID,
        duplicate,
        "lead_id appears on an earlier row, which is kept",
        "Merge or remove the duplicate leads in the source system.",
        values=kept_row,
    )
    clean_ids = table.ids[table.ok]
    dropped = table.ids[~table.ok].dropna()
    return clean_ids, naive_utc(table.times)[table.ok], dropped[_lookup(dropped, clean_ids) < 0]


def _lookup(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each value among `keys` (-1 if absent or missing).

    pyarrow's hash lookup works on the Arrow strings directly; `pd.Index.get_indexer` would
    first turn millions of ids into Python objects.
    """
    found = pc.index_in(
        pa.array(values, type=pa.string()), value_set=pa.array(keys, type=pa.string())
    )
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _check_rows_of_leads(
    table: _Table,
    lead_ids: pd.Series,
    created: np.ndarray,
    dropped_ids: pd.Series,
) -> None:
    """Events and outcomes: readable, of a known lead, not before the lead existed."""
    _check_ids_and_times(table)
    position = _lookup(table.ids, lead_ids)
    unknown = position < 0
    dropped = unknown & (_lookup(table.ids, dropped_ids) >= 0)
    table.quarantine(
        ProblemKind.LEAD_QUARANTINED,
        dropped,
        "the row's lead was quarantined (see the leads problems)",
        "Fix that lead's row and this row is kept too.",
    )
    table.quarantine(
        ProblemKind.UNKNOWN_LEAD,
        unknown,
        "lead_id is not in the leads table",
        "Export the leads table and this table from the same system at the same time, or map "
        "both id columns to the same field.",
    )
    lead_created = np.full(len(position), np.datetime64("NaT"), dtype="datetime64[ns]")
    lead_created[~unknown] = created[position[~unknown]]
    before = naive_utc(table.times) < lead_created

    def compare(rows: np.ndarray) -> list[str]:
        return [
            f"{table.times.iloc[r]} < created_at {pd.Timestamp(lead_created[r], tz='UTC')}"
            for r in rows
        ]

    table.quarantine(
        ProblemKind.BEFORE_LEAD_CREATED,
        before,
        f"{_TIME_COLUMN[table.name]} is before the lead's created_at",
        "Usually time zones differ between exports, or created_at is a later record-update "
        "date; set created_at to the lead's first known touch.",
        values=compare,
    )


def _canonical_positions(values: pd.Series, vocabulary: tuple[str, ...]) -> np.ndarray:
    """Index of each value in `vocabulary` (-1 if not in it or missing).

    Lenient about case, spaces and hyphens ("Closed Won" is closed_won); the work is done on
    the distinct values only, which keeps it cheap for millions of rows.
    """
    codes, uniques = pd.factorize(values)
    normalised = (
        pd.Index(uniques)
        .astype("str")
        .str.strip()
        .str.lower()
        .str.replace(r"[\s\-]+", "_", regex=True)
    )
    known = pd.Index(vocabulary).get_indexer(normalised)
    return np.where(codes >= 0, known[np.maximum(codes, 0)], -1)


def _check_event_types(table: _Table) -> pd.Categorical:
    """Canonical event types; anything else becomes `other`, counted by value in a notice."""
    raw = table.frame[EVENT_TYPE]
    position = _canonical_positions(raw, EVENT_TYPES)
    unknown = position < 0
    if unknown.any():
        counts = raw[unknown].fillna("<empty>").value_counts()
        listed = ", ".join(f"{v!r} ({n:,})" for v, n in counts.iloc[:10].items())
        more = f" and {len(counts) - 10} more values" if len(counts) > 10 else ""
        table.notice(
            ProblemKind.UNKNOWN_EVENT_TYPE,
            unknown,
            f"event types that are not ours were kept as `other`: {listed}{more}. Add rules "
            f"under `events.rules` in the mapping to translate them (example: {MAPPING_EXAMPLE}).",
            values=EVENT_TYPE,
        )
    codes = np.where(unknown, OTHER_CODE, position).astype(np.int8)
    return pd.Categorical.from_codes(codes, categories=list(EVENT_TYPES))


def _check_outcomes(table: _Table) -> dict[str, pd.Series | pd.Categorical]:
    """Milestones, amounts and contradictions; returns the canonical columns."""
    position = _canonical_positions(table.frame[MILESTONE], MILESTONES)
    table.quarantine(
        ProblemKind.UNKNOWN_MILESTONE,
        position < 0,
        f"milestone is not one of {list(MILESTONES)}",
        "Translate your stage names under `outcomes.milestones` in the mapping.",
        values=MILESTONE,
    )
    milestones = pd.Categorical.from_codes(np.maximum(position, 0), categories=list(MILESTONES))
    canonical: dict[str, pd.Series | pd.Categorical] = {MILESTONE: milestones}
    if AMOUNT in table.frame.columns:
        canonical[AMOUNT] = _check_amounts(table)
    _check_contradictions(table, pd.Series(milestones, index=table.frame.index))
    _check_funnel_order(table, position)
    return canonical


def _check_amounts(table: _Table) -> pd.Series:
    raw = table.frame[AMOUNT]
    text = raw.astype("str").str.strip()
    amount = pd.to_numeric(text.mask(text == ""), errors="coerce").astype("float64")
    table.quarantine(
        ProblemKind.UNPARSEABLE_AMOUNT,
        (amount.isna() & text.notna() & (text != "")).to_numpy(),
        "amount is not a number",
        "Write amounts as plain numbers (12500.50), without currency signs or thousands "
        "separators.",
        values=AMOUNT,
    )
    table.quarantine(
        ProblemKind.NEGATIVE_AMOUNT,
        (amount < 0).to_numpy(),
        "amount is negative",
        "Deal values are not negative; record refunds outside the outcomes table.",
        values=AMOUNT,
    )
    return amount


def _check_contradictions(table: _Table, milestones: pd.Series) -> None:
    ok = table.ok
    ids = table.ids
    won = ok & (milestones == Milestone.CLOSED_WON).to_numpy()
    lost = ok & (milestones == Milestone.CLOSED_LOST).to_numpy()
    both = pd.Index(ids[won].unique()).intersection(pd.Index(ids[lost].unique()))
    table.quarantine(
        ProblemKind.CONTRADICTORY_OUTCOMES,
        (won | lost) & ids.isin(both).to_numpy(),
        "the lead has both closed_won and closed_lost",
        "The contract records one deal per lead: keep the outcome that is true.",
        values=MILESTONE,
    )


def _check_funnel_order(table: _Table, position: np.ndarray) -> None:
    """Notice rows dated before a milestone of an earlier funnel stage of the same lead."""
    ok = table.ok
    order_of = np.array([FUNNEL_ORDER[m] for m in MILESTONES])
    rows = pd.DataFrame(
        {
            "lead": table.ids[ok].to_numpy(),
            "order": order_of[position[ok]],
            "t": naive_utc(table.times)[ok],
        }
    )
    latest = rows.groupby(["lead", "order"], sort=True)["t"].max().reset_index()
    # Latest time of any strictly earlier stage of the same lead.
    latest["earlier"] = latest.groupby("lead")["t"].cummax().groupby(latest["lead"]).shift(1)
    # A left merge keeps the left frame's row order.
    merged = rows.merge(latest[["lead", "order", "earlier"]], on=["lead", "order"], how="left")
    earlier = np.full(len(ok), np.datetime64("NaT"), dtype="datetime64[ns]")
    earlier[ok] = merged["earlier"].to_numpy(dtype="datetime64[ns]")
    late = naive_utc(table.times) < earlier

    def compare(rows_: np.ndarray) -> list[str]:
        return [
            f"{table.frame[MILESTONE].iloc[r]} at {table.times.iloc[r]} precedes an "
            f"earlier-stage milestone at {pd.Timestamp(earlier[r], tz='UTC')}"
            for r in rows_
        ]

    table.notice(
        ProblemKind.FUNNEL_OUT_OF_ORDER,
        late,
        "a later funnel stage is dated before an earlier one (e.g. sql before mql); kept as "
        "recorded, since CRMs back-fill stage dates. Labels use the target milestone's own date.",
        values=compare,
    )


def _write_quarantine(quarantined: dict[str, pd.DataFrame], directory: Path) -> dict[str, str]:
    """Write non-empty quarantine tables as CSV (easy to open and fix); return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in quarantined.items():
        path = directory / f"{name}.csv"
        if len(frame):
            _write_csv(frame, path)
            written[name] = str(path)
        else:
            # A stale file from an earlier run would contradict this report.
            path.unlink(missing_ok=True)
    return written


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """pyarrow's CSV writer: several times faster than `DataFrame.to_csv` on millions of rows."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # The CSV writer cannot write dictionary (categorical) columns: decode them.
    table = table.cast(
        pa.schema(
            [
                f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in table.schema
            ]
        )
    )
    pacsv.write_csv(table, path)
