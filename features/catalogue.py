"""The behaviour features as data: what each column of the behaviour row measures.

One entry per column of the kernel's row (`features.behaviour`), in its order. Reasons,
drivers and monotone constraints read an entry's kind, event, group, window and direction;
names are made here, once, and nobody takes them apart again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from features.contract.schema import EVENT_TYPES, INTENT_EVENTS, INTEREST_EVENTS, NEGATIVE_EVENTS

WINDOW_DAYS = (7.0, 30.0, 90.0)
HALF_LIVES_DAYS = (7.0, 30.0)
# Event groups recency-weighted as one, in the kernel's order.
GROUP_EVENTS: Mapping[str, frozenset[str]] = {
    "intent": INTENT_EVENTS,
    "interest": INTEREST_EVENTS,
    "negative": NEGATIVE_EVENTS,
}
GROUPS = tuple(GROUP_EVENTS)
# The group of a feature about events of every type.
ACTIVITY = "activity"

Kind = Literal[
    "count",  # events in the last `window_days` (None: all time)
    "recency",  # days since the last event
    "first_seen",  # days since the first event
    "decayed",  # events weighted 0.5 ** (age / half_life_days)
    "active_days",  # distinct days with an event in the last `window_days` (None: all time)
    "velocity",  # events in the last 7 days against the pace of the 23 before
    "lead_age",  # days since the lead was created
    "transition",  # 1 if an intent action followed a first interest action
    "transition_days",  # days from the first interest to the first intent action
    "click_rate",  # email clicks per email open
    "variety",  # how many of the group's event types the lead did
]
Monotone = Literal[-1, 0, 1]


@dataclass(frozen=True)
class BehaviourFeature:
    """One behaviour feature: what it measures and over which events.

    `event`: the one event type it is about, if any; `group`: the event group of those events
    (`ACTIVITY` for every event); `monotone`: +1 if the score may only rise with it, -1 only
    fall, 0 free.
    """

    name: str
    kind: Kind
    event: str | None = None
    group: str | None = None
    window_days: float | None = None
    half_life_days: float | None = None
    monotone: Monotone = 0

    @property
    def driver(self) -> str:
        """What an analyst sums it under: its event type, else the feature alone."""
        return self.event or self.name


# More (or more recent) intent actions and activity never lower the score: a rule reps can
# trust. Activity is constrained too, or a demo request could lower a score through it (it
# also makes the last week busier than the weeks before).
_RISING = frozenset({"count", "decayed", "active_days", "velocity", "transition", "variety"})
_CONSTRAINED_GROUPS = frozenset({"intent", ACTIVITY})


def _feature(
    name: str,
    kind: Kind,
    *,
    event: str | None = None,
    group: str | None = None,
    window_days: float | None = None,
    half_life_days: float | None = None,
) -> BehaviourFeature:
    """An entry with its monotone direction set by the rule above."""
    monotone: Monotone = 0
    if group in _CONSTRAINED_GROUPS:
        monotone = 1 if kind in _RISING else -1 if kind == "recency" else 0
    return BehaviourFeature(name, kind, event, group, window_days, half_life_days, monotone)


def _group_of(event: str) -> str | None:
    return next((g for g, members in GROUP_EVENTS.items() if event in members), None)


def _catalogue() -> tuple[BehaviourFeature, ...]:
    out: list[BehaviourFeature] = []
    for event in EVENT_TYPES:
        group = _group_of(event)
        for w in WINDOW_DAYS:
            out.append(
                _feature(f"n_{event}_{int(w)}d", "count", event=event, group=group, window_days=w)
            )
        out.append(_feature(f"n_{event}_total", "count", event=event, group=group))
    out += [
        _feature(f"days_since_last_{event}", "recency", event=event, group=_group_of(event))
        for event in EVENT_TYPES
    ]
    out += [
        _feature(f"decayed_{g}_hl{int(h)}d", "decayed", group=g, half_life_days=h)
        for g in GROUPS
        for h in HALF_LIVES_DAYS
    ]
    return (*out, *SCALARS)


# Single features, in the order the kernel writes them after the decayed ones.
SCALARS: tuple[BehaviourFeature, ...] = (
    _feature("days_since_created", "lead_age"),
    _feature("n_events_total", "count", group=ACTIVITY),
    _feature("days_since_last_event", "recency", group=ACTIVITY),
    _feature("days_since_first_event", "first_seen", group=ACTIVITY),
    _feature("active_days_30d", "active_days", group=ACTIVITY, window_days=30.0),
    _feature("active_days_total", "active_days", group=ACTIVITY),
    _feature("velocity_7d_vs_prior_23d", "velocity", group=ACTIVITY),
    _feature("intent_after_interest", "transition", group="intent"),
    _feature("days_first_interest_to_first_intent", "transition_days", group="intent"),
    _feature("email_click_rate", "click_rate"),
    _feature("days_since_last_intent", "recency", group="intent"),
    _feature("n_intent_types", "variety", group="intent"),
)
CATALOGUE: tuple[BehaviourFeature, ...] = _catalogue()
_BY_NAME = {feature.name: feature for feature in CATALOGUE}
assert len(_BY_NAME) == len(CATALOGUE), "behaviour feature names must be unique"
_OF_EVENT = {(f.event, f.kind, f.window_days): f for f in CATALOGUE if f.event is not None}


def by_name(name: str) -> BehaviourFeature | None:
    """The behaviour feature called `name`; None for any other column (an attribute)."""
    return _BY_NAME.get(name)


def of_event(event: str, kind: Kind, window_days: float | None = None) -> BehaviourFeature:
    """The feature of one event type: `of_event("demo_request", "count")` counts all time."""
    try:
        return _OF_EVENT[event, kind, window_days]
    except KeyError:
        raise KeyError(f"no {kind} feature of {event!r} over {window_days} days") from None
