"""Map a user's CRM / marketing-automation export onto the data contract.

A mapping renames columns per table, translates event-type values with ordered rules (their
`Activity Type = "Visited Web Page"` whose URL contains "/pricing" is our `pricing_page_view`),
translates milestone names, and says how to read timestamps. The default mapping is the
identity: files that already use the contract's names need no configuration.

Values no rule translates are left as they are; validation then turns unknown event types into
`other` (and counts them) and rejects unknown milestones. See
`features/contract/examples/mapping_example.yaml` for a commented example.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.contract.schema import EVENT_TYPE, MILESTONE, EventType, Milestone
from features.contract.tables import SOURCE_COLUMNS


class MappingError(ValueError):
    """The mapping does not fit the file it is applied to; the message says what to change."""


class _Strict(BaseModel):
    # A typo in a YAML key must fail loudly, not silently fall back to a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    """A test on another column of the same row. Give exactly one of equals/contains/regex."""

    column: str = Field(
        description="Column to test, by its name in the file (or its contract name if renamed)."
    )
    equals: str | None = Field(None, description="The whole value equals this text.")
    contains: str | None = Field(None, description="The value contains this text.")
    regex: str | None = Field(None, description="A regular expression found in the value.")
    case_sensitive: bool = Field(False, description="Compare letter case too (default: no).")

    @model_validator(mode="after")
    def _one_test(self) -> Self:
        given = [t for t in (self.equals, self.contains, self.regex) if t is not None]
        if len(given) != 1:
            raise ValueError(
                f"condition on {self.column!r}: give exactly one of equals, contains, regex"
            )
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"condition on {self.column!r}: bad regex ({exc})") from exc
        return self

    def holds(self, values: pd.Series) -> np.ndarray:
        """Boolean array: where the condition holds (never on missing values)."""
        text = values.astype("str")
        if self.equals is not None:
            if self.case_sensitive:
                hit = text == self.equals
            else:
                hit = text.str.lower() == self.equals.lower()
        else:
            pattern = self.regex if self.regex is not None else self.contains
            with warnings.catch_warnings():
                # Users write groups like "/(careers|jobs)" for alternation, not extraction.
                warnings.filterwarnings("ignore", "This pattern .* has match groups")
                hit = text.str.contains(
                    pattern, case=self.case_sensitive, regex=self.regex is not None, na=False
                )
        return (hit & values.notna()).to_numpy(dtype=bool)


class EventRule(_Strict):
    """One event-type translation: their value(s), optional conditions, our event type."""

    value: list[str] | None = Field(
        None,
        description="Their event-type value(s) this rule applies to (exact text, surrounding "
        "spaces ignored). Omit to apply to any value.",
    )
    where: list[Condition] = Field(
        default_factory=list, description="Further conditions, all of which must hold."
    )
    event_type: EventType = Field(description="Our event type for matching rows.")

    @field_validator("value", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _matches_something(self) -> Self:
        if self.value is None and not self.where:
            raise ValueError(
                f"rule for {self.event_type.value}: give a value, a where condition, or both"
            )
        return self


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from exc
    return value


class TableTimestamps(_Strict):
    """How one table's timestamp column is read; unset fields fall back to `timestamps`."""

    format: str | None = Field(None, description="As `timestamps.format`, for this table.")
    naive_timezone: str | None = Field(
        None, description="As `timestamps.naive_timezone`, for this table."
    )

    @field_validator("naive_timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else _known_zone(value)


class TableMapping(_Strict):
    """Column renames, constant columns and timestamp reading for one table."""

    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Their column -> our column. Columns not listed keep their names.",
    )
    constants: dict[str, str] = Field(
        default_factory=dict,
        description="Column -> value set on every row, for what a table implies but does not "
        "say (a closed-deals table: `milestone: closed_won`).",
    )
    timestamps: TableTimestamps = Field(default_factory=TableTimestamps)

    @field_validator("constants", mode="before")
    @classmethod
    def _numbers_as_text(cls, value: object) -> object:
        # Files are read as text, so a constant `amount: 0` must be the text "0" too.
        if isinstance(value, dict):
            return {k: v if isinstance(v, str) else str(v) for k, v in value.items()}
        return value

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame in contract vocabulary (as far as this mapping knows it)."""
        return self.with_constants(self.rename(frame))

    def with_constants(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The (renamed) frame with the constant columns added; refuses to overwrite one."""
        taken = sorted(c for c in self.constants if c in frame.columns)
        if taken:
            raise MappingError(
                f"the mapping sets constant column(s) {taken}, but the file already has them; "
                "remove the constant or the column"
            )
        if not self.constants:
            return frame
        values = {c: pd.array([v] * len(frame), dtype="str") for c, v in self.constants.items()}
        return frame.assign(**values)

    def rename(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with columns renamed; refuses renames that would collide."""
        present = {src: dst for src, dst in self.columns.items() if src in frame.columns}
        for src, dst in present.items():
            if dst in frame.columns and dst not in present:
                raise MappingError(
                    f"the mapping renames {src!r} to {dst!r}, but the file already "
                    f"has a column {dst!r}; remove one of them or map {src!r} elsewhere"
                )
        targets = list(present.values())
        clashes = sorted({t for t in targets if targets.count(t) > 1})
        if clashes:
            raise MappingError(f"several columns are renamed to {clashes}; keep one")
        return frame.rename(columns=present)

    def file_column(self, name: str) -> str:
        """The file's name for a contract column (the name itself when not renamed)."""
        return next((src for src, dst in self.columns.items() if dst == name), name)


class EventsMapping(TableMapping):
    """Renames plus event-type rules for the events table."""

    rules: list[EventRule] = Field(
        default_factory=list,
        description="Event-type rules, tried in order; the first matching rule wins. Values "
        "no rule matches are kept and, unless already one of ours, become `other`.",
    )

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = super().apply(frame)
        # No rows (a business without events): nothing to translate, and no column to test.
        if not self.rules or EVENT_TYPE not in frame.columns or frame.empty:
            return frame
        columns = [
            [self._resolve(c.column, frame, i) for c in r.where]
            for i, r in enumerate(self.rules, 1)
        ]
        raw = frame[EVENT_TYPE].astype("str").str.strip()
        result = raw.to_numpy(dtype=object, na_value=None).copy()
        unassigned = np.ones(len(frame), dtype=bool)
        for rule, rule_columns in zip(self.rules, columns, strict=True):
            match = unassigned.copy()
            if rule.value is not None:
                match &= raw.isin([v.strip() for v in rule.value]).to_numpy(dtype=bool)
            for cond, column in zip(rule.where, rule_columns, strict=True):
                rows = np.flatnonzero(match)
                if not len(rows):
                    break
                # Test only the rows still in play: rules usually narrow fast.
                match[rows[~cond.holds(frame[column].iloc[rows])]] = False
            result[match] = rule.event_type.value
            unassigned &= ~match
        frame = frame.copy()
        frame[EVENT_TYPE] = pd.array(result, dtype="str")
        return frame

    def _resolve(self, column: str, frame: pd.DataFrame, rule_number: int) -> str:
        name = self.columns.get(column, column)
        if name not in frame.columns:
            found = [c for c in frame.columns if c not in SOURCE_COLUMNS]
            raise MappingError(
                f"rule {rule_number} tests column {column!r}, which the file does not "
                f"have; columns found: {found}"
            )
        return name


class OutcomesMapping(TableMapping):
    """Renames plus milestone-name translation for the outcomes table."""

    milestones: dict[str, Milestone] = Field(
        default_factory=dict,
        description="Their milestone / stage name -> our milestone. Names not listed are kept.",
    )

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        # Constants come before translation: `milestone: "Closed Won"` is translated too.
        frame = super().apply(frame)
        if not self.milestones or MILESTONE not in frame.columns:
            return frame
        raw = frame[MILESTONE].astype("str").str.strip()
        translated = raw.map({k.strip(): v.value for k, v in self.milestones.items()})
        frame = frame.copy()
        frame[MILESTONE] = translated.fillna(raw).astype("str")
        return frame


class TimestampSettings(_Strict):
    """How to read timestamp text."""

    format: str = Field(
        "ISO8601",
        description="'ISO8601' (default; e.g. 2024-03-01T14:05:00Z, 2024-03-01 14:05), "
        "strftime codes such as '%m/%d/%Y %I:%M %p', or 'mixed' to guess per value (slow, and "
        "ambiguous for day/month order).",
    )
    naive_timezone: str = Field(
        "UTC",
        description="IANA time zone (e.g. 'Europe/Berlin') of timestamps written without an "
        "offset. Reported as a notice either way.",
    )

    @field_validator("naive_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _known_zone(value)


class ExportMapping(_Strict):
    """How one export's three tables map onto the contract. Empty = identity."""

    leads: TableMapping = Field(default_factory=TableMapping)
    events: EventsMapping = Field(default_factory=EventsMapping)
    outcomes: OutcomesMapping = Field(default_factory=OutcomesMapping)
    timestamps: TimestampSettings = Field(default_factory=TimestampSettings)
    csv_delimiter: str | None = Field(
        None, description="Field separator of CSV files, e.g. ';'; default: detected."
    )

    @classmethod
    def from_yaml(cls, path: str | Path) -> ExportMapping:
        """Load and check a mapping file."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        return cls.model_validate(data)

    def table(self, name: str) -> TableMapping:
        """The mapping of the table called `name` (leads, events or outcomes)."""
        return {"leads": self.leads, "events": self.events, "outcomes": self.outcomes}[name]

    def timestamps_of(self, name: str) -> TimestampSettings:
        """How the table called `name` reads its timestamps: its own settings, else the global
        ones."""
        own = self.table(name).timestamps.model_dump(exclude_none=True)
        return self.timestamps.model_copy(update=own) if own else self.timestamps
