"""Features of the leads of one request: the model's own pipeline pieces (attribute transform,
journey arrays, behaviour kernel) over all leads at once, without pandas.

`FeaturePipeline.one` does the same for a single lead; here a batch of a thousand leads makes
one journey structure and one kernel call instead of a thousand. The parity tests check the
result equals `FeaturePipeline.frame`, training's path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from features.behaviour import behaviour_features
from features.contract.schema import EVENT_CODE, OTHER_CODE, EventType
from features.journeys import Journeys
from features.pipeline import FeaturePipeline
from serving.schemas import LeadIn


@dataclass(frozen=True)
class RequestFeatures:
    """Behaviour rows and attribute values per lead, and what the input needed worked around."""

    behaviour: np.ndarray  # float32 (leads x behaviour features)
    attributes: list[dict[str, float | str | None]]
    late_events: np.ndarray  # per lead: events at or after its as_of (ignored by the kernel)
    unknown_types: list[list[str]]  # per lead: event types read as `other`


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch; a timestamp without a zone is UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def request_features(
    pipeline: FeaturePipeline,
    leads: Sequence[LeadIn],
    as_of: np.ndarray,
    created_at: np.ndarray,
) -> RequestFeatures:
    """Features of each lead as of its cut-off (`as_of`, `created_at`: epoch seconds)."""
    n = len(leads)
    attributes = [pipeline.attributes.one(lead.attributes) for lead in leads]
    events = [event for lead in leads for event in lead.events]
    counts = np.fromiter((len(lead.events) for lead in leads), dtype=np.int64, count=n)
    times = np.fromiter(
        (epoch_seconds(e["occurred_at"]) for e in events), dtype=np.float64, count=len(events)
    )
    codes = np.fromiter(
        (EVENT_CODE.get(e["event_type"], OTHER_CODE) for e in events),
        dtype=np.int8,
        count=len(events),
    )
    lead_index = np.repeat(np.arange(n), counts)
    late = np.bincount(lead_index[times >= as_of[lead_index]], minlength=n)
    unknown: list[list[str]] = [[] for _ in range(n)]
    for i in np.flatnonzero(codes == OTHER_CODE):
        kind = events[i]["event_type"]
        if kind != EventType.OTHER:
            unknown[lead_index[i]].append(kind)
    if pipeline.use_behaviour:
        rows = np.arange(n)
        journeys = Journeys.from_arrays(rows, lead_index, times, codes)
        behaviour = behaviour_features(journeys, rows, as_of, created_at)
    else:
        behaviour = np.zeros((n, 0), dtype=np.float32)
    return RequestFeatures(behaviour, attributes, late, unknown)
