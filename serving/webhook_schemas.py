"""Request and response bodies of the webhook routes, and the payload receivers get.

Stable within `/v1`: fields may be added, never renamed or removed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from serving.schemas import ModelRef, Reason
from serving.webhooks.transitions import TRANSITION_PATTERN, parse_transition

_EXAMPLE_URL = "https://hooks.example.com/leadscore"


class WebhookIn(BaseModel):
    """A subscription: where to send which tier changes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": _EXAMPLE_URL, "transitions": ["* -> sql", "nurture -> mql"]}]
        },
    )

    url: str = Field(
        min_length=1,
        max_length=2000,
        # Documented, checked by `check_target` (which says what is wrong, as a pattern
        # error would not).
        json_schema_extra={"pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\s]+([/?#]\S*)?$"},
        description="http(s) URL that receives the deliveries (POST, JSON), without "
        "credentials. The service may restrict hosts (LEADSCORE_WEBHOOK_ALLOWED_HOSTS): a "
        "host it does not allow is refused with 422.",
        examples=[_EXAMPLE_URL],
    )
    transitions: list[
        Annotated[str, Field(max_length=100, json_schema_extra={"pattern": TRANSITION_PATTERN})]
    ] = Field(
        min_length=1,
        max_length=50,
        description="Tier changes to send, as FROM -> TO: tier names, * for any tier, and "
        "none as FROM for a lead's first score. A pattern that is no change (mql -> mql) or "
        "goes to none is refused with 422.",
        examples=[["* -> sql", "nurture -> mql"]],
    )
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description="Key of the HMAC-SHA256 signature (at least 16 characters). Without one, "
        "the service makes one and answers it once, in this call's answer only.",
        examples=["whsec-9bX2kQ7vLm3Rt8Zp"],
    )
    description: str | None = Field(
        None, max_length=200, description="What it is for.", examples=["Sales Slack channel"]
    )

    @field_validator("transitions")
    @classmethod
    def _transitions_parse(cls, transitions: list[str]) -> list[str]:
        return [" -> ".join(parse_transition(text)) for text in transitions]


class Webhook(BaseModel):
    """A subscription as stored (its secret is never shown again)."""

    webhook_id: str = Field(description="Its id.", examples=["wh_5f0c2a9e8b1d4e7f"])
    url: str = Field(description="Where deliveries go.", examples=[_EXAMPLE_URL])
    transitions: list[str] = Field(
        description="Tier changes sent.", examples=[["* -> sql", "nurture -> mql"]]
    )
    description: str | None = Field(description="What it is for.", examples=["Sales Slack"])
    created_at: datetime = Field(description="When.", examples=["2025-03-12T10:00:00Z"])


class WebhookCreated(Webhook):
    """A new subscription, with its secret: the only time the secret is shown."""

    secret: str = Field(
        description="Key of the signature: keep it where the receiver can read it.",
        examples=["whsec-9bX2kQ7vLm3Rt8Zp"],
    )


class WebhookList(BaseModel):
    """Every subscription, oldest first."""

    webhooks: list[Webhook] = Field(description="The subscriptions.")


class WebhookRemoved(BaseModel):
    """What removing a subscription removed."""

    webhook_id: str = Field(description="The subscription removed.", examples=["wh_5f0c"])
    deliveries: int = Field(description="Deliveries of its log removed.", examples=[12])


class DeliveryInfo(BaseModel):
    """One delivery and how sending it went."""

    delivery_id: str = Field(
        description="Stable across attempts: receivers de-duplicate on it.",
        examples=["dlv_2b7e151628aed2a6abf7158809cf4f3c"],
    )
    lead_id: str = Field(description="The lead whose tier changed.", examples=["00Q5e00000Ab"])
    status: Literal["pending", "delivered", "parked"] = Field(
        description="pending: waiting for its next attempt; delivered: a 2xx answer; parked: "
        "attempts ran out or the answer cannot change by retrying (redeliver to send again).",
        examples=["delivered"],
    )
    attempts: int = Field(description="Attempts made so far.", examples=[1])
    next_attempt_at: datetime = Field(
        description="When a pending delivery is tried next.", examples=["2025-03-12T10:00:04Z"]
    )
    last_status_code: int | None = Field(
        description="The receiver's last HTTP status (None: no answer).", examples=[200]
    )
    last_error: str | None = Field(
        description="Why the last attempt failed.", examples=["answered 503"]
    )
    created_at: datetime = Field(
        description="When the tier change was recorded.", examples=["2025-03-12T10:00:00Z"]
    )
    finished_at: datetime | None = Field(
        description="When it was delivered or parked.", examples=["2025-03-12T10:00:00.2Z"]
    )
    payload: dict[str, Any] = Field(
        description="The body sent (a TierChangeEvent).", examples=[{"event": "lead.tier_changed"}]
    )


class DeliveryLog(BaseModel):
    """A subscription's newest deliveries, newest first."""

    webhook_id: str = Field(description="The subscription.", examples=["wh_5f0c2a9e8b1d4e7f"])
    deliveries: list[DeliveryInfo] = Field(description="The deliveries.")


class RedeliverRequest(BaseModel):
    """Which parked deliveries to send again."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{}]})

    delivery_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list,
        max_length=1000,
        description="The deliveries; empty: every parked delivery of the subscription.",
        examples=[["dlv_2b7e151628aed2a6abf7158809cf4f3c"]],
    )


class Redelivered(BaseModel):
    """How many parked deliveries were queued again."""

    requeued: int = Field(description="Deliveries queued, from a first attempt.", examples=[3])


class TierChangeEvent(BaseModel):
    """What a receiver gets when a lead crosses a subscribed tier boundary."""

    event: Literal["lead.tier_changed"] = Field(description="The kind of event.")
    delivery_id: str = Field(
        description="Also in the Leadscore-Delivery header; the same on every attempt.",
        examples=["dlv_2b7e151628aed2a6abf7158809cf4f3c"],
    )
    webhook_id: str = Field(description="The subscription.", examples=["wh_5f0c2a9e8b1d4e7f"])
    lead_id: str = Field(description="The lead.", examples=["00Q5e00000AbCdE"])
    previous_tier: str | None = Field(
        description="Its tier before (None: its first score).", examples=["mql"]
    )
    tier: str = Field(description="Its tier now.", examples=["sql"])
    probability: float = Field(description="Calibrated probability.", examples=[0.31])
    score: int = Field(description="0-100 percentile score.", examples=[97])
    fit: int | None = Field(
        None, description="Fit, as in /v1/score (null: the model has none).", examples=[82]
    )
    engagement: int | None = Field(
        None, description="Engagement, as in /v1/score (null: none).", examples=[91]
    )
    grade: str | None = Field(None, description="Grade, as in /v1/score.", examples=["A1"])
    reasons: list[Reason] = Field(description="The strongest reasons, as in /v1/score.")
    model: ModelRef = Field(description="The model that scored it.")
    as_of: datetime = Field(description="Scored as of.", examples=["2025-03-12T10:00:00Z"])
    scored_at: datetime = Field(description="When.", examples=["2025-03-12T10:00:00.02Z"])
    trigger: Literal["request", "ingest", "batch"] = Field(
        description="What rescored it: new events (ingest), a score by id (request) or "
        "`leadscore score --from-store` (batch).",
        examples=["ingest"],
    )
