"""Request and response bodies of the journey routes (`/v1/events`, `/v1/leads/...`).

Like the scoring bodies, stable within `/v1`: fields may be added, never renamed or removed.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from typing_extensions import TypedDict

from runtime.leads import (
    EXAMPLE_LEAD,
    MAX_NAME_LENGTH,
    Attributes,
    Timestamp,
    UtcDatetime,
    check_count,
)
from serving.schemas import FieldError, ModelRef, ScoreResponse

# Context key of the ingestion limit (from the settings), as MAX_EVENTS for a lead's journey.
MAX_INGEST = "max_events_per_ingest"
MAX_PROPERTIES = 100

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


def _storable(properties: dict[str, Any]) -> dict[str, Any]:
    """Properties that both databases store as JSON: no NaN or Infinity (JSON has neither)."""
    try:
        json.dumps(properties, allow_nan=False)
    except ValueError:
        raise ValueError(
            "properties may not hold NaN or Infinity: JSON has no such numbers"
        ) from None
    return properties


class EventRecord(TypedDict):
    """One event of one lead, as activity streams send them."""

    # A TypedDict and no Python validators, as the journey's EventIn: batches are large.
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    lead_id: Annotated[Name, Field(description="Your id of the lead.", examples=["00Q5e00000Ab"])]
    event_type: Annotated[
        Name,
        Field(
            description="What happened (the event types of POST /v1/score; any other value is "
            "stored and counted as `other`).",
            examples=["pricing_page_view"],
        ),
    ]
    occurred_at: Annotated[
        Timestamp,
        Field(
            description="When it happened (ISO 8601; without a zone, UTC).",
            examples=["2025-03-09T16:40:00Z"],
        ),
    ]
    event_id: NotRequired[
        Annotated[
            Name | None,
            Field(
                description="Your id of the event: a repeated delivery with the same id for "
                "the same lead is stored once. Events without one are all stored.",
                examples=["evt_01HQ3Z8Y6K"],
            ),
        ]
    ]
    properties: NotRequired[
        Annotated[
            Annotated[dict[Name, Any], AfterValidator(_storable)] | None,
            Field(
                max_length=MAX_PROPERTIES,
                description="Anything else about the event (stored, not scored), e.g. the URL.",
                examples=[{"url": "https://example.com/pricing"}],
            ),
        ]
    ]


EXAMPLE_EVENT = {
    "lead_id": "00Q5e00000AbCdE",
    "event_type": "pricing_page_view",
    "occurred_at": "2025-03-09T16:40:00Z",
    "event_id": "evt_01HQ3Z8Y6K",
}


class EventsRequest(BaseModel):
    """Events of any leads, in any order."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"events": [EXAMPLE_EVENT]}]}
    )

    events: list[EventRecord] = Field(
        description="The events; at most the service's limit per call (default 10,000). An "
        "event that fails validation is reported by its index; the others are stored."
    )

    @field_validator("events")  # after, as LeadIn's events: see there
    @classmethod
    def _at_most_max_ingest(cls, events: object, info: ValidationInfo) -> object:
        check_count(events, info, MAX_INGEST, "events", "per call: split the batch")
        return events


class EventsEnvelope(EventsRequest):
    """`EventsRequest` with events left unvalidated, so that each can fail on its own."""

    events: list[Any]


class FailedEvent(BaseModel):
    """An event that was not stored, and why."""

    index: int = Field(description="Position of the event in the request.", examples=[3])
    errors: list[FieldError] = Field(description="Why; `loc` is relative to the event.")


class EventsResponse(BaseModel):
    """What happened to each event of the call: stored, duplicate or failed."""

    received: int = Field(description="Events in the call.", examples=[1000])
    stored: int = Field(
        description="Events stored now: every index not listed under `duplicates` or `failed`.",
        examples=[997],
    )
    duplicates: list[int] = Field(
        description="Indices of events whose `event_id` was already stored for that lead (or "
        "came earlier in this call): stored once, not again.",
        examples=[[12]],
    )
    failed: list[FailedEvent] = Field(
        description="Events refused by validation, by index; they were not stored. Fix and "
        "send them again (with their event_id, a retry of the whole call is safe)."
    )
    leads_to_rescore: int = Field(
        description="Leads touched by the stored events, queued to be rescored (0 when no "
        "model is loaded).",
        examples=[42],
    )


class LeadUpsert(BaseModel):
    """A lead's record: attributes merge by name into what is stored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "created_at": EXAMPLE_LEAD["created_at"],
                    "attributes": EXAMPLE_LEAD["attributes"],
                }
            ]
        },
    )

    created_at: UtcDatetime | None = Field(
        None,
        description="When the lead was created (ISO 8601; without a zone, UTC). Kept as "
        "stored when absent. Models that read the journey need it to score the lead.",
        examples=["2025-03-01T12:00:00Z"],
    )
    attributes: Attributes = Field(
        default_factory=dict,
        max_length=1000,
        description="Attributes to set, by the column names the model was trained on. Each "
        "replaces the stored value of that name (null stores 'unknown'); names not sent keep "
        "their stored value.",
        examples=[EXAMPLE_LEAD["attributes"]],
    )


class LeadScoreRequest(LeadUpsert):
    """Optional changes to score a stored lead with (nothing is stored from them)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})

    created_at: UtcDatetime | None = Field(
        None,
        description="Use this `created_at` instead of the stored one.",
        examples=["2025-03-01T12:00:00Z"],
    )
    attributes: Attributes = Field(
        default_factory=dict,
        max_length=1000,
        description="Attributes laid over the stored ones for this score only.",
        examples=[{"job_title": "CTO"}],
    )
    as_of: UtcDatetime | None = Field(
        None,
        description="Score as of this time (default: now): only events before it count. A "
        "score as of another time is answered but not recorded in the history.",
        examples=["2025-03-12T10:00:00Z"],
    )


class ScoreEntry(BaseModel):
    """One recorded score of a lead."""

    scored_at: datetime = Field(
        description="When it was scored (UTC).", examples=["2025-03-12T10:00:00.012Z"]
    )
    as_of: datetime = Field(
        description="The time it was scored as of (UTC).", examples=["2025-03-12T10:00:00Z"]
    )
    probability: float = Field(ge=0, le=1, description="Calibrated probability.", examples=[0.183])
    score: int = Field(ge=0, le=100, description="Percentile score.", examples=[94])
    tier: str = Field(description="Tier.", examples=["mql"])
    fit: int | None = Field(
        ge=0, le=100, description="Fit, as in /v1/score (null: the model has none).", examples=[82]
    )
    engagement: int | None = Field(
        ge=0, le=100, description="Engagement, as in /v1/score (null: none).", examples=[91]
    )
    grade: str | None = Field(description="Grade, as in /v1/score.", examples=["A1"])
    model: ModelRef = Field(description="The model that scored it (alias not recorded).")
    trigger: Literal["request", "ingest", "batch"] = Field(
        description="request: POST /v1/leads/{lead_id}/score; ingest: rescored after events "
        "arrived; batch: `leadscore score --from-store`.",
        examples=["ingest"],
    )


class Trend(BaseModel):
    """Where the score is heading, as sales tools show it."""

    direction: Literal["improving", "steady", "declining", "new"] = Field(
        description="improving or declining: the score moved by at least the service's "
        "threshold (default 5 points) since the oldest score of the window; steady: less; "
        "new: no earlier score in the window.",
        examples=["improving"],
    )
    window_days: float = Field(description="The window looked back over.", examples=[7])
    change: int | None = Field(
        description="Score points gained (negative: lost) over the window.", examples=[12]
    )
    since: datetime | None = Field(
        description="When the score compared with was recorded.",
        examples=["2025-03-05T10:00:00Z"],
    )


class LeadScoreResponse(ScoreResponse):
    """The score of a stored lead, with its history and trend."""

    events_read: int = Field(
        description="Stored events before `as_of` that were scored.", examples=[37]
    )
    trend: Trend = Field(description="Where the score is heading.")
    history: list[ScoreEntry] = Field(
        description="The lead's newest recorded scores, newest first (this one included when "
        "it was recorded)."
    )


class EventSummary(BaseModel):
    """The extent of a lead's stored journey."""

    count: int = Field(description="Stored events.", examples=[37])
    first_at: datetime | None = Field(description="The earliest event's time.")
    last_at: datetime | None = Field(description="The latest event's time.")


class StoredLeadResponse(BaseModel):
    """What the store holds about a lead, and its latest scores."""

    lead_id: str = Field(description="Your id of the lead.", examples=["00Q5e00000AbCdE"])
    created_at: datetime | None = Field(description="As stored (UTC).")
    attributes: dict[str, Any] = Field(
        description="As stored.", examples=[EXAMPLE_LEAD["attributes"]]
    )
    updated_at: datetime | None = Field(
        description="When the record was last written (None: only events were sent)."
    )
    events: EventSummary = Field(description="The stored journey's extent.")
    latest: ScoreEntry | None = Field(description="The newest recorded score, if any.")
    trend: Trend = Field(description="Where the score is heading.")
    history: list[ScoreEntry] = Field(description="The newest recorded scores, newest first.")


class ErasureResponse(BaseModel):
    """What erasing a lead removed (zero counts: nothing was stored)."""

    lead_id: str = Field(description="The lead erased.", examples=["00Q5e00000AbCdE"])
    leads: int = Field(description="Lead records removed (0 or 1).", examples=[1])
    events: int = Field(description="Events removed.", examples=[37])
    scores: int = Field(description="Score history entries removed.", examples=[12])
    deliveries: int = Field(
        description="Webhook deliveries about the lead removed (their log included).",
        examples=[2],
    )
