"""The validation report: what was found, how many rows, where; rendered as JSON or Markdown.

Severities: **fatal** (the table cannot be used as the contract; validation stops in any
mode), **error** (the row is wrong: strict mode fails, quarantine mode sets the row aside with
a reason), **notice** (the row is kept, but something was assumed or looks unusual).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

from features.catalogue import CATALOGUE

Mode = Literal["strict", "quarantine"]
Severity = Literal["fatal", "error", "notice"]
# Column added to quarantined rows: "<kind>: <what is wrong>".
REASON = "reason"


class ProblemKind(StrEnum):
    """Everything validation can find."""

    MISSING_COLUMNS = "missing_columns"
    EMPTY_TABLE = "empty_table"
    BAD_MAPPING = "bad_mapping"
    MISSING_LEAD_ID = "missing_lead_id"
    MISSING_TIMESTAMP = "missing_timestamp"
    UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
    TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
    NAIVE_TIMESTAMP = "naive_timestamp"
    AMBIGUOUS_DAY_MONTH = "ambiguous_day_month"
    DUPLICATE_LEAD_ID = "duplicate_lead_id"
    UNKNOWN_LEAD = "unknown_lead"
    LEAD_QUARANTINED = "lead_quarantined"
    BEFORE_LEAD_CREATED = "before_lead_created"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNKNOWN_MILESTONE = "unknown_milestone"
    UNPARSEABLE_AMOUNT = "unparseable_amount"
    NEGATIVE_AMOUNT = "negative_amount"
    CONTRADICTORY_OUTCOMES = "contradictory_outcomes"
    FUNNEL_OUT_OF_ORDER = "funnel_out_of_order"
    NO_EVENTS = "no_events"


# Notices that are a decision for the user to confirm, not a count: the console shows their text.
_SPOKEN = frozenset({ProblemKind.AMBIGUOUS_DAY_MONTH, ProblemKind.NO_EVENTS})


def no_events_notice() -> str:
    """What a model can learn when there are no events: said by validation and by training."""
    # Only the lead's age is computed without events; every other behaviour feature is 0 or
    # missing for every row.
    constant = sum(f.kind != "lead_age" for f in CATALOGUE)
    return (
        "no events: the model learns from attributes and timing only; behaviour features "
        f"({constant} of {len(CATALOGUE)}) are constant"
    )


class Example(BaseModel):
    """One affected row: where it is, whose it is, and the value at fault."""

    location: str
    lead_id: str | None = None
    value: str | None = None


class Problem(BaseModel):
    """One kind of problem in one table, with how many rows it affects."""

    table: str
    kind: ProblemKind
    severity: Severity
    count: int
    message: str
    examples: list[Example] = []


class TableReport(BaseModel):
    """Row accounting of one table; clean/quarantined are None if a fatal problem stopped it."""

    source: str
    columns: list[str]
    timestamp_format: str = "ISO8601"
    rows_in: int
    rows_clean: int | None = None
    rows_quarantined: int | None = None


class ValidationReport(BaseModel):
    """What validation found, in a form for people (Markdown) and machines (JSON)."""

    mode: Mode
    timestamp_format: str
    naive_timezone: str
    tables: dict[str, TableReport]
    problems: list[Problem]
    quarantine_files: dict[str, str] = {}

    def of(self, severity: Severity) -> list[Problem]:
        """Problems of one severity."""
        return [p for p in self.problems if p.severity == severity]

    @property
    def ok(self) -> bool:
        """True when nothing is fatal and no row had an error."""
        return not self.of("fatal") and not self.of("error")

    def to_json(self) -> str:
        """The report as indented JSON."""
        return self.model_dump_json(indent=2)

    def summary(self) -> str:
        """A few lines for a terminal: row counts and one line per problem."""
        lines = [self._verdict(), ""]
        for name, t in self.tables.items():
            if t.rows_clean is None:
                lines.append(f"{name:9} {t.rows_in:>12,} rows in  (not checked)  {t.source}")
            else:
                lines.append(
                    f"{name:9} {t.rows_in:>12,} rows in = {t.rows_clean:,} clean"
                    f" + {t.rows_quarantined:,} quarantined  {t.source}"
                )
        ordered = [p for severity in ("fatal", "error", "notice") for p in self.of(severity)]
        for p in ordered:
            first = f" (e.g. {p.examples[0].location})" if p.examples else ""
            # A problem of the whole table (no events) has no rows to count.
            rows = f": {_rows(p.count)}{first}" if p.count else ""
            lines.append(f"{p.severity.upper():7} {p.table}/{p.kind.value}{rows}")
            if p.severity == "fatal" or p.kind in _SPOKEN:
                lines.append(f"        {p.message}")
        for name, path in self.quarantine_files.items():
            lines.append(f"quarantined {name} rows (with a '{REASON}' column): {path}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        """The full report: row accounting, then every problem with its examples."""
        out = [
            "# Data validation report",
            "",
            f"{self._verdict()}  ",
            f"Mode: `{self.mode}` · timestamp format: `{self.timestamp_format}` · "
            f"timestamps without an offset read as `{self.naive_timezone}`",
            "",
            "| table | source | timestamp format | rows in | clean | quarantined |",
            "|---|---|---|---:|---:|---:|",
        ]
        for name, t in self.tables.items():
            clean = "—" if t.rows_clean is None else f"{t.rows_clean:,}"
            quarantined = "—" if t.rows_quarantined is None else f"{t.rows_quarantined:,}"
            out.append(
                f"| {name} | `{t.source}` | `{t.timestamp_format}` | {t.rows_in:,} | {clean} "
                f"| {quarantined} |"
            )
        if all(t.rows_clean is not None for t in self.tables.values()):
            out += ["", "Every input row is accounted for: rows in = clean + quarantined."]
        titles = {"fatal": "Fatal problems", "error": "Errors", "notice": "Notices"}
        for severity, title in titles.items():
            problems = self.of(severity)
            if problems:
                out += ["", f"## {title}"]
            for p in problems:
                out += ["", f"### {p.table} · `{p.kind.value}` · {_rows(p.count)}", "", p.message]
                if p.examples:
                    out.append("")
                for e in p.examples:
                    who = f" lead `{e.lead_id}`" if e.lead_id is not None else ""
                    what = f": `{e.value}`" if e.value is not None else ""
                    out.append(f"- `{e.location}`{who}{what}")
        if self.quarantine_files:
            out += ["", "## Quarantine files", ""]
            out += [f"- {name}: `{path}`" for name, path in self.quarantine_files.items()]
        return "\n".join(out) + "\n"

    def _verdict(self) -> str:
        counts = {s: len(self.of(s)) for s in ("fatal", "error", "notice")}
        if counts["fatal"]:
            return f"FAILED: {counts['fatal']} fatal problem(s); no table was produced."
        rows = sum(t.rows_quarantined or 0 for t in self.tables.values())
        if counts["error"] and self.mode == "strict":
            return (
                f"FAILED (strict): {counts['error']} error kind(s) in {rows:,} rows; "
                "fix them or run in quarantine mode."
            )
        if counts["error"]:
            return (
                f"PASSED with {rows:,} rows quarantined ({counts['error']} error kind(s)) "
                f"and {counts['notice']} notice(s)."
            )
        return f"PASSED with {counts['notice']} notice(s)."


class DataValidationError(ValueError):
    """Validation failed; `report` holds everything that was found."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        fatal = report.of("fatal")
        # One line per failure: the fatal problems' own messages say what to change.
        found = "; ".join(
            f"{p.table}/{p.kind.value}: {_rows(p.count)}"
            + (f" (e.g. {p.examples[0].location})" if p.examples else "")
            + (f": {p.message}" if p.severity == "fatal" else "")
            for p in fatal or report.of("error")
        )
        hint = (
            ""
            if fatal
            else " Fix these rows, or validate in quarantine mode to set them aside (nothing is "
            "dropped silently); `leadscore data validate --report FILE.md` lists every problem."
        )
        super().__init__(f"data validation failed: {found.rstrip('.')}.{hint}")


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"
