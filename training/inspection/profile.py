"""Profile a user's export before training: how it reads, what each column holds, and which
columns look like the id, the outcome, the creation date, or a leak.

`leadscore data inspect` prints these profiles and writes the configuration they suggest
(`training.inspection.configs`), so a first training run needs no trial and error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.attributes import DEFAULT_MISSING_VALUES
from features.contract.tables import SOURCE_COLUMNS, CsvFormat, read_table_as
from training.audit.leakage import name_words
from training.flat.table import TARGET_PAIRS

# Layouts tried for text dates, most common first; ISO 8601 is pandas' own.
DATE_LAYOUTS = (
    "ISO8601",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%m/%d/%y",
    "%d/%m/%y",
)
# Values read to profile a column: enough to see its kind, cheap on a million rows.
_SAMPLE = 20_000
_DATE_LIKE = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
# Words of column names that say "when the lead was created", best first.
_CREATED_WORDS = ("created", "create", "first", "signup", "registered", "date")
# Words of column names that say "whether the lead converted".
_OUTCOME_WORDS = ("converted", "conversion", "won", "target", "label", "outcome", "closed")


@dataclass(frozen=True)
class ColumnProfile:
    """What one column holds."""

    name: str
    kind: str  # empty, number, yes/no, date, category, id-like, text
    filled: float  # share of rows with a value (placeholders like "Select" count as empty)
    distinct: int
    examples: tuple[str, ...]
    date_layout: str | None = None  # ISO8601 or a strftime layout, for dates
    day_month_ambiguous: bool = False  # every day and month value is 12 or less
    positive: str | None = None  # for yes/no: the value meaning "converted"
    leak_hints: tuple[str, ...] = ()  # what the column's name suggests, if it may leak


@dataclass(frozen=True)
class TableProfile:
    """What one export holds and how it reads."""

    path: Path
    csv: CsvFormat | None
    rows: int
    columns: tuple[ColumnProfile, ...]
    ids: tuple[str, ...] = field(default=())  # candidate id columns, best first
    targets: tuple[str, ...] = field(default=())  # candidate outcome columns, best first
    dates: tuple[str, ...] = field(default=())  # candidate creation-date columns, best first
    table: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False, compare=False)

    def column(self, name: str) -> ColumnProfile:
        return next(c for c in self.columns if c.name == name)


def profile_table(
    path: Path, *, delimiter: str | None = None, encoding: str | None = None
) -> TableProfile:
    """Read `path` as the training commands would and profile every column."""
    table, csv_format = read_table_as(path, delimiter=delimiter, encoding=encoding)
    table = table.drop(columns=[c for c in SOURCE_COLUMNS if c in table])
    columns = tuple(_profile_column(name, table[name]) for name in table.columns)
    return TableProfile(
        path=Path(path),
        csv=csv_format,
        rows=len(table),
        columns=columns,
        ids=_ranked(
            [c for c in columns if c.kind == "id-like" and c.filled == 1.0], ("id", "number", "key")
        ),
        targets=_ranked([c for c in columns if c.kind == "yes/no"], _OUTCOME_WORDS),
        dates=_ranked([c for c in columns if c.kind == "date"], _CREATED_WORDS),
        table=table,
    )


def _profile_column(name: str, values: pd.Series) -> ColumnProfile:
    text = values.astype("string").str.strip()
    missing = text.isna() | text.str.lower().isin(DEFAULT_MISSING_VALUES) | (text == "")
    filled = text[~missing]
    sample = filled.iloc[:_SAMPLE]
    distinct = int(filled.nunique())
    profile = {
        "name": str(name),
        "filled": float(1 - missing.mean()) if len(text) else 0.0,
        "distinct": distinct,
        "examples": tuple(str(v) for v in sample.drop_duplicates().iloc[:3]),
        "leak_hints": tuple(name_words(str(name)).values()),
    }
    if sample.empty:
        return ColumnProfile(kind="empty", **profile)
    lowered = set(sample.str.lower().unique())
    for positive, negative in TARGET_PAIRS:
        if lowered <= {positive, negative} and len(lowered) == 2:
            return ColumnProfile(kind="yes/no", positive=positive, **profile)
    if sample.str.match(_DATE_LIKE).mean() > 0.9:
        layout, ambiguous = date_layout(sample)
        if layout is not None:
            return ColumnProfile(
                kind="date", date_layout=layout, day_month_ambiguous=ambiguous, **profile
            )
    if pd.to_numeric(sample, errors="coerce").notna().all():
        kind = "id-like" if _unique_id(filled, len(values)) and _named_like_id(name) else "number"
        return ColumnProfile(kind=kind, **profile)
    # A unique code (no spaces, not an address) identifies rows; unique prose is free text.
    codes = not sample.str.contains(r"\s|@", regex=True).any()
    if _unique_id(filled, len(values)) and (codes or _named_like_id(name)):
        return ColumnProfile(kind="id-like", **profile)
    rare = distinct <= 100 or distinct < 0.05 * len(filled)
    return ColumnProfile(kind="category" if rare else "text", **profile)


def date_layout(values: pd.Series) -> tuple[str | None, bool]:
    """The first layout that reads every value, and whether day and month could be swapped
    (no value has a day above 12): then the month-first reading is taken, and said."""
    for layout in DATE_LAYOUTS:
        parsed = pd.to_datetime(values, format=layout, errors="coerce")
        if parsed.notna().all():
            ambiguous = "%m/%d" in layout and _swapped_reads(values, layout)
            return layout, ambiguous
    return None, False


def _swapped_reads(values: pd.Series, layout: str) -> bool:
    swapped = layout.replace("%m/%d", "%d/%m")
    return bool(pd.to_datetime(values, format=swapped, errors="coerce").notna().all())


def _unique_id(filled: pd.Series, rows: int) -> bool:
    return len(filled) == rows and rows > 1 and filled.is_unique


def _named_like_id(name: str) -> bool:
    words = re.findall(r"[a-z0-9]+", str(name).lower())
    return bool(words) and words[-1] in ("id", "number", "key", "no")


def _ranked(columns: list[ColumnProfile], words: tuple[str, ...]) -> tuple[str, ...]:
    """Column names, those whose name holds an earlier word of `words` first."""

    def rank(column: ColumnProfile) -> int:
        name = column.name.lower()
        return next((i for i, word in enumerate(words) if word in name), len(words))

    return tuple(c.name for c in sorted(columns, key=rank))


def describe(profile: TableProfile) -> list[str]:
    """The profile as console lines."""
    how = f", read as {profile.csv.describe()}" if profile.csv else ""
    lines = [f"{profile.path}: {profile.rows:,} rows, {len(profile.columns)} columns{how}"]
    for c in profile.columns:
        detail = f"{c.kind}, {c.filled:.0%} filled, {c.distinct:,} distinct"
        if c.date_layout:
            detail += f", layout {c.date_layout}"
            if c.day_month_ambiguous:
                detail += " (ambiguous: no day above 12, read month first: check it)"
        if profile.targets and c.name == profile.targets[0]:
            detail += f", {c.positive!r} means converted"
        if c.leak_hints:
            detail += f"; may leak: {c.leak_hints[0]}"
        shown = ", ".join(repr(v) for v in c.examples)
        lines.append(f"  {c.name}: {detail}" + (f" (e.g. {shown})" if shown else ""))
    for role, found in (("id", profile.ids), ("outcome", profile.targets), ("date", profile.dates)):
        lines.append(f"  candidate {role} columns: {list(found) or 'none'}")
    return lines
