"""Lead attribute features: free-text job titles and emails turned into categories.

Each transform is a scalar function (cached), so the service applies it to one lead and
training applies it to the distinct values of a column: the same code either way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

# Order matters: the first matching pattern wins ("VP of Engineering" is a VP, not an engineer;
# "Assistant to the CEO" is not a C-level).
_SENIORITY_PATTERNS: tuple[tuple[str, str], ...] = (
    ("student", r"\b(student|intern|internship|trainee|phd candidate|undergrad\w*)\b"),
    ("individual_contributor", r"\b(assistant|coordinator|associate)\b"),
    (
        "c_level",
        r"\b(ceo|cto|cfo|coo|cmo|cio|ciso|cro|cpo|cdo|chro|chief|founder|co-founder|cofounder|"
        r"owner|(?<!vice )president|managing director|partner)\b",
    ),
    ("vp", r"\b(vp|svp|evp|avp|vice president|v\.p\.)\b"),
    ("director", r"\b(director|head of|head|dir\.?)\b"),
    ("manager", r"\b(manager|mgr|lead|team lead|supervisor)\b"),
    (
        "individual_contributor",
        r"\b(engineer|developer|analyst|specialist|consultant|designer|architect|scientist|"
        r"administrator|admin|representative|rep|executive|accountant|writer|marketer|"
        r"strategist|technician|officer|programmer|associate)\b",
    ),
)
_DEPARTMENT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("student", r"\b(student|phd candidate|undergrad\w*)\b"),
    ("marketing", r"\b(marketing|cmo|growth|demand gen\w*|brand|content|seo|communications)\b"),
    ("sales", r"\b(sales|cro|account executive|business development|bdr|sdr|revenue)\b"),
    (
        "engineering",
        r"\b(engineer\w*|developer|cto|software|devops|architect|programmer|technical|r&d)\b",
    ),
    ("it", r"\b(it|cio|ciso|information technology|systems|security|infrastructure|network)\b"),
    ("data", r"\b(data|cdo|analytics|analyst|scientist|bi)\b"),
    ("product", r"\b(product|cpo|ux|design\w*)\b"),
    ("finance", r"\b(finance|cfo|accounting|accountant|controller|procurement)\b"),
    ("operations", r"\b(operations|coo|ops|supply chain|logistics)\b"),
    ("hr", r"\b(hr|chro|human resources|people|talent|recruit\w*)\b"),
    ("executive", r"\b(ceo|founder|co-founder|cofounder|owner|president|managing director)\b"),
)
_SENIORITY_RE = tuple((label, re.compile(p)) for label, p in _SENIORITY_PATTERNS)
_DEPARTMENT_RE = tuple((label, re.compile(p)) for label, p in _DEPARTMENT_PATTERNS)

SENIORITIES = (
    "c_level",
    "vp",
    "director",
    "manager",
    "individual_contributor",
    "student",
    "unknown",
)

FREE_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "proton.me",
        "protonmail.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
    }
)
_EDUCATION_RE = re.compile(r"(\.edu$|\.edu\.[a-z]{2}$|\.ac\.[a-z]{2}$|university|\buni-)")


@lru_cache(maxsize=65_536)
def normalize_title(title: str | None) -> tuple[str, str]:
    """(seniority, department) of a free-text job title: "Sr. VP, Marketing" -> (vp, marketing)."""
    if not title or not isinstance(title, str):
        return "unknown", "unknown"
    text = re.sub(r"[^a-z0-9&.\- ]+", " ", title.lower()).strip()
    seniority = next((label for label, rx in _SENIORITY_RE if rx.search(text)), "unknown")
    department = next((label for label, rx in _DEPARTMENT_RE if rx.search(text)), "other")
    return seniority, department


def email_domain(email_or_domain: str | None) -> str | None:
    """The lower-case domain of an email address (or the domain itself)."""
    if not email_or_domain or not isinstance(email_or_domain, str):
        return None
    domain = email_or_domain.rsplit("@", 1)[-1].strip().lower()
    return domain or None


@lru_cache(maxsize=65_536)
def email_domain_kind(
    email_or_domain: str | None, competitor_domains: frozenset[str] = frozenset()
) -> str:
    """corporate, free, education, competitor or unknown, from an email address or domain."""
    domain = email_domain(email_or_domain)
    if domain is None:
        return "unknown"
    if domain in competitor_domains:
        return "competitor"
    if domain in FREE_EMAIL_DOMAINS:
        return "free"
    if _EDUCATION_RE.search(domain):
        return "education"
    return "corporate"


# --- Attribute columns as model features -------------------------------------------------

AttributeKind = Literal[
    "numeric",
    "boolean",
    "categorical",
    "seniority",
    "department",
    "email_kind",
    "weekday",
    "month",
    "hour",
]

DEFAULT_MISSING_VALUES = ("", "select", "n/a", "na", "none", "null", "unknown", "-", "nan")
_TRUE = frozenset({"yes", "y", "true", "t", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "0"})
# Columns that identify or date a lead rather than describe it.
_NOT_FEATURES = frozenset({"lead_id", "created_at", "email_domain", "email"})
_DATE_PARTS = frozenset({"weekday", "month", "hour"})
# Kinds whose feature is a number (float64); every other kind is a category.
NUMERIC_KINDS = frozenset({"numeric", "boolean", "month", "hour"})
# A text column with more distinct values than this share of rows is free text, not a category.
_FREE_TEXT_UNIQUE_SHARE = 0.5
_FREE_TEXT_MIN_UNIQUE = 200
# The category that rare values (and values first seen after training) are grouped into.
OTHER_CATEGORY = "(other)"


class AttributeSpec(BaseModel):
    """How one model feature is derived from one lead attribute column."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Feature name as the model sees it.")
    source: str = Field(description="Column of the leads table it is read from.")
    kind: AttributeKind
    values: tuple[str, ...] | None = Field(
        None,
        description=f"Categorical only: the values kept as they are; any other value becomes "
        f"{OTHER_CATEGORY!r}. None keeps every value.",
    )


class AttributeTransform(BaseModel):
    """The attribute features of a model: specs plus the values that mean "not filled"."""

    model_config = ConfigDict(frozen=True)

    specs: tuple[AttributeSpec, ...] = ()
    missing_values: frozenset[str] = frozenset(DEFAULT_MISSING_VALUES)
    competitor_domains: frozenset[str] = frozenset()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.specs)

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s.source for s in self.specs))

    def value(self, spec: AttributeSpec, raw: object) -> float | str | None:
        """The feature value of one raw attribute (None = missing)."""
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return None
        if spec.kind in _DATE_PARTS:
            return _date_part(raw, spec.kind)
        if isinstance(raw, str):
            text = raw.strip()
            if text.lower() in self.missing_values:
                return None
        else:
            text = str(raw)
        if spec.kind == "numeric":
            try:
                return float(text.replace(",", ""))
            except ValueError:
                return None
        if spec.kind == "boolean":
            low = text.lower()
            return 1.0 if low in _TRUE else 0.0 if low in _FALSE else None
        if spec.kind == "seniority":
            return normalize_title(text)[0]
        if spec.kind == "department":
            return normalize_title(text)[1]
        if spec.kind == "email_kind":
            return email_domain_kind(text, self.competitor_domains)
        if spec.values is not None and text not in spec.values:
            return OTHER_CATEGORY
        return text

    def one(self, attributes: Mapping[str, object]) -> dict[str, float | str | None]:
        """Feature values of one lead's attributes (the service's path)."""
        return {s.name: self.value(s, attributes.get(s.source)) for s in self.specs}

    def frame(self, leads: pd.DataFrame) -> pd.DataFrame:
        """Feature values for a leads table: the same `value` per distinct raw value."""
        out = {}
        for spec in self.specs:
            column = (
                leads[spec.source] if spec.source in leads else pd.Series(None, index=leads.index)
            )
            if spec.kind == "email_kind" and not any("@" in m for m in self.missing_values):
                # A million addresses are a few thousand domains: "x@Acme.com " and "@Acme.com "
                # have the same `value`, so only the distinct domains go through it.
                column = column.astype("string[pyarrow]").str.replace("^.*@", "@", regex=True)
            codes, uniques = pd.factorize(column)
            mapped = [self.value(spec, raw) for raw in uniques]
            if spec.kind in NUMERIC_KINDS:
                numbers = np.array([np.nan if v is None else v for v in mapped] + [np.nan])
                out[spec.name] = pd.Series(numbers[codes], index=leads.index)  # -1: missing
            else:
                labels = np.array([*mapped, None], dtype=object)
                out[spec.name] = pd.Series(labels[codes], index=leads.index, dtype=object)
        return pd.DataFrame(out, index=leads.index)


def infer_attributes(
    leads: pd.DataFrame,
    exclude: Sequence[str] = (),
    missing_values: Sequence[str] = DEFAULT_MISSING_VALUES,
    competitor_domains: Sequence[str] = (),
    kinds: Mapping[str, AttributeKind] | None = None,
    min_category_rows: int = 0,
) -> tuple[AttributeTransform, dict[str, str]]:
    """Choose a feature kind for every attribute column; also say why columns were left out.

    `kinds` sets the kind of named columns instead of inferring it (e.g. a free-text job title
    mapped to `seniority`). Categories with fewer than `min_category_rows` rows are grouped
    into `OTHER_CATEGORY`, so the model does not learn from a handful of leads.
    """
    missing = frozenset(v.lower() for v in missing_values)
    kinds = kinds or {}
    specs: list[AttributeSpec] = []
    skipped: dict[str, str] = {}
    for column in leads.columns:
        if column in exclude:
            skipped[column] = "excluded by configuration"
            continue
        if column in kinds:
            kind = kinds[column]
            name = column if kind in ("numeric", "boolean", "categorical") else f"{column}: {kind}"
            specs.append(_spec(name, leads[column], kind, missing, min_category_rows))
            continue
        if column == "job_title":
            specs += [
                AttributeSpec(name="seniority", source=column, kind="seniority"),
                AttributeSpec(name="department", source=column, kind="department"),
            ]
            continue
        if column in ("email", "email_domain"):
            if not any(s.kind == "email_kind" for s in specs):
                specs.append(AttributeSpec(name="email_kind", source=column, kind="email_kind"))
            continue
        if column in _NOT_FEATURES or column.startswith("_"):
            continue
        if _is_date_column(leads[column], missing):
            specs += date_specs(leads[column], missing)
            continue
        kind, reason = _infer_kind(leads[column], missing)
        if kind is None:
            skipped[column] = reason
        else:
            specs.append(_spec(column, leads[column], kind, missing, min_category_rows))
    transform = AttributeTransform(
        specs=tuple(specs), missing_values=missing, competitor_domains=frozenset(competitor_domains)
    )
    return transform, skipped


def _spec(
    name: str, column: pd.Series, kind: AttributeKind, missing: frozenset[str], min_rows: int
) -> AttributeSpec:
    """The spec of one column; for a categorical one, the values frequent enough to keep."""
    if kind != "categorical" or min_rows <= 1:
        return AttributeSpec(name=name, source=column.name, kind=kind)
    text = column.dropna().astype(str).str.strip()
    counts = text[~text.str.lower().isin(missing)].value_counts()
    if counts.empty or counts.min() >= min_rows:
        return AttributeSpec(name=name, source=column.name, kind=kind)
    kept = tuple(sorted(counts.index[counts >= min_rows]))
    return AttributeSpec(name=name, source=column.name, kind=kind, values=kept)


def _infer_kind(column: pd.Series, missing: frozenset[str]) -> tuple[AttributeKind | None, str]:
    if pd.api.types.is_bool_dtype(column):
        return "boolean", ""
    if pd.api.types.is_numeric_dtype(column):
        return "numeric", ""
    text = _filled_text(column, missing)
    if text.empty:
        return None, "always empty"
    # Each distinct value once, weighted by its rows: a million leads hold far fewer values.
    counts = text.value_counts()
    values = counts.index.to_series()
    if set(values.str.lower()) <= (_TRUE | _FALSE):
        return "boolean", ""
    numeric = pd.to_numeric(values.str.replace(",", ""), errors="coerce").notna().to_numpy()
    if counts[numeric].sum() > 0.98 * len(text):
        return "numeric", ""
    n_unique = len(counts)
    if n_unique > _FREE_TEXT_MIN_UNIQUE and n_unique > _FREE_TEXT_UNIQUE_SHARE * len(text):
        return None, f"free text ({n_unique} distinct values): map it to categories to use it"
    return "categorical", ""


def date_specs(column: pd.Series, missing: frozenset[str]) -> list[AttributeSpec]:
    """A date column's features: weekday and month and, when any value has a time of day,
    hour (UTC). Often the only behaviour signal of a thin export."""
    parts = ["weekday", "month"]
    times = _filled_text(column, missing).map(lambda raw: _date_part(raw, "hour"))
    if (times.dropna() != 0).any():
        parts.append("hour")
    return [AttributeSpec(name=f"{column.name}_{p}", source=column.name, kind=p) for p in parts]


def _date_part(raw: object, part: str) -> float | str | None:
    """The weekday ('Mon'), month (1-12) or hour (0-23, UTC) of one raw date value."""
    try:
        moment = pd.Timestamp(raw)
    except (ValueError, TypeError, OverflowError):
        return None
    if moment is pd.NaT:
        return None
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC")
    if part == "weekday":
        return moment.day_name()[:3]
    return float(moment.month if part == "month" else moment.hour)


def _is_date_column(column: pd.Series, missing: frozenset[str]) -> bool:
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    text = _filled_text(column, missing)
    return not text.empty and _looks_like_dates(text)


def _filled_text(column: pd.Series, missing: frozenset[str]) -> pd.Series:
    text = column.dropna().astype(str).str.strip()
    return text[~text.str.lower().isin(missing) & (text != "")]


def _looks_like_dates(text: pd.Series) -> bool:
    """Text whose values nearly all have digits and parse as dates ("2024-03-01", "3/1/24")."""
    sample = text.iloc[:1000]
    if not sample.str.contains(r"\d").mean() > 0.98:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    return parsed.notna().mean() > 0.98
