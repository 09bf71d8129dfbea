"""Request and response bodies of the `/v1` API: every field described, with examples.

Responses are stable within `/v1`: fields may be added, never renamed or removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from runtime.leads import (
    EXAMPLE_LEAD,
    MAX_LEADS,
    LeadIn,
    UtcDatetime,
    check_count,
)


class BatchRequest(BaseModel):
    """Many leads in one call; each is scored (or refused) on its own."""

    model_config = ConfigDict(extra="forbid")

    leads: list[LeadIn] = Field(
        description="The leads, answered in the same order; at most the service's limit "
        "(default 1,000). A lead that fails validation is reported by its index without "
        "failing the others.",
        examples=[[EXAMPLE_LEAD]],
    )
    as_of: UtcDatetime | None = Field(
        None,
        description="Default `as_of` of leads without their own (default: now).",
        examples=["2025-03-12T10:00:00Z"],
    )

    @field_validator("leads")  # after, as LeadIn's events: see there
    @classmethod
    def _at_most_max_leads(cls, leads: object, info: ValidationInfo) -> object:
        check_count(leads, info, MAX_LEADS, "leads", "per batch: split it")
        return leads


class BatchEnvelope(BatchRequest):
    """`BatchRequest` with leads left unvalidated, so that each can fail on its own."""

    leads: list[Any]


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
    fit: int | None = Field(
        ge=0,
        le=100,
        description="Is this the kind of company and person you sell to? The model's score "
        "of the lead's attributes alone (its journey replaced by that of a lead without "
        "events), as a percentile among recent leads: events never move it. null for a model "
        "trained before fit existed (retrain to get it).",
        examples=[82],
    )
    engagement: int | None = Field(
        ge=0,
        le=100,
        description="Are they active now? The model's score of the lead's journey alone "
        "(events and time since creation, its attributes read as unknown), as a percentile "
        "among recent leads: attributes never move it. null for a model without journey "
        "features (trained on a one-row-per-lead export) or trained before engagement existed.",
        examples=[91],
    )
    grade: str | None = Field(
        description="fit as a letter (A: 75-100, B: 50-74, C: 25-49, D: 0-24) and "
        "engagement as a digit (1: 75-100, 2: 50-74, 3: 25-49, 4: 0-24): A1 is the best fit "
        "and the most engaged. The letter alone when engagement is null; null when fit is.",
        examples=["A1"],
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
    version: str | None = Field(
        None,
        description="The registry version this load was of (None for a directory or run, or "
        "when the alias could not be resolved).",
        examples=["7"],
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

    status: Literal["ready", "degraded", "not ready"] = Field(
        description="ready: a model is loaded and answered a warm-up lead. degraded (still "
        "200): the last reload failed and the previous model keeps serving; `reason` names the "
        "version that failed and why. not ready (503): no model can answer.",
        examples=["ready"],
    )
    reason: str | None = Field(
        None,
        description="Why degraded or not ready.",
        examples=["loading models:/lead-conversion@champion failed: ..."],
    )
    model: ModelRef | None = Field(None, description="The model serving, if any.")


class ErrorBody(BaseModel):
    """An error that is not about a particular field."""

    detail: str = Field(description="What went wrong and what to do.", examples=["invalid API key"])


class ValidationErrorBody(BaseModel):
    """The request did not validate; each problem names its field."""

    detail: list[FieldError] = Field(description="The problems, located by field path.")
