"""The behaviour catalogue: one entry per kernel column, and the readers that rely on it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.attributes import AttributeSpec, AttributeTransform
from features.behaviour import BEHAVIOUR_FEATURES, N_BEHAVIOUR, behaviour_features
from features.catalogue import CATALOGUE, GROUP_EVENTS, BehaviourFeature, by_name, of_event
from features.contract.schema import EVENT_CODE, EVENT_TYPES, INTENT_EVENTS, EventType
from features.journeys import Journeys
from runtime.reasons import ReasonWriter
from training.analysis.drivers import driver_contributions, driver_label, driver_of
from training.fit import monotone_constraints

DAY = 86_400.0
AS_OF_DAY = 1_000.0
# Ages (days) of the events of each test journey: between every two windows, two on one day.
AGES = (100.0, 50.0, 20.0, 19.5, 2.0)
CREATED_DAYS = 200.0


def _expected(feature: BehaviourFeature, event: str) -> float:
    """A feature's value for a lead whose events are all of one type, at `AGES`, worked out
    from the entry's data alone."""
    if feature.event:
        about = feature.event == event
    else:
        about = feature.group is None or event in GROUP_EVENTS.get(feature.group, EVENT_TYPES)
    window = feature.window_days or math.inf
    ages = [a for a in AGES if a < window] if about else []
    match feature.kind:
        case "count":
            return len(ages)
        case "active_days":
            return len({math.floor(AS_OF_DAY - a) for a in ages})
        case "variety":
            return float(about)
        case "recency":
            return min(ages, default=math.nan)
        case "first_seen":
            return max(ages, default=math.nan)
        case "decayed":
            return sum(0.5 ** (a / feature.half_life_days) for a in ages)
        case "velocity":
            last_7 = sum(a < 7 for a in AGES)
            return (last_7 + 1) / ((sum(a < 30 for a in AGES) - last_7) * 7 / 23 + 1)
        case "lead_age":
            return CREATED_DAYS
        case "transition":
            return 0.0
        case "transition_days":
            return math.nan
        case "click_rate":
            return 0.0 if event == EventType.EMAIL_OPEN else math.nan
    raise AssertionError(feature)


def test_every_kernel_column_is_the_catalogue_entry_in_its_place():
    assert tuple(f.name for f in CATALOGUE) == BEHAVIOUR_FEATURES
    assert len(set(BEHAVIOUR_FEATURES)) == len(CATALOGUE) == N_BEHAVIOUR
    # One lead per event type with events of that type only: every column must hold what its
    # entry says it measures, so a column out of place (or a wrong entry) shows.
    n, k = len(EVENT_TYPES), len(AGES)
    as_of = AS_OF_DAY * DAY
    journeys = Journeys(
        lead_ids=np.array(EVENT_TYPES, dtype=object),
        offsets=np.arange(0, n * k + 1, k, dtype=np.int64),
        times=np.tile(as_of - np.array(AGES) * DAY, n),
        codes=np.repeat([EVENT_CODE[e] for e in EVENT_TYPES], k).astype(np.int8),
    )
    matrix = behaviour_features(
        journeys, np.arange(n), np.full(n, as_of), np.full(n, as_of - CREATED_DAYS * DAY)
    )
    for event, row in zip(EVENT_TYPES, matrix, strict=True):
        want = [_expected(f, event) for f in CATALOGUE]
        np.testing.assert_allclose(row, want, rtol=1e-6, equal_nan=True, err_msg=event)


def test_lookups_find_entries_by_name_and_by_event():
    demo = by_name("n_demo_request_7d")
    assert demo is not None
    assert (demo.kind, demo.event, demo.group, demo.window_days) == (
        "count",
        "demo_request",
        "intent",
        7.0,
    )
    assert by_name("industry") is None
    assert of_event("demo_request", "count").name == "n_demo_request_total"
    assert of_event("demo_request", "count", 30.0).name == "n_demo_request_30d"
    assert of_event("other", "recency").name == "days_since_last_other"
    with pytest.raises(KeyError, match=r"no count feature of 'demo_request' over 14\.0 days"):
        of_event("demo_request", "count", 14.0)


def test_monotone_constraints_follow_the_intent_and_activity_rule():
    expected = {
        "n_demo_request_7d": 1,
        "n_pricing_page_view_total": 1,
        "days_since_last_contact_sales": -1,
        "decayed_intent_hl7d": 1,
        "decayed_interest_hl30d": 0,
        "n_blog_page_view_7d": 0,
        "days_since_last_careers_page_view": 0,
        "n_events_total": 1,
        "active_days_30d": 1,
        "velocity_7d_vs_prior_23d": 1,
        "intent_after_interest": 1,
        "n_intent_types": 1,
        "days_since_last_event": -1,
        "days_since_last_intent": -1,
        "days_since_first_event": 0,
        "days_first_interest_to_first_intent": 0,
        "days_since_created": 0,
        "email_click_rate": 0,
        "industry": 0,
    }
    assert monotone_constraints(list(expected)) == list(expected.values())
    intent_counts = [f for f in CATALOGUE if f.kind == "count" and f.event in INTENT_EVENTS]
    assert len(intent_counts) == 4 * len(INTENT_EVENTS)
    assert set(monotone_constraints([f.name for f in intent_counts])) == {1}


WRITER = ReasonWriter(BEHAVIOUR_FEATURES, AttributeTransform(specs=()))


@pytest.mark.parametrize("feature", CATALOGUE, ids=lambda f: f.name)
def test_every_entry_phrases_a_reason_from_its_data(feature: BehaviourFeature):
    texts = [WRITER.text(feature.name, v) for v in (math.nan, 0.0, 2.0)]
    assert all(t and "{" not in t for t in texts)
    if feature.kind == "count" and feature.event:
        period = f"in the last {feature.window_days:g} days" if feature.window_days else "in total"
        assert texts[2].endswith(f"twice {period}")
    if feature.kind == "decayed":
        assert f"half-life {feature.half_life_days:g} days" in texts[2]


def test_one_reason_per_event_type_and_one_driver_per_event_type():
    contributions = np.zeros(len(BEHAVIOUR_FEATURES))
    demo = [f.name for f in CATALOGUE if f.event == "demo_request"]
    for name in demo:
        contributions[BEHAVIOUR_FEATURES.index(name)] = 0.1
    reasons = WRITER.reasons(contributions, [1.0] * len(BEHAVIOUR_FEATURES))
    assert len(reasons) == 1
    assert reasons[0].contribution == pytest.approx(0.1 * len(demo))
    frame = pd.DataFrame([contributions], columns=list(BEHAVIOUR_FEATURES))
    assert driver_contributions(frame)["demo_request"].item() == pytest.approx(0.1 * len(demo))


def test_readers_go_by_the_catalogue_not_by_the_look_of_a_name():
    # A CRM export's own column that merely looks like a behaviour feature is no behaviour
    # feature: no event driver, no constraint, no recency-weighted label.
    lookalikes = ["n_demo_request_count", "days_since_last_demo_request_call", "decayed_fit_hl3d"]
    assert [driver_of(n) for n in lookalikes] == lookalikes
    assert monotone_constraints(lookalikes) == [0, 0, 0]
    assert driver_label("decayed_fit_hl3d") == "decayed fit hl3d"
    assert driver_label("decayed_intent_hl30d") == (
        "intent actions, recency-weighted (30-day half-life)"
    )
    spec = AttributeSpec(name="n_demo_request_count", source="n_demo_request_count", kind="numeric")
    writer = ReasonWriter(["n_demo_request_count"], AttributeTransform(specs=(spec,)))
    assert writer.text("n_demo_request_count", 4.0) == "N demo request count: 4"
