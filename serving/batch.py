"""Batch work without HTTP: scoring whole tables (`leadscore score`) or the leads of the journey
store (`leadscore score --from-store`) through the same `ScoringModel` and the same reasons as
the service, and loading a contract directory into the store (`leadscore store load`)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from features.contract.directory import EVENTS_NAME, LEADS_FILE
from features.contract.mapping import ExportMapping, OutcomesMapping, TimestampSettings
from features.contract.schema import (
    AS_OF,
    CREATED_AT,
    EVENT_TYPE,
    LEAD_ID,
    OCCURRED_AT,
    OUTCOME_REQUIRED,
)
from features.contract.tables import (
    SOURCE_COLUMNS,
    locations,
    read_table,
    read_table_as,
    row_ids,
    unique_ids,
)
from features.contract.timestamps import parse_timestamps
from features.contract.validation_report import Mode, ProblemKind
from features.journeys import Journeys
from runtime.leads import MAX_NAME_LENGTH, LeadIn
from runtime.methods import ReasonsMethod
from runtime.model import Prediction, Reasons, ScoringModel

if TYPE_CHECKING:
    from serving.store.store import JourneyStore, LeadRecord, NewEvent

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
    """lead_id, as_of, probability, score, tier, fit, engagement, grade (and reasons) of
    every lead as of `as_of`."""
    rows = pd.DataFrame({LEAD_ID: leads[LEAD_ID].to_numpy(), AS_OF: pd.Timestamp(as_of)})
    prediction = model.predict_rows(
        leads, journeys, rows, Reasons(n_positive, n_negative, method) if reasons else None
    )
    return _scores(rows, prediction)


def score_records(
    model: ScoringModel,
    leads: Sequence[LeadIn],
    as_of: datetime,
    *,
    reasons: bool = False,
    n_positive: int = 3,
    n_negative: int = 3,
    method: ReasonsMethod = ReasonsMethod.PATH,
) -> pd.DataFrame:
    """`score_leads` of lead records (the service's shape, e.g. read from the journey store):
    the same columns, computed by the service's own path (`ScoringModel.predict_leads`)."""
    ids = np.array([lead.lead_id for lead in leads], dtype=object)
    rows = pd.DataFrame({LEAD_ID: ids, AS_OF: pd.Timestamp(as_of)})
    prediction = model.predict_leads(
        leads, [as_of] * len(leads), Reasons(n_positive, n_negative, method) if reasons else None
    )
    return _scores(rows, prediction)


def _scores(rows: pd.DataFrame, prediction: Prediction) -> pd.DataFrame:
    subscores = prediction.subscore_columns()
    out = rows.assign(
        probability=prediction.probability,
        score=prediction.score.astype(np.int16),
        tier=prediction.tier.astype(str),
        # Nullable: empty for a model without them (engagement: without journey features).
        fit=pd.array(subscores["fit"], dtype="Int16"),
        engagement=pd.array(subscores["engagement"], dtype="Int16"),
        grade=pd.array(subscores["grade"], dtype="string"),
    )
    if prediction.reasons is not None:
        out["reasons"] = [[vars(reason) for reason in row] for row in prediction.reasons]
    return out


# -- loading a contract directory into the journey store ------------------------------------

# The tables of a contract directory the store takes, in the order they are looked for: the
# clean Parquet that `data synth` and `data validate --out` write, or CSV as a CRM exports it.
LEADS_NAMES = (LEADS_FILE, "leads.csv")
EVENTS_NAMES = (EVENTS_NAME, f"{EVENTS_NAME}.parquet", f"{EVENTS_NAME}.csv")
# An events table's own id column (mapped like any other); without one, ids are derived.
EVENT_ID = "event_id"
DERIVED_EVENT_ID = "load:"
# Rows written per transaction: short enough to show progress, long enough to be fast.
LEADS_PER_WRITE = 5_000
EVENTS_PER_WRITE = 50_000


@dataclass(frozen=True)
class ContractTables:
    """A contract directory's leads and events, mapped and validated, ready to store."""

    directory: Path
    leads: pd.DataFrame  # lead_id, created_at (UTC) and the attribute columns
    events: pd.DataFrame  # lead_id, occurred_at (UTC), event_type (canonical), other columns
    sources: dict[str, Path]  # the files read, by table
    notes: list[str] = field(default_factory=list)  # how they were read; what was assumed
    # Quarantine mode: the malformed rows set aside (as read, with source and reason), by
    # table, and one line per kind of problem.
    quarantined: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class LoadCounts:
    """What a load wrote: rows sent to the store, and how many of them it did not hold yet."""

    leads: int = 0
    new_leads: int = 0
    events: int = 0
    new_events: int = 0


def contract_tables(
    directory: Path, mapping: ExportMapping | None = None, mode: Mode = "strict"
) -> ContractTables:
    """Read, map and validate the leads and events of a contract directory.

    The directory is the one `leadscore train --data` reads (Parquet from `data synth` or
    `data validate --out`), or the same names as CSV files in any separator and encoding
    (`leads.csv`, `events.csv`); the events are optional and the outcomes are not read.
    Validation is `data validate`'s: in strict mode a malformed row fails with the report's
    one-line summary (file:line of an example); in quarantine mode such rows are set aside
    with their reason (`quarantined`, `problems`). Nothing is dropped silently.
    """
    from features.contract.validate import no_events, validate

    directory = Path(directory)
    mapping = mapping or ExportMapping()
    if not directory.is_dir():
        why = "not a directory" if directory.exists() else "no such directory"
        raise FileNotFoundError(f"{directory} is not a contract data directory ({why}); {_LAYOUT}")
    leads_path = _first_existing(directory, LEADS_NAMES)
    if leads_path is None:
        raise FileNotFoundError(
            f"{directory} is not a contract data directory (no {' or '.join(LEADS_NAMES)} in "
            f"it); {_LAYOUT}"
        )
    events_path = _first_existing(directory, EVENTS_NAMES)
    paths = {"leads": leads_path} | ({"events": events_path} if events_path else {})
    notes = []
    frames = {"events": no_events()}
    for name, path in paths.items():
        frames[name], form = read_table_as(path, delimiter=mapping.csv_delimiter)
        if form is not None:
            notes.append(f"read {path.name} as {form.describe()}")
    if events_path is None:
        notes.append(
            f"{directory} has no events table ({', '.join(EVENTS_NAMES)}): the leads are "
            "stored without journeys"
        )
    # The store keeps no outcomes: an empty table, checked by the contract's own mapping.
    outcomes = pd.DataFrame({c: pd.Series([], dtype="str") for c in OUTCOME_REQUIRED})
    result = validate(
        frames["leads"],
        frames["events"],
        outcomes,
        mode=mode,
        mapping=mapping.model_copy(update={"outcomes": OutcomesMapping()}),
        sources={name: str(path) for name, path in paths.items()},
    )
    for problem in result.report.of("notice"):
        if problem.kind != ProblemKind.NO_EVENTS:
            example = f" (e.g. {problem.examples[0].location})" if problem.examples else ""
            notes.append(f"{problem.table}: {problem.count:,} row(s){example}: {problem.message}")
    leads, events = result.leads, result.events
    _check_lengths(leads[LEAD_ID], leads_path, "lead id")
    if EVENT_ID in events:
        _check_lengths(events[EVENT_ID], events_path, EVENT_ID)
    quarantined = {n: f for n, f in result.quarantined.items() if n in paths and len(f)}
    problems = [
        f"{p.table}/{p.kind.value}: {p.count:,} row(s) set aside"
        + (f" (e.g. {p.examples[0].location})" if p.examples else "")
        for p in result.report.of("error")
    ]
    return ContractTables(directory, leads, events, paths, notes, quarantined, problems)


_LAYOUT = (
    "give a directory with leads.parquet (as `leadscore data synth --out DIR` or `leadscore "
    "data validate ... --out DIR` write it) or leads.csv, and optionally events/, "
    "events.parquet or events.csv"
)


def _first_existing(directory: Path, names: tuple[str, ...]) -> Path | None:
    return next((directory / n for n in names if (directory / n).exists()), None)


def _check_lengths(values: pd.Series, path: Path | None, what: str) -> None:
    """The store keeps names of at most MAX_NAME_LENGTH characters, as the API takes them."""
    text = values.dropna().astype(str)
    long = text[text.str.len() > MAX_NAME_LENGTH]
    if len(long):
        raise ValueError(
            f"{path}: {len(long):,} {what}(s) longer than {MAX_NAME_LENGTH} characters (e.g. "
            f"{long.iloc[0][:40]!r}...): the journey store keeps ids of at most "
            f"{MAX_NAME_LENGTH}; shorten them (or map another column to {what.replace(' ', '_')})"
        )


def load_into_store(
    store: JourneyStore,
    tables: ContractTables,
    *,
    received_at: datetime | None = None,
    advance: Callable[[str, int], None] | None = None,
) -> LoadCounts:
    """Upsert every lead (created_at and attributes) and add every event, a chunk per
    transaction; `advance(table, rows)` after each chunk. Idempotent: events keep their
    `event_id` column or get a stable derived one, so a second load stores no event twice,
    and a lead's record is merged with the same values."""
    import sqlalchemy as sa

    received_at = received_at or datetime.now(UTC)
    counts = LoadCounts()
    try:
        for records in _lead_records(tables.leads):
            created = store.upsert_leads(records)
            counts.leads += len(records)
            counts.new_leads += sum(created)
            if advance:
                advance("leads", len(records))
        for events in _new_events(tables.events):
            stored = store.add_events(events, received_at)
            counts.events += len(events)
            counts.new_events += sum(stored)
            if advance:
                advance("events", len(events))
    except sa.exc.SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ValueError(
            f"{store.description}: storing {tables.directory} failed after {counts.leads:,} "
            f"leads and {counts.events:,} events ({first}); check that the database is "
            "reachable and has room, then run the same command again (what is stored already "
            "is not stored twice)"
        ) from exc
    return counts


def _lead_records(leads: pd.DataFrame) -> Iterator[list[LeadRecord]]:
    from serving.store.store import LeadRecord

    columns = [c for c in leads.columns if c not in (LEAD_ID, CREATED_AT)]
    for start in range(0, len(leads), LEADS_PER_WRITE):
        chunk = leads.iloc[start : start + LEADS_PER_WRITE]
        created = _datetimes(chunk[CREATED_AT])
        values = [_json_values(chunk[c]) for c in columns]
        yield [
            LeadRecord(lead_id, when, dict(zip(columns, row, strict=True)))
            for lead_id, when, row in zip(
                chunk[LEAD_ID].tolist(), created, zip(*values, strict=True), strict=True
            )
        ]


def _new_events(events: pd.DataFrame) -> Iterator[list[NewEvent]]:
    from serving.store.store import NewEvent

    times = events[OCCURRED_AT].dt.floor("us")
    ids = event_ids(events)
    extra = [c for c in events.columns if c not in (LEAD_ID, OCCURRED_AT, EVENT_TYPE, EVENT_ID)]
    for start in range(0, len(events), EVENTS_PER_WRITE):
        stop = start + EVENTS_PER_WRITE
        chunk = events.iloc[start:stop]
        properties: list[dict[str, Any] | None] = [None] * len(chunk)
        if extra:
            values = zip(*(_json_values(chunk[c]) for c in extra), strict=True)
            properties = [
                {k: v for k, v in zip(extra, row, strict=True) if v is not None} or None
                for row in values
            ]
        yield [
            NewEvent(lead_id, kind, when, event_id, props)
            for lead_id, kind, when, event_id, props in zip(
                chunk[LEAD_ID].tolist(),
                chunk[EVENT_TYPE].astype(str).tolist(),
                _datetimes(times.iloc[start:stop]),
                ids[start:stop],
                properties,
                strict=True,
            )
        ]


def event_ids(events: pd.DataFrame) -> list[str]:
    """Each event's id: its own `event_id` where the table has one, else a stable one derived
    from the lead, the type, the time (to the microsecond the store keeps) and the event's
    ordinal among identical events of its lead (file order), so a table loaded again, or
    loaded again with more events appended, gives every event it had before the same id."""
    micros = events[OCCURRED_AT].dt.floor("us").astype("int64") // 1000
    kinds = events[EVENT_TYPE].astype(str)
    keys = pd.DataFrame({"lead": events[LEAD_ID], "kind": kinds, "us": micros})
    ordinal = keys.groupby(["lead", "kind", "us"], sort=False).cumcount()
    own = (
        events[EVENT_ID].astype("string").str.strip().replace("", pd.NA).tolist()
        if EVENT_ID in events
        else [None] * len(events)
    )
    return [
        given
        if isinstance(given, str)
        else DERIVED_EVENT_ID
        + hashlib.blake2b(f"{lead}\x1f{kind}\x1f{us}\x1f{n}".encode(), digest_size=8).hexdigest()
        for given, lead, kind, us, n in zip(
            own,
            keys["lead"].tolist(),
            kinds.tolist(),
            micros.tolist(),
            ordinal.tolist(),
            strict=True,
        )
    ]


def _datetimes(times: pd.Series) -> list[datetime]:
    return list(times.dt.tz_convert(UTC).dt.to_pydatetime())


def _json_values(column: pd.Series) -> list[Any]:
    """A column's values as the store keeps attributes: text, numbers, true/false or None.

    Missing values (NaN, NaT, NA) are None; times are ISO 8601 text. Whole numbers stay whole
    (an int column read 250 in training, and a category of "250" is not one of "250.0")."""
    values = column.astype(object).where(column.notna(), None).tolist()
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        return values  # text and None already: most columns, and the cheap case
    return [_json_value(v) for v in values]


def _json_value(value: object) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, str):
        return value
    if hasattr(value, "isoformat"):  # datetime, Timestamp, date, time
        return value.isoformat()
    return str(value)
