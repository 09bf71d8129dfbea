"""Hand-weighted points scoring: what marketing-ops teams run today, as a typed baseline.

A rules file (YAML, see `default_rules.yaml`) gives points per action (optionally decaying
with a half-life and capped), points per fit attribute (seniority and department from the
job title, industry, company size band, email domain kind, country) and the MQL / SQL
thresholds. `score_points` scores any set of (lead, as-of) rows with the same strictly-
before-the-cut-off rule as the learned model's features, so the two compare fairly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from numba import njit, prange
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.attributes import SENIORITIES, email_domain_kind, normalize_title
from features.contract.schema import EVENT_CODE, EVENT_TYPES, EventType
from features.journeys import SECONDS_PER_DAY, Journeys

EMAIL_KINDS = ("corporate", "free", "education", "competitor", "unknown")
# The lead attribute column(s) each fit rule reads (any one of them will do).
FIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "seniority": ("job_title",),
    "department": ("job_title",),
    "industry": ("industry",),
    "country": ("country",),
    "company_size": ("employee_count",),
    "email_domain_kind": ("email", "email_domain"),
}
TIERS = ("sql", "mql", "nurture")
DEFAULT_RULES_FILE = "default_rules.yaml"


class RulesError(ValueError):
    """A points rules file that cannot be used; the message names each bad key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActionRule(_Strict):
    """Points for each event of one type."""

    points: float
    half_life_days: float | None = Field(
        None, gt=0, description="Each event's points halve every this many days; none: no decay."
    )
    max_points: float | None = Field(
        None, gt=0, description="Cap on the size of this rule's total (repeat visits saturate)."
    )


class SizeBand(_Strict):
    """Points for a company size band, by employee count (bounds inclusive)."""

    min_employees: int = Field(ge=0)
    max_employees: int | None = Field(None, description="None: no upper bound.")
    points: float

    @model_validator(mode="after")
    def _ordered(self) -> SizeBand:
        if self.max_employees is not None and self.max_employees < self.min_employees:
            raise ValueError(
                f"max_employees ({self.max_employees}) is below min_employees "
                f"({self.min_employees})"
            )
        return self


class FitRules(_Strict):
    """Points for who the lead is. Values not listed score 0."""

    seniority: dict[str, float] = Field(
        default_factory=dict, description=f"From the job title; keys: {', '.join(SENIORITIES)}."
    )
    department: dict[str, float] = Field(default_factory=dict, description="From the job title.")
    industry: dict[str, float] = Field(
        default_factory=dict, description="Industry values as in your CRM (case-insensitive)."
    )
    company_size: tuple[SizeBand, ...] = Field(
        (), description="Employee-count bands; they must not overlap."
    )
    email_domain_kind: dict[str, float] = Field(
        default_factory=dict, description=f"Keys: {', '.join(EMAIL_KINDS)}."
    )
    country: dict[str, float] = Field(
        default_factory=dict, description="Country values as in your CRM (case-insensitive)."
    )

    @field_validator("seniority")
    @classmethod
    def _known_seniorities(cls, value: dict[str, float]) -> dict[str, float]:
        return _known_keys(value, SENIORITIES, "seniority")

    @field_validator("email_domain_kind")
    @classmethod
    def _known_kinds(cls, value: dict[str, float]) -> dict[str, float]:
        return _known_keys(value, EMAIL_KINDS, "email domain kind")

    @field_validator("company_size")
    @classmethod
    def _no_overlap(cls, bands: tuple[SizeBand, ...]) -> tuple[SizeBand, ...]:
        ordered = sorted(bands, key=lambda b: b.min_employees)
        for low, high in itertools.pairwise(ordered):
            if low.max_employees is None or low.max_employees >= high.min_employees:
                raise ValueError(
                    f"bands starting at {low.min_employees} and {high.min_employees} employees "
                    "overlap"
                )
        return bands


class Thresholds(_Strict):
    """Total points at which a lead becomes an MQL and an SQL."""

    mql: float
    sql: float

    @model_validator(mode="after")
    def _sql_above_mql(self) -> Thresholds:
        if self.sql <= self.mql:
            raise ValueError(f"sql ({self.sql}) must be above mql ({self.mql})")
        return self


class PointsRules(_Strict):
    """A complete hand-weighted scoring rule set."""

    description: str = ""
    thresholds: Thresholds
    competitor_domains: tuple[str, ...] = ()
    actions: dict[EventType, ActionRule]
    fit: FitRules = FitRules()

    @classmethod
    def from_yaml(cls, path: str | Path) -> PointsRules:
        """Load and validate a rules file; `RulesError` names every bad key."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RulesError(f"{path}: cannot read points rules: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: object, source: str = "points rules") -> PointsRules:
        """Validate rules given as a mapping (e.g. parsed YAML)."""
        if not isinstance(data, dict):
            raise RulesError(f"{source}: expected a mapping with thresholds, actions and fit.")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "\n".join(f"  {_where(e['loc'])}: {e['msg']}" for e in exc.errors())
            raise RulesError(
                f"{source}: {exc.error_count()} problem(s) in the points rules:\n{problems}"
            ) from None

    @classmethod
    def default(cls) -> PointsRules:
        """The shipped rule set, written for the synthetic demo business."""
        text = resources.files("features").joinpath(DEFAULT_RULES_FILE).read_text("utf-8")
        return cls.from_dict(yaml.safe_load(text), source=DEFAULT_RULES_FILE)

    def usable_with(self, columns: Iterable[str]) -> UsableRules:
        """These rules without the fit rules whose column the leads lack, and what was left
        out: a rules file written for one business still scores another's leads."""
        present = set(columns)
        skipped = {
            rule: names
            for rule, names in FIT_COLUMNS.items()
            if getattr(self.fit, rule) and not present.intersection(names)
        }
        if not skipped:
            return UsableRules(rules=self, skipped=[])
        fit = self.fit.model_copy(
            update={rule: type(getattr(self.fit, rule))() for rule in skipped}
        )
        return UsableRules(
            rules=self.model_copy(update={"fit": fit}),
            skipped=[
                f"points rule fit.{rule} not applied: the leads have no "
                f"{' or '.join(f'`{n}`' for n in names)} column"
                for rule, names in skipped.items()
            ],
        )


@dataclass(frozen=True)
class UsableRules:
    """Rules that can score a given leads table, and a sentence per rule left out."""

    rules: PointsRules
    skipped: list[str]


def _known_keys(value: dict[str, float], allowed: tuple[str, ...], what: str) -> dict[str, float]:
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; use any of {', '.join(allowed)}")
    return value


def _where(loc: tuple) -> str:
    # pydantic marks a bad dict key with a trailing "[key]"; the key itself is the useful part.
    return ".".join(str(part) for part in loc if part != "[key]") or "(top level)"


@dataclass(frozen=True)
class PointsBreakdown:
    """Points of each scored row: the total, each rule's share and the resulting tier."""

    total: np.ndarray  # float64 per row
    rules: pd.DataFrame  # one float column per rule, e.g. "action:demo_request", "fit:industry"
    tier: np.ndarray  # "sql", "mql" or "nurture" per row

    def explain(self, row: int) -> pd.Series:
        """Which rules gave row `row` its points, largest first (rules giving 0 left out)."""
        points = self.rules.iloc[row]
        points = points[points != 0]
        return points.reindex(points.abs().sort_values(ascending=False).index)


def score_points(
    rules: PointsRules,
    journeys: Journeys,
    row_lead_index: np.ndarray,
    row_as_of: np.ndarray,
    attributes: pd.DataFrame,
) -> PointsBreakdown:
    """Points for (lead, as-of) rows: actions strictly before `as_of`, plus fit.

    `row_lead_index` points into `journeys`, `row_as_of` is epoch seconds and `attributes`
    holds the rows' lead attributes (job_title, email or email_domain, industry,
    employee_count, country: whichever the fit rules use), one row per scored row.
    """
    lead = np.ascontiguousarray(row_lead_index, dtype=np.int64)
    as_of = np.ascontiguousarray(row_as_of, dtype=np.float64)
    if lead.shape != as_of.shape or len(attributes) != lead.size:
        raise ValueError(
            f"row_lead_index ({lead.size}), row_as_of ({as_of.size}) and attributes "
            f"({len(attributes)}) must describe the same rows."
        )
    if lead.size and (lead.min() < 0 or lead.max() >= len(journeys)):
        raise ValueError("row_lead_index points outside the journeys: map lead ids first.")

    events = list(rules.actions)
    column = np.full(len(EVENT_TYPES), -1, dtype=np.int64)
    column[[EVENT_CODE[e] for e in events]] = np.arange(len(events))
    points = np.array([rules.actions[e].points for e in events], dtype=np.float64)
    rate = np.array(
        [
            math.log(2.0) / rules.actions[e].half_life_days
            if rules.actions[e].half_life_days
            else 0.0
            for e in events
        ]
    )
    cap = np.array([rules.actions[e].max_points or np.inf for e in events])
    actions = np.zeros((lead.size, len(events)), dtype=np.float64)
    _action_points(
        journeys.offsets, journeys.times, journeys.codes, lead, as_of, column, points, rate, actions
    )
    actions = np.sign(actions) * np.minimum(np.abs(actions), cap)

    fit = _fit_points(rules, attributes)
    total = actions.sum(axis=1) + sum(fit.values(), np.zeros(lead.size))
    # One float32 block: a million rows of breakdown stay small and cheap to build.
    matrix = np.empty((lead.size, len(events) + len(fit)), dtype=np.float32)
    matrix[:, : len(events)] = actions
    for k, values in enumerate(fit.values(), start=len(events)):
        matrix[:, k] = values
    names = [f"action:{e.value}" for e in events] + list(fit)
    table = pd.DataFrame(matrix, columns=names, index=attributes.index, copy=False)
    tier = np.where(
        total >= rules.thresholds.sql,
        "sql",
        np.where(total >= rules.thresholds.mql, "mql", "nurture"),
    )
    return PointsBreakdown(total=total, rules=table, tier=tier)


@njit(cache=True, parallel=True)
def _action_points(
    offsets, times, codes, lead, as_of, column, points, rate, out
):  # pragma: no cover
    for r in prange(lead.size):
        j = lead[r]
        cutoff = as_of[r]
        for i in range(offsets[j], offsets[j + 1]):
            t = times[i]
            if t >= cutoff:  # strictly before the cut-off; events are sorted, so stop here
                break
            k = column[codes[i]]
            if k >= 0:
                age_days = (cutoff - t) / SECONDS_PER_DAY
                out[r, k] += points[k] * math.exp(-rate[k] * age_days)


def _fit_points(rules: PointsRules, attributes: pd.DataFrame) -> dict[str, np.ndarray]:
    """Fit points per configured attribute rule, computed once per distinct raw value."""
    fit = rules.fit
    competitors = frozenset(d.lower() for d in rules.competitor_domains)
    out: dict[str, np.ndarray] = {}
    for part, rule in enumerate(("seniority", "department")):  # both from the job title
        table = getattr(fit, rule)
        if table:
            titles = _column(attributes, rule)
            out[f"fit:{rule}"] = _per_value(
                titles, lambda t, table=table, part=part: table.get(normalize_title(t)[part], 0.0)
            )
    for rule in ("industry", "country"):  # CRM picklists: match ignoring case and spaces
        table = {k.strip().casefold(): v for k, v in getattr(fit, rule).items()}
        if table:
            values = _column(attributes, rule)
            out[f"fit:{rule}"] = _per_value(
                values, lambda v, table=table: table.get(str(v).strip().casefold(), 0.0)
            )
    if fit.company_size:
        employees = pd.to_numeric(_column(attributes, "company_size"), errors="coerce").to_numpy(
            dtype=np.float64
        )
        size = np.zeros(len(attributes))
        for band in fit.company_size:
            upper = np.inf if band.max_employees is None else band.max_employees
            size[(employees >= band.min_employees) & (employees <= upper)] = band.points
        out["fit:company_size"] = size
    if fit.email_domain_kind:
        emails = _column(attributes, "email_domain_kind")
        # Addresses are nearly all distinct, their domains are not: classify each domain once.
        domains = emails.astype("str").str.replace(r"^.*@", "", regex=True)
        out["fit:email_domain_kind"] = _per_value(
            domains,
            lambda e: fit.email_domain_kind.get(email_domain_kind(e, competitors), 0.0),
            missing=fit.email_domain_kind.get("unknown", 0.0),
        )
    return out


def _column(attributes: pd.DataFrame, rule: str) -> pd.Series:
    names = FIT_COLUMNS[rule]
    for name in names:
        if name in attributes:
            return attributes[name]
    wanted = " or ".join(f"`{n}`" for n in names)
    raise ValueError(
        f"the rule fit.{rule} needs a {wanted} column in the attributes; add the column, remove "
        "the rule from the rules file, or score with `rules.usable_with(columns).rules`."
    )


def _per_value(values: pd.Series, points_of, missing: float | None = None) -> np.ndarray:
    """Apply `points_of` once per distinct value (titles repeat a lot) and broadcast."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    table = np.array(
        [points_of(u) for u in uniques] + [points_of(None) if missing is None else missing]
    )
    return table[codes]  # code -1 (missing) picks the last entry
