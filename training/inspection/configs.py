"""The configuration an inspected export suggests, written as a commented YAML file that the
training commands take as it is: a `train --flat --config` file for one export, a
`data validate --mapping` file for a leads table with its deals (and events) tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from features.contract.schema import CREATED_AT, EVENT_TYPE, LEAD_ID, OCCURRED_AT
from training.inspection.profile import TableProfile

# Share of a table's join values that must be ids of the leads table.
_JOIN_SHARE = 0.9
_EVENT_TYPE_WORDS = ("type", "activity", "event", "action")
_MILESTONE = "milestone"
_WON = "closed_won"


class InspectionError(ValueError):
    """The exports do not say enough to write a configuration; the message says what to add."""


@dataclass(frozen=True)
class Suggestion:
    """A configuration to write, the commands that use it, and what the reader should check."""

    settings: dict
    commands: list[str]
    checks: list[str]

    def write(self, path: Path) -> Path:
        """The settings as YAML, headed by the commands and the checks as comments."""
        header = ["# Written by `leadscore data inspect`: read it, then run", "#"]
        header += [f"#   {command}" for command in self.commands]
        if self.checks:
            header += ["#", "# Check:"] + [f"#   - {check}" for check in self.checks]
        body = yaml.safe_dump(self.settings, sort_keys=False, allow_unicode=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(header) + "\n\n" + body, encoding="utf-8")
        return path


def flat_suggestion(profile: TableProfile, config_path: Path) -> Suggestion:
    """`train --flat` settings for one export with a conversion column."""
    if not profile.targets:
        raise InspectionError(
            f"{profile.path}: no column holds a known yes/no pair (yes/no, won/lost, 1/0, ...) "
            "to learn from: export the leads with their conversion flag"
        )
    target = profile.column(profile.targets[0])
    settings: dict = {"target_column": target.name, "positive_value": target.positive}
    checks = [f"{target.name} = {target.positive!r} means the lead converted"]
    if profile.ids:
        settings["id_column"] = profile.ids[0]
        if profile.ids[1:]:
            # Another unique key (a record number) identifies rows; it says nothing of intent.
            settings["exclude"] = list(profile.ids[1:])
            checks.append(f"{', '.join(profile.ids[1:])}: another id, excluded from features")
    else:
        checks.append("no id column: rows are numbered row_1, row_2, ... in the scores")
    if profile.dates:
        date = profile.column(profile.dates[0])
        settings["date_column"] = date.name
        checks.append(
            f"{date.name} is when each lead was created (it gives the time split and weekday, "
            "month and hour features); remove date_column if it is not"
        )
        if date.day_month_ambiguous:
            checks.append(f"{date.name}: no day above 12, read as month/day: check it")
    if profile.csv is not None:
        settings["csv_delimiter"] = profile.csv.delimiter
        settings["encoding"] = profile.csv.encoding
    leaky = [c for c in profile.columns if c.leak_hints and c.name != target.name]
    checks += [f"{c.name} may leak ({c.leak_hints[0]}): the audit checks it" for c in leaky]
    command = f"leadscore train --flat {profile.path} --config {config_path}"
    return Suggestion(settings, [command], checks)


def journey_suggestion(profiles: list[TableProfile], mapping_path: Path, out: Path) -> Suggestion:
    """A `data validate --mapping` file for a leads table (the first) and its deals or events
    tables, joined on a column whose values are the leads' ids."""
    leads, others = profiles[0], profiles[1:]
    key = _lead_key(leads)
    if not leads.dates:
        raise InspectionError(
            f"{leads.path}: no date column says when each lead was created; a journey needs one"
        )
    settings: dict = {"leads": _table(leads, {key: LEAD_ID, leads.dates[0]: CREATED_AT})}
    files = {"leads": leads.path}
    checks = [f"{leads.dates[0]} is when each lead was created"]
    for other in others:
        join = _join_column(leads.table[key], other)
        if not other.dates:
            raise InspectionError(f"{other.path}: no date column says when each row happened")
        when = other.dates[0]
        kind = _event_type_column(other)
        if kind is not None:
            role, renames = "events", {join: LEAD_ID, when: OCCURRED_AT, kind: EVENT_TYPE}
            section = _table(other, renames)
            checks.append(f"{kind} holds the event types: add `rules` to map them to ours")
        else:
            role = "outcomes"
            section = _table(other, {join: LEAD_ID, when: OCCURRED_AT})
            section["constants"] = {_MILESTONE: _WON}
            checks.append(f"every row of {other.path.name} is a won deal ({_MILESTONE}: {_WON})")
        if role in settings:
            raise InspectionError(f"{other.path}: a second {role} table; give one of each")
        settings[role] = section
        files[role] = other.path
    if "outcomes" not in settings:
        raise InspectionError("no table of won deals (lead id and won date) among the files")
    options = " ".join(f"--{role} {path}" for role, path in files.items())
    quarantine = out.with_name(f"{out.name}-quarantine")
    commands = [
        f"leadscore data validate {options} --mapping {mapping_path} --mode quarantine "
        f"--quarantine-dir {quarantine} --out {out}",
        f"leadscore train --data {out}",
    ]
    return Suggestion(settings, commands, checks)


def _table(profile: TableProfile, renames: dict[str, str]) -> dict:
    """A mapping section: the renames, and the timestamp layout if it is not ISO 8601."""
    section: dict = {"columns": renames}
    layouts = [profile.column(name).date_layout for name in renames]
    layout = next((layout for layout in layouts if layout), None)
    if layout and layout != "ISO8601":
        section["timestamps"] = {"format": layout}
    return section


def _lead_key(leads: TableProfile) -> str:
    if not leads.ids:
        raise InspectionError(
            f"{leads.path}: no column is filled and unique in every row to join the other "
            "tables on; give the leads table with its id column first"
        )
    return leads.ids[0]


def _join_column(lead_ids: pd.Series, other: TableProfile) -> str:
    """The column of `other` whose values are (mostly) the leads' ids."""
    known = lead_ids.dropna().astype(str).unique()
    for column in other.table.columns:
        values = other.table[column].dropna().astype(str)
        if len(values) and np.isin(values.to_numpy(), known).mean() >= _JOIN_SHARE:
            return column
    raise InspectionError(
        f"{other.path}: no column holds the leads' ids (in at least {_JOIN_SHARE:.0%} of its "
        "rows) to join it to the leads table"
    )


def _event_type_column(profile: TableProfile) -> str | None:
    for column in profile.columns:
        words = re.findall(r"[a-z]+", column.name.lower())
        if column.kind == "category" and any(w in _EVENT_TYPE_WORDS for w in words):
            return column.name
    return None
