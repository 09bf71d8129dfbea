"""Stored leads as the model takes them: the one place that turns the store's rows into
`LeadIn` records, for scoring by id, rescoring on ingest and `leadscore score --from-store`.

The records are the same shape the stateless endpoint validates, so a journey scored from the
store and the same journey sent to POST /v1/score give the same features.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtime.leads import LeadIn
from serving.store.store import JourneyStore


@dataclass(frozen=True)
class StoredInput:
    """A stored lead ready to score, and how many of its older events were left out."""

    lead: LeadIn
    left_out: int
    # A record, or events before as_of (a lead with only later events looks unknown here).
    known: bool

    @property
    def warnings(self) -> list[str]:
        """What the answer should say about reading it from the store."""
        if not self.left_out:
            return []
        n = self.left_out
        return [
            f"{n:,} older stored event{'s' if n > 1 else ''} not read: the journey is longer "
            "than the service's per-lead event limit (LEADSCORE_MAX_EVENTS_PER_LEAD), so its "
            "newest events are scored"
        ]


def stored_inputs(
    store: JourneyStore,
    lead_ids: Sequence[str],
    as_of: datetime,
    max_events: int,
    overrides: Mapping[str, Any] | None = None,
) -> list[StoredInput]:
    """The leads (which must be stored) as of `as_of`: their record's `created_at` and
    attributes, with `overrides` (`created_at`, `attributes` of a request) laid over them, and
    their newest `max_events` events before `as_of`."""
    overrides = overrides or {}
    records, journeys = store.leads_as_of(lead_ids, as_of, max_events)
    out = []
    for lead_id, journey in zip(lead_ids, journeys, strict=True):
        created_at, attributes = records.get(lead_id, (None, {}))
        # Validated when they were stored (and the overrides by the request): construct only.
        lead = LeadIn.model_construct(
            lead_id=lead_id,
            created_at=overrides.get("created_at") or created_at,
            attributes={**attributes, **overrides.get("attributes", {})},
            events=journey.events,
            as_of=as_of,
        )
        known = lead_id in records or bool(journey.events)
        out.append(StoredInput(lead, journey.left_out, known))
    return out
