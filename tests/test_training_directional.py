"""Behaviour of the trained model: more intent never lowers a lead's probability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from features.contract.schema import AS_OF, CREATED_AT, EVENT_TYPES, LEAD_ID, EventType
from runtime.leads import LeadIn
from tests import training_data
from training.split import time_split


def journeys_of_test_leads(n: int = 300):
    """(lead attributes, events before the cut-off, cut-off) of test-slice rows."""
    data, built, config = (
        training_data.contract(),
        training_data.training_set(),
        training_data.config(),
    )
    split = time_split(built.frame, config.split, config.training_set.horizon_days)
    rows = built.frame.iloc[split.test].sample(n, random_state=0)
    leads = data.leads.set_index(LEAD_ID, drop=False)
    journeys = data.journeys
    for lead_id, as_of in zip(rows[LEAD_ID], rows[AS_OF], strict=True):
        j = journeys.index_of([lead_id])[0]
        span = slice(journeys.offsets[j], journeys.offsets[j + 1])
        events = [
            {"event_type": EVENT_TYPES[c], "occurred_at": datetime.fromtimestamp(t, UTC)}
            for t, c in zip(journeys.times[span], journeys.codes[span], strict=True)
            if t < as_of.timestamp()
        ]
        yield leads.loc[lead_id].to_dict(), events, as_of.to_pydatetime()


def _probability(model, lead: dict, events: list[dict], as_of: datetime) -> float:
    """The probability the service would answer for this lead (its lead-record path)."""
    record = LeadIn(
        created_at=lead[CREATED_AT],
        # As JSON would carry them: numpy numbers as Python ones, missing values as null.
        attributes={
            k: None if pd.isna(v) else getattr(v, "item", lambda v=v: v)()
            for k, v in lead.items()
            if k not in (LEAD_ID, CREATED_AT)
        },
        events=events,
    )
    return float(model.predict_leads([record], [as_of], None).probability[0])


@pytest.mark.parametrize(
    ("added", "extra"),
    [
        ("a demo request an hour ago", [(timedelta(hours=1), EventType.DEMO_REQUEST)]),
        (
            "three pricing-page visits this week",
            [(timedelta(days=d), EventType.PRICING_PAGE_VIEW) for d in (0.2, 2.5, 5.0)],
        ),
    ],
)
def test_more_recent_intent_never_lowers_the_probability(added, extra):
    model = training_data.trained().model
    before, after = [], []
    for lead, events, as_of in journeys_of_test_leads():
        more = events + [
            {"event_type": kind.value, "occurred_at": as_of - ago} for ago, kind in extra
        ]
        before.append(_probability(model, lead, events, as_of))
        after.append(_probability(model, lead, more, as_of))
    before, after = np.array(before), np.array(after)
    lowered = np.flatnonzero(after < before - 1e-12)
    assert lowered.size == 0, f"{added} lowered {lowered.size} leads, e.g. {before[lowered[:3]]}"
    assert np.mean(after > before) > 0.5, f"{added} should raise most leads' probability"
