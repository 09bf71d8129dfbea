"""Request and response bodies of the `/v1` API: every field described, with examples.

Responses are stable within `/v1`: fields may be added, never renamed or removed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from typing_extensions import TypedDict

from features.contract.schema import EVENT_TYPES

# Context keys of the limits that validation reads (they come from the settings).
MAX_EVENTS = "max_events_per_lead"
MAX_LEADS = "max_leads_per_batch"


def as_utc(value: datetime) -> datetime:
    """A timestamp without a zone is UTC; one with a zone is converted to UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
AttributeValue = str | bool | float | None

_EXAMPLE_EVENTS = [
    {"event_type": "blog_page_view", "occurred_at": "2025-03-02T09:15:00Z"},
    {"event_type": "pricing_page_view", "occurred_at": "2025-03-09T16:40:00Z"},
    {"event_type": "demo_request", "occurred_at": "2025-03-10T08:05:00Z"},
]
_EXAMPLE_LEAD = {
    "lead_id": "00Q5e00000AbCdE",
    "created_at": "2025-03-01T12:00:00Z",
    "attributes": {
        "job_title": "VP Marketing",
        "industry": "Software",
        "employee_count": 250,
        "country": "DE",
        "email": "ana@acme.io",
        "lead_source": "Webinar",
    },
    "events": _EXAMPLE_EVENTS,
    "as_of": "2025-03-12T10:00:00Z",
}


class EventIn(TypedDict):
    """One step of the lead's journey."""

    # A TypedDict, not a model, and no Python validator on the timestamp: a batch carries tens
    # of thousands of events, and model instances and per-value Python calls would cost most
    # of its time. A timestamp without a zone is made UTC where it is used (`as_utc`).
    __pydantic_config__ = ConfigDict(extra="ignore")  # type: ignore[misc]

    event_type: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            description="What happened: one of " + ", ".join(EVENT_TYPES) + ". Any other value "
            "is accepted, counted as `other`, and reported in `warnings`.",
            examples=["demo_request"],
        ),
    ]
    occurred_at: Annotated[
        datetime,
        Field(
            description="When it happened (ISO 8601). Without a zone it is read as UTC.",
            examples=["2025-03-10T08:05:00Z"],
        ),
    ]


class LeadIn(BaseModel):
    """A lead to score: who it is (attributes) and what it did (events)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE_LEAD]})

    lead_id: str | None = Field(
        None,
        max_length=200,
        description="Your id of the lead; echoed in the answer.",
        examples=["00Q5e00000AbCdE"],
    )
    created_at: UtcDatetime | None = Field(
        None,
        description="When the lead was created (ISO 8601; without a zone, UTC). Required by "
        "models that read the journey (time since creation is one of their features); "
        "models trained on a one-row-per-lead export do without it.",
        examples=["2025-03-01T12:00:00Z"],
    )
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict,
        max_length=1000,
        description="Lead attributes by the column names the model was trained on, e.g. "
        "job_title, industry, employee_count, annual_revenue, country, email or email_domain, "
        "lead_source. Columns the model does not use are ignored; ones it uses but are absent "
        "count as missing and are named in `warnings`.",
        examples=[_EXAMPLE_LEAD["attributes"]],
    )
    events: list[EventIn] = Field(
        default_factory=list,
        description="The lead's journey, in any order. Only events strictly before `as_of` "
        "count; the number allowed per lead is a service setting (default 5,000).",
        examples=[_EXAMPLE_EVENTS],
    )
    as_of: UtcDatetime | None = Field(
        None,
        description="Score the lead as of this time (default: now). For backfills and audits.",
        examples=["2025-03-12T10:00:00Z"],
    )

    @field_validator("events", mode="before")
    @classmethod
    def _at_most_max_events(cls, events: object, info: ValidationInfo) -> object:
        # Before validation: an oversized journey is refused without parsing every event.
        _check_count(events, info, MAX_EVENTS, "events", "per lead: send the most recent ones")
        return events


class BatchRequest(BaseModel):
    """Many leads in one call; each is scored (or refused) on its own."""

    model_config = ConfigDict(extra="forbid")

    leads: list[LeadIn] = Field(
        description="The leads, answered in the same order; at most the service's limit "
        "(default 1,000). A lead that fails validation is reported by its index without "
        "failing the others.",
        examples=[[_EXAMPLE_LEAD]],
    )
    as_of: UtcDatetime | None = Field(
        None,
        description="Default `as_of` of leads without their own (default: now).",
        examples=["2025-03-12T10:00:00Z"],
    )

    @field_validator("leads", mode="before")
    @classmethod
    def _at_most_max_leads(cls, leads: object, info: ValidationInfo) -> object:
        _check_count(leads, info, MAX_LEADS, "leads", "per batch: split it")
        return leads


class BatchEnvelope(BatchRequest):
    """`BatchRequest` with leads left unvalidated, so that each can fail on its own."""

    leads: list[Any]


def _check_count(items: object, info: ValidationInfo, key: str, what: str, advice: str) -> None:
    limit = (info.context or {}).get(key)
    if limit is not None and isinstance(items, list) and len(items) > limit:
        raise ValueError(f"{len(items):,} {what}, more than the {limit:,} allowed {advice}")


class Reason(BaseModel):
    """Why the score is what it is, in words a sales rep can act on."""

    feature: str = Field(
        description="The model feature behind the text (the strongest of its group).",
        examples=["days_since_last_demo_request"],
    )
    direction: Literal["positive", "negative"] = Field(
        description="positive: raises the score; negative: lowers it.", examples=["positive"]
    )
    text: str = Field(
        description="The lead's value in plain words.", examples=["Requested a demo 2 days ago"]
    )
    contribution: float = Field(
        description="Effect on the model's log-odds of the feature's whole group (all the "
        "features of one event type, say), before calibration.",
        examples=[1.12],
    )


class ModelRef(BaseModel):
    """Which model answered."""

    name: str = Field(description="Registered model name.", examples=["lead-conversion"])
    version: str | None = Field(
        description="Registry version (None when loaded from a directory or run).",
        examples=["7"],
    )
    alias: str | None = Field(
        description="Registry alias the service follows, if any.", examples=["champion"]
    )


class ScoreResponse(BaseModel):
    """The score of one lead."""

    lead_id: str | None = Field(description="As sent.", examples=["00Q5e00000AbCdE"])
    probability: float = Field(
        ge=0,
        le=1,
        description="Calibrated probability of reaching the model's target milestone "
        "(see GET /v1/model) within its horizon.",
        examples=[0.183],
    )
    score: int = Field(
        ge=0,
        le=100,
        description="The lead's percentile among recent leads the model was calibrated on "
        "(not probability x 100).",
        examples=[94],
    )
    tier: str = Field(
        description="Tier from the model's probability thresholds: sql, mql or nurture.",
        examples=["sql"],
    )
    reasons: list[Reason] = Field(
        description="Strongest reasons raising the score, then those lowering it."
    )
    model: ModelRef = Field(description="The model that answered.")
    as_of: datetime = Field(
        description="The time the lead was scored as of (UTC).", examples=["2025-03-12T10:00:00Z"]
    )
    scored_at: datetime = Field(
        description="When the service answered (UTC).", examples=["2025-03-12T10:00:00.012Z"]
    )
    warnings: list[str] = Field(
        description="Things in the input the service worked around (unknown event types, "
        "missing attributes, events after as_of).",
        examples=[["1 event of unknown type counted as 'other' (e.g. 'trade_show_visit')"]],
    )


class FieldError(BaseModel):
    """One validation problem, located by the path of the field."""

    loc: list[str | int] = Field(
        description="Path of the field, e.g. ['body', 'events', 3, 'occurred_at'].",
        examples=[["body", "events", 3, "occurred_at"]],
    )
    msg: str = Field(
        description="What is wrong.",
        examples=["Input should be a valid datetime or date, invalid character in year"],
    )
    type: str = Field(description="Error kind.", examples=["datetime_from_date_parsing"])


class ScoredLead(ScoreResponse):
    """A lead of a batch that was scored."""

    index: int = Field(description="Position of the lead in the request.", examples=[0])
    status: Literal["scored"] = Field("scored", description="This lead was scored.")


class FailedLead(BaseModel):
    """A lead of a batch that could not be scored; the others are unaffected."""

    index: int = Field(description="Position of the lead in the request.", examples=[3])
    lead_id: str | None = Field(description="As sent, if readable.", examples=["00Q5e00000XyZ"])
    status: Literal["failed"] = Field("failed", description="This lead was not scored.")
    errors: list[FieldError] = Field(
        description="Why; `loc` is relative to the lead, e.g. ['created_at']."
    )


class BatchResponse(BaseModel):
    """The answers to a batch, in request order."""

    model: ModelRef = Field(description="The model that answered.")
    scored: int = Field(description="Leads scored.", examples=[999])
    failed: int = Field(description="Leads refused (see their errors).", examples=[1])
    results: list[Annotated[ScoredLead | FailedLead, Field(discriminator="status")]] = Field(
        description="One per lead, in request order; `status` tells which kind."
    )


_WINDOW = ["2024-11-01T00:00:00Z", "2025-04-30T00:00:00Z"]


class TierInfo(BaseModel):
    """One tier and where it starts."""

    name: str = Field(description="Tier name.", examples=["sql"])
    min_probability: float | None = Field(
        description="Lowest probability in the tier (None for the last tier).", examples=[0.12]
    )


class ReloadState(BaseModel):
    """The last model (re)load."""

    state: Literal["idle", "loading", "loaded", "failed"] = Field(
        description="idle: none yet; loading; loaded: the new model serves; failed: see error.",
        examples=["loaded"],
    )
    started_at: datetime | None = Field(
        None, description="When the load started.", examples=["2025-03-12T10:00:00Z"]
    )
    finished_at: datetime | None = Field(
        None, description="When it finished.", examples=["2025-03-12T10:00:01.5Z"]
    )
    error: str | None = Field(
        None,
        description="Why the last load failed (the old model stays).",
        examples=["loading models:/lead-conversion@champion failed: ..."],
    )


class ModelInfo(BaseModel):
    """The loaded model: what it predicts, from which data, how it measured."""

    model: ModelRef = Field(description="Name, version and alias.")
    uri: str = Field(
        description="Where it was loaded from.", examples=["models:/lead-conversion/7"]
    )
    loaded_at: datetime = Field(
        description="When this service loaded it.", examples=["2025-03-12T09:00:00Z"]
    )
    target: str = Field(description="The milestone predicted.", examples=["closed_won"])
    horizon_days: float = Field(
        description="The probability is of reaching the target within this many days.",
        examples=[90],
    )
    trained_at: datetime = Field(
        description="When it was trained.", examples=["2025-03-01T00:00:00Z"]
    )
    train_window: tuple[datetime, datetime] | None = Field(
        description="Cut-off times of the rows it was fitted on.", examples=[_WINDOW]
    )
    calibration_window: tuple[datetime, datetime] | None = Field(
        description="Cut-off times of the rows its probabilities were calibrated on.",
        examples=[_WINDOW],
    )
    test_window: tuple[datetime, datetime] | None = Field(
        description="Cut-off times of the untouched rows its metrics come from.",
        examples=[_WINDOW],
    )
    tiers: list[TierInfo] = Field(description="Tiers, best first, with their thresholds.")
    tier_policy: dict[str, str] = Field(
        description="The business rule behind each threshold.",
        examples=[{"sql": "top 5% of recent leads", "mql": "next 15%"}],
    )
    metrics: dict[str, float] = Field(
        description="Headline metrics on the untouched test slice.",
        examples=[{"test_roc_auc": 0.83, "test_ece": 0.004}],
    )
    features: list[str] = Field(
        description="The model's features, in order.",
        examples=[["n_demo_request_30d", "days_since_last_demo_request", "seniority"]],
    )
    reasons_method: str = Field(
        description="How reasons are computed: path or shap.", examples=["path"]
    )
    last_reload: ReloadState = Field(description="How the last (re)load went.")


class ReloadResponse(BaseModel):
    """The outcome (or start) of a reload."""

    reload: ReloadState = Field(description="The reload's state.")
    model: ModelRef | None = Field(description="The model serving now.")


class Health(BaseModel):
    """The process answers."""

    status: str = Field(description="Always ok.", examples=["ok"])


class Readiness(BaseModel):
    """Whether the service can score."""

    status: Literal["ready", "not ready"] = Field(
        description="ready once a model is loaded and answered a warm-up lead.",
        examples=["ready"],
    )
    reason: str | None = Field(
        None,
        description="Why not ready.",
        examples=["loading models:/lead-conversion@champion failed: ..."],
    )
    model: ModelRef | None = Field(None, description="The model serving, if any.")


class ErrorBody(BaseModel):
    """An error that is not about a particular field."""

    detail: str = Field(description="What went wrong and what to do.", examples=["invalid API key"])


class ValidationErrorBody(BaseModel):
    """The request did not validate; each problem names its field."""

    detail: list[FieldError] = Field(description="The problems, located by field path.")
