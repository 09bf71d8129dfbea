"""Reasons in plain words: a feature's value phrased for a sales rep, and the top reasons.

Contributions come from the model (per feature, in log-odds); this module only knows what the
features mean. Correlated features of one event type (counts in windows, total, recency) form
one group, so "demo request" appears once, phrased by its strongest member and credited with
the group's summed contribution.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from features.attributes import OTHER_CATEGORY, AttributeSpec, AttributeTransform
from features.catalogue import GROUPS, BehaviourFeature, by_name
from features.contract.schema import EVENT_TYPES, EventType

Value = float | str | None
Direction = Literal["positive", "negative"]
Phrase = Callable[[Value], str]

# Per event type: what the lead did ("Requested a demo") and the noun for its absence.
_EVENT_WORDS: dict[str, tuple[str, str]] = {
    EventType.PRICING_PAGE_VIEW: ("Viewed the pricing page", "pricing page view"),
    EventType.PRODUCT_PAGE_VIEW: ("Viewed a product page", "product page view"),
    EventType.DOCS_PAGE_VIEW: ("Read the documentation", "documentation visit"),
    EventType.BLOG_PAGE_VIEW: ("Read the blog", "blog visit"),
    EventType.CAREERS_PAGE_VIEW: ("Viewed the careers page", "careers page view"),
    EventType.OTHER_PAGE_VIEW: ("Viewed other pages of the site", "other page view"),
    EventType.CONTENT_DOWNLOAD: ("Downloaded content", "content download"),
    EventType.WEBINAR_REGISTRATION: ("Registered for a webinar", "webinar registration"),
    EventType.WEBINAR_ATTENDANCE: ("Attended a webinar", "webinar attended"),
    EventType.NEWSLETTER_SIGNUP: ("Signed up for the newsletter", "newsletter sign-up"),
    EventType.EMAIL_OPEN: ("Opened a marketing email", "marketing email opened"),
    EventType.EMAIL_CLICK: ("Clicked a link in a marketing email", "email link clicked"),
    EventType.FORM_FILL: ("Filled in a form", "form filled in"),
    EventType.FREE_TRIAL_SIGNUP: ("Signed up for a free trial", "free trial"),
    EventType.DEMO_REQUEST: ("Requested a demo", "demo request"),
    EventType.CONTACT_SALES: ("Contacted sales", "contact with sales"),
    EventType.CHAT_CONVERSATION: ("Chatted with the team", "chat conversation"),
    EventType.UNSUBSCRIBE: ("Unsubscribed from emails", "unsubscribe"),
    EventType.EMAIL_BOUNCE: ("Had an email bounce", "bounced email"),
    EventType.OTHER: ("Had other tracked activity", "other tracked activity"),
}
assert set(_EVENT_WORDS) == set(EVENT_TYPES)

_GROUP_WORDS = {
    "intent": "buying-intent activity",
    "interest": "content engagement",
    "negative": "signals of non-intent",
}
assert set(_GROUP_WORDS) == set(GROUPS)

_SENIORITY_WORDS = {
    "c_level": "C-level",
    "vp": "VP",
    "director": "director",
    "manager": "manager",
    "individual_contributor": "individual contributor",
    "student": "student",
    "unknown": "not recognised",
}
_DEPARTMENT_WORDS = {"it": "IT", "hr": "HR", "other": "other", "unknown": "not recognised"}
_EMAIL_KIND_WORDS = {
    "competitor": "Email domain of a competitor",
    "free": "Personal email address (free mail provider)",
    "education": "Email address at a school or university",
    "corporate": "Company email address",
    "unknown": "No email address",
}


@dataclass(frozen=True)
class Reason:
    """One reason for a score: a feature group's effect, phrased by its strongest member."""

    feature: str
    direction: Direction
    text: str
    contribution: float


class ReasonWriter:
    """Phrases the features of one model and picks the top reasons of a scored lead.

    Built once per model (it compiles the phrasing of every feature), used for every lead.
    """

    def __init__(self, feature_names: Sequence[str], attributes: AttributeTransform) -> None:
        self.feature_names = tuple(feature_names)
        specs = {spec.name: spec for spec in attributes.specs}
        groups: dict[str, list[int]] = {}
        self._phrases: list[Phrase] = []
        for j, name in enumerate(self.feature_names):
            group, phrase = _behaviour(name) if name not in specs else _attribute(specs[name])
            groups.setdefault(group, []).append(j)
            self._phrases.append(phrase)
        self._members = [tuple(members) for members in groups.values()]
        # Features ordered group by group: one `add.reduceat` sums every group of every row.
        self._order = np.array([j for members in self._members for j in members])
        self._starts = np.cumsum([0, *(len(m) for m in self._members[:-1])])

    def text(self, feature: str, value: Value) -> str:
        """A feature's value in plain words, e.g. "Requested a demo 2 days ago"."""
        return self._phrases[self.feature_names.index(feature)](value)

    def reasons(
        self,
        contributions: np.ndarray,
        values: Sequence[Value],
        n_positive: int = 3,
        n_negative: int = 3,
    ) -> list[Reason]:
        """The strongest groups raising, then lowering, the score of one lead.

        `contributions` and `values` are in feature order; `values` are the feature values
        before encoding (numbers, category names, None for missing).
        """
        return self.reasons_of_rows(contributions[None, :], [values], n_positive, n_negative)[0]

    def reasons_of_rows(
        self,
        contributions: np.ndarray,
        values: Sequence[Sequence[Value]],
        n_positive: int = 3,
        n_negative: int = 3,
    ) -> list[list[Reason]]:
        """`reasons` of many leads (rows of `contributions` and `values`) at once."""
        totals = np.add.reduceat(contributions[:, self._order], self._starts, axis=1)
        ranked = np.argsort(totals, axis=1, kind="stable")
        # Plain Python from here: a few items per lead, where numpy calls cost more than work.
        totals_rows, ranked_rows = totals.tolist(), ranked.tolist()
        out = []
        for r, row in enumerate(contributions.tolist()):
            group_totals, order, reasons = totals_rows[r], ranked_rows[r], []
            for g in order[::-1][:n_positive]:
                if group_totals[g] <= 0:
                    break
                j = max(self._members[g], key=row.__getitem__)
                reasons.append(self._reason(j, "positive", values[r][j], group_totals[g]))
            for g in order[:n_negative]:
                if group_totals[g] >= 0:
                    break
                j = min(self._members[g], key=row.__getitem__)
                reasons.append(self._reason(j, "negative", values[r][j], group_totals[g]))
            out.append(reasons)
        return out

    def _reason(self, j: int, direction: Direction, value: Value, total: float) -> Reason:
        return Reason(self.feature_names[j], direction, self._phrases[j](value), total)


# -- behaviour features ------------------------------------------------------------------


def _behaviour(name: str) -> tuple[str, Phrase]:
    """(reason group, phrasing) of a behaviour feature.

    The features of one event type form one group, those of an event group (or of all
    activity) another; any other feature is its own.
    """
    feature = by_name(name)
    if feature is None:
        raise ValueError(f"{name!r} is neither a behaviour feature nor an attribute of the model")
    group = f"event:{feature.event}" if feature.event else feature.group or feature.name
    return group, _phrase(feature)


def _phrase(feature: BehaviourFeature) -> Phrase:
    """The phrasing of a behaviour feature, chosen by what it measures."""
    window = feature.window_days
    period = f"in the last {int(window)} days" if window else "in total"
    if feature.event is not None:
        did, noun = _EVENT_WORDS[feature.event]
        if feature.kind == "recency":
            return _recency(f"{did} {{ago}}", f"No {noun} yet")
        if feature.kind == "count":
            none = f"No {noun} {period}" if window else f"No {noun} yet"
            return _count(f"{did} {{times}} {period}", none)
    match feature.kind, feature.group:
        case "decayed", str(group) if feature.half_life_days is not None:
            words, days = _GROUP_WORDS[group], int(feature.half_life_days)
            return _number(
                f"Recent {words}: {{value}} (recency-weighted, half-life {days} days)",
                f"No {words} yet",
            )
        case "count", "activity":
            return _n_events
        case "recency", "activity":
            return _recency("Last activity {ago}", "No activity yet")
        case "recency", "intent":
            return _recency("Last buying-intent action {ago}", "No buying-intent action yet")
        case "first_seen", "activity":
            return _recency("First activity {ago}", "No activity yet")
        case "active_days", "activity":
            return _active_days(period)
        case "velocity", "activity":
            return _velocity
        case "transition", "intent":
            return _intent_after_interest
        case "transition_days", "intent":
            return _interest_to_intent
        case "variety", "intent":
            return _n_intent_types
        case "lead_age", None:
            return _days_since_created
        case "click_rate", None:
            return _click_rate
    raise ValueError(f"no words for the behaviour feature {feature}")


def _is_missing(value: Value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _ago(days: float) -> str:
    if days < 1 / 24:
        return "less than an hour ago"
    if days < 1:
        hours = int(days * 24)
        return f"{hours} hour{'s' if hours > 1 else ''} ago"
    if days < 60:
        n = int(days)
        return f"{n} day{'s' if n > 1 else ''} ago"
    if days < 730:
        return f"{round(days / 30.44)} months ago"
    return f"{round(days / 365.25)} years ago"


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _recency(template: str, never: str) -> Phrase:
    def phrase(value: Value) -> str:
        return never if _is_missing(value) else template.format(ago=_ago(float(value)))

    return phrase


def _count(template: str, none: str) -> Phrase:
    def phrase(value: Value) -> str:
        n = 0 if _is_missing(value) else round(float(value))
        return none if n == 0 else template.format(times=_times(n))

    return phrase


def _number(template: str, zero: str) -> Phrase:
    def phrase(value: Value) -> str:
        if _is_missing(value) or float(value) == 0:
            return zero
        return template.format(value=f"{float(value):.1f}")

    return phrase


def _days_since_created(value: Value) -> str:
    return "Creation date unknown" if _is_missing(value) else f"Lead created {_ago(float(value))}"


def _velocity(value: Value) -> str:
    ratio = 1.0 if _is_missing(value) else float(value)
    if ratio >= 1.05:
        return f"Activity speeding up: the last 7 days at {ratio:.1f}x the pace of the 23 before"
    if ratio <= 0.95:
        return f"Activity slowing down: the last 7 days at {ratio:.1f}x the pace of the 23 before"
    return "Activity at a steady pace over the last 30 days"


def _intent_after_interest(value: Value) -> str:
    if not _is_missing(value) and float(value) > 0:
        return "Moved from reading content to buying-intent actions"
    return "No buying-intent action after engaging with content"


def _interest_to_intent(value: Value) -> str:
    if _is_missing(value):
        return "No move yet from content engagement to a buying-intent action"
    return f"First buying-intent action {_days(float(value))} after first engaging with content"


def _days(days: float) -> str:
    return "less than a day" if days < 1 else f"{int(days)} day{'s' if days >= 2 else ''}"


def _click_rate(value: Value) -> str:
    if _is_missing(value):
        return "No marketing email opened yet"
    return f"Clicked links in {float(value):.0%} of opened emails"


def _n_intent_types(value: Value) -> str:
    n = 0 if _is_missing(value) else round(float(value))
    if n == 0:
        return "No buying-intent action yet"
    return f"Took {n} of the 4 kinds of buying-intent action"


def _n_events(value: Value) -> str:
    n = 0 if _is_missing(value) else round(float(value))
    if n == 0:
        return "No tracked activity yet"
    return f"{n} tracked activit{'ies' if n > 1 else 'y'} in total"


def _active_days(period: str) -> Phrase:
    def phrase(value: Value) -> str:
        n = 0 if _is_missing(value) else round(float(value))
        if n == 0:
            return f"No activity {period}"
        return f"Active on {n} day{'s' if n > 1 else ''} {period}"

    return phrase


# -- attribute features ------------------------------------------------------------------


def column_label(column: str) -> str:
    """A column's name as a label: `employee_count` -> "Employee count"; "Lead Source" as is."""
    if re.fullmatch(r"[a-z0-9_]+", column):
        text = column.replace("_", " ").strip()
        return text[:1].upper() + text[1:]
    return column


def _attribute(spec: AttributeSpec) -> tuple[str, Phrase]:
    """(reason group, phrasing) of an attribute feature: each attribute is its own group."""
    label = column_label(spec.source)
    if spec.kind == "seniority":
        return spec.name, _labelled("Job title", _SENIORITY_WORDS, "No job title")
    if spec.kind == "department":
        return spec.name, _labelled("Department", _DEPARTMENT_WORDS, "No job title")
    if spec.kind == "email_kind":
        return spec.name, _email_kind
    if spec.kind == "numeric":
        return spec.name, _plain(label, _format_number)
    if spec.kind == "boolean":
        return spec.name, _plain(label, lambda v: "yes" if float(v) else "no")
    return spec.name, _plain(label, _category)


def _labelled(label: str, words: Mapping[str, str], missing: str) -> Phrase:
    def phrase(value: Value) -> str:
        if _is_missing(value):
            return missing
        return f"{label}: {words.get(str(value), str(value))}"

    return phrase


def _email_kind(value: Value) -> str:
    return _EMAIL_KIND_WORDS.get(str(value), _EMAIL_KIND_WORDS["unknown"])


def _plain(label: str, show: Callable[[Value], str]) -> Phrase:
    def phrase(value: Value) -> str:
        return f"{label}: not filled in" if _is_missing(value) else f"{label}: {show(value)}"

    return phrase


def _category(value: Value) -> str:
    return "a rare value" if value == OTHER_CATEGORY else str(value)


def _format_number(value: Value) -> str:
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    return f"{number:,.2f}".rstrip("0").rstrip(".")
