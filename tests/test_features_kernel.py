"""The behaviour kernel against an obviously-correct slow oracle, online vs offline, time travel.

In the spirit of Feast's historical-retrieval test: the fast path is checked against a plain
per-row loop written from the feature definitions, not from the kernel.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.attributes import AttributeSpec, AttributeTransform
from features.behaviour import BEHAVIOUR_FEATURES, GROUPS, HALF_LIVES_DAYS, WINDOW_DAYS
from features.contract.schema import (
    AS_OF,
    EVENT_TYPES,
    INTENT_EVENTS,
    INTEREST_EVENTS,
    NEGATIVE_EVENTS,
)
from features.journeys import Journeys
from features.pipeline import FeaturePipeline
from runtime.leads import LeadIn

DAY = 86_400
T0 = datetime(2025, 1, 1, tzinfo=UTC)
GROUP_MEMBERS = dict(zip(GROUPS, (INTENT_EVENTS, INTEREST_EVENTS, NEGATIVE_EVENTS), strict=True))


def naive_features(events: list[tuple[float, str]], as_of: float, created: float) -> dict:
    """Every behaviour feature, computed the slow and obvious way."""
    past = [(t, kind) for t, kind in events if t < as_of]
    age = {i: (as_of - t) / DAY for i, (t, _) in enumerate(past)}
    f: dict[str, float] = {}
    for kind in EVENT_TYPES:
        ages = [age[i] for i, (_, k) in enumerate(past) if k == kind]
        for w in WINDOW_DAYS:
            f[f"n_{kind}_{int(w)}d"] = sum(a < w for a in ages)
        f[f"n_{kind}_total"] = len(ages)
        f[f"days_since_last_{kind}"] = min(ages) if ages else math.nan
    for group, members in GROUP_MEMBERS.items():
        ages = [age[i] for i, (_, k) in enumerate(past) if k in members]
        for h in HALF_LIVES_DAYS:
            f[f"decayed_{group}_hl{int(h)}d"] = sum(0.5 ** (a / h) for a in ages)
    ages = list(age.values())
    intent = [t for t, k in past if k in INTENT_EVENTS]
    interest = [t for t, k in past if k in INTEREST_EVENTS]
    opens, clicks = f["n_email_open_total"], f["n_email_click_total"]
    n_7 = sum(a < 7 for a in ages)
    n_prior = sum(7 <= a < 30 for a in ages)
    f |= {
        "days_since_created": (as_of - created) / DAY,
        "n_events_total": len(past),
        "days_since_last_event": min(ages) if ages else math.nan,
        "days_since_first_event": max(ages) if ages else math.nan,
        "active_days_30d": len({math.floor(t / DAY) for t, _ in past if (as_of - t) / DAY < 30}),
        "active_days_total": len({math.floor(t / DAY) for t, _ in past}),
        "velocity_7d_vs_prior_23d": (n_7 + 1) / (n_prior * 7 / 23 + 1),
        "intent_after_interest": float(bool(interest) and any(t > min(interest) for t in intent)),
        "days_first_interest_to_first_intent": (
            (min(intent) - min(interest)) / DAY
            if intent and interest and min(interest) < min(intent)
            else math.nan
        ),
        "email_click_rate": clicks / opens if opens else math.nan,
        "days_since_last_intent": min((as_of - t) / DAY for t in intent) if intent else math.nan,
        "n_intent_types": len({k for _, k in past if k in INTENT_EVENTS}),
    }
    return f


# Times on a coarse grid (hours) so that cut-offs often coincide exactly with events.
event_st = st.tuples(st.integers(0, 200 * 24), st.sampled_from(EVENT_TYPES))
journey_st = st.lists(event_st, max_size=40)


def to_events(journey: list[tuple[int, str]]) -> list[tuple[float, str]]:
    return [(T0.timestamp() + hours * 3600.0, kind) for hours, kind in journey]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    journeys=st.lists(journey_st, min_size=1, max_size=6),
    cutoff_hours=st.lists(st.integers(0, 220 * 24), min_size=1, max_size=4),
)
def test_kernel_matches_naive_loop(journeys, cutoff_hours):
    events = [to_events(j) for j in journeys]
    lead_index = np.concatenate([np.full(len(e), i) for i, e in enumerate(events)]).astype(int)
    flat = [ev for e in events for ev in e]
    encoded = Journeys.from_frame(
        pd.DataFrame(
            {
                "lead_id": [f"L{i}" for i in lead_index],
                "occurred_at": pd.to_datetime([t for t, _ in flat], unit="s", utc=True),
                "event_type": [k for _, k in flat],
            }
        ),
        [f"L{i}" for i in range(len(events))],
    )
    rows = [(i, T0.timestamp() + h * 3600.0) for i in range(len(events)) for h in cutoff_hours]
    from features.behaviour import behaviour_features

    created = T0.timestamp() - 5 * DAY
    matrix = behaviour_features(
        encoded,
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.full(len(rows), created),
    )
    for (lead, as_of), got in zip(rows, matrix, strict=True):
        expected = naive_features(events[lead], as_of, created)
        want = np.array([expected[name] for name in BEHAVIOUR_FEATURES], dtype=np.float64)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4, equal_nan=True)


PIPELINE = FeaturePipeline(
    attributes=AttributeTransform(
        specs=(
            AttributeSpec(name="seniority", source="job_title", kind="seniority"),
            AttributeSpec(name="industry", source="industry", kind="categorical"),
            AttributeSpec(name="employee_count", source="employee_count", kind="numeric"),
            AttributeSpec(name="email_kind", source="email", kind="email_kind"),
        ),
        competitor_domains=frozenset({"rival.io"}),
    )
)
lead_st = st.fixed_dictionaries(
    {
        "job_title": st.sampled_from(["VP Marketing", "Student", "Sr. Engineer", None, "Select"]),
        "industry": st.sampled_from(["Software", "Retail", None, "N/A"]),
        "employee_count": st.one_of(st.none(), st.integers(1, 100_000)),
        "email": st.sampled_from(["a@acme.com", "b@gmail.com", "c@rival.io", None]),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    leads=st.lists(st.tuples(lead_st, journey_st), min_size=1, max_size=5),
    cutoff_hours=st.lists(st.integers(0, 220 * 24), min_size=1, max_size=3),
)
def test_online_equals_offline(leads, cutoff_hours):
    """The service's path (lead records, `FeaturePipeline.leads`) gives exactly the training
    path's features."""
    ids = [f"L{i}" for i in range(len(leads))]
    created = [T0 - timedelta(days=3 + i) for i in range(len(leads))]
    leads_df = pd.DataFrame([a for a, _ in leads]).assign(lead_id=ids, created_at=created)
    events = [to_events(j) for _, j in leads]
    events_df = pd.DataFrame(
        [
            (ids[i], pd.Timestamp(t, unit="s", tz="UTC"), k)
            for i, evs in enumerate(events)
            for t, k in evs
        ],
        columns=["lead_id", "occurred_at", "event_type"],
    )
    rows = pd.DataFrame(
        [(lead_id, T0 + timedelta(hours=h)) for lead_id in ids for h in cutoff_hours],
        columns=["lead_id", AS_OF],
    )
    offline = PIPELINE.frame(leads_df, Journeys.from_frame(events_df, ids), rows)
    # One request with every row, as the service receives a batch: one lead record each.
    positions = [ids.index(lead_id) for lead_id in rows["lead_id"]]
    records = [_record(leads[i][0], events[i]) for i in positions]
    online = PIPELINE.leads(
        records,
        np.array([t.timestamp() for t in rows[AS_OF]]),
        np.array([created[i].timestamp() for i in positions]),
    )
    np.testing.assert_array_equal(
        online.behaviour, offline[list(BEHAVIOUR_FEATURES)].to_numpy(dtype=np.float32)
    )
    for r, attrs in enumerate(online.attributes):
        for name, value in attrs.items():
            other = offline[name].iloc[r]
            assert (value is None and pd.isna(other)) or value == other, name


def _record(attributes: dict, events: list[tuple[float, str]]) -> LeadIn:
    """A lead record as the service receives it."""
    return LeadIn(
        attributes=attributes,
        events=[
            {"event_type": kind, "occurred_at": datetime.fromtimestamp(t, UTC)}
            for t, kind in events
        ],
    )


def _behaviour(events: list[tuple[datetime, str]], as_of: datetime) -> np.ndarray:
    """Behaviour features of one lead created at T0, through the service's path."""
    record = _record({}, [(t.timestamp(), kind) for t, kind in events])
    found = PIPELINE.leads([record], np.array([as_of.timestamp()]), np.array([T0.timestamp()]))
    return found.behaviour[0]


@settings(max_examples=100, deadline=None)
@given(journey=journey_st, future=journey_st, cutoff=st.integers(0, 220 * 24))
def test_no_event_at_or_after_cutoff_changes_any_feature(journey, future, cutoff):
    as_of = T0 + timedelta(hours=cutoff)
    past = [(h, k) for h, k in journey if h < cutoff]
    # Later events, including some exactly at the cut-off.
    later = [(cutoff + h % 500, k) for h, k in future]
    before = _behaviour([(T0 + timedelta(hours=h), k) for h, k in past], as_of)
    after = _behaviour([(T0 + timedelta(hours=h), k) for h, k in past + later], as_of)
    np.testing.assert_array_equal(before, after)


def test_event_exactly_at_cutoff_is_ignored_and_just_before_counts():
    as_of = T0 + timedelta(days=10)
    at = _behaviour([(as_of, "demo_request")], as_of)
    before = _behaviour([(as_of - timedelta(seconds=1), "demo_request")], as_of)
    index = BEHAVIOUR_FEATURES.index("n_demo_request_total")
    assert at[index] == 0
    assert before[index] == 1


def test_unknown_leads_in_events_are_refused_not_dropped(tmp_path):
    events = pd.DataFrame(
        {
            "lead_id": ["a", "ghost"],
            "occurred_at": pd.to_datetime(["2025-01-02", "2025-01-03"], utc=True),
            "event_type": ["blog_page_view", "demo_request"],
        }
    )
    with pytest.raises(
        ValueError, match="1 events belong to leads that are not in the leads table"
    ):
        Journeys.from_frame(events, ["a"])
    events.to_parquet(tmp_path / "events.parquet")
    with pytest.raises(ValueError, match=r"1 events in .* belong to unknown leads"):
        Journeys.from_parquet(tmp_path / "events.parquet", np.array(["a"]))


def test_parquet_and_frame_encodings_agree(tmp_path):
    rng = np.random.default_rng(1)
    n = 500
    events = pd.DataFrame(
        {
            "lead_id": rng.choice(["a", "b", "c"], n),
            "occurred_at": pd.to_datetime(rng.integers(1.7e9, 1.72e9, n), unit="s", utc=True),
            "event_type": rng.choice([*EVENT_TYPES[:5], "something_new"], n),
        }
    )
    events.to_parquet(tmp_path / "events.parquet")
    ids = np.array(["c", "a", "b", "d"])
    a = Journeys.from_frame(events, ids)
    b = Journeys.from_parquet(tmp_path / "events.parquet", ids)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    np.testing.assert_array_equal(a.times, b.times)
    # Same multiset of codes per lead (ties in time may be ordered differently).
    for i in range(len(ids)):
        sl = slice(a.offsets[i], a.offsets[i + 1])
        assert sorted(a.codes[sl]) == sorted(b.codes[sl])
