"""The lead record: what a caller sends to be scored (attributes, journey, as-of time).

The HTTP API, batch callers and the MLflow pyfunc all take this one shape, validated by the
same models, so a lead answers the same wherever it is sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema
from typing_extensions import TypedDict

from features.contract.schema import EVENT_TYPES
from runtime.model import Reasons, ScoringModel

# Context keys of the limits that validation reads (they come from the settings).
MAX_EVENTS = "max_events_per_lead"
MAX_LEADS = "max_leads_per_batch"


# Lengths of the strings a lead may carry: ids and names, and attribute values (a job title,
# a landing page URL); longer ones are refused, not truncated.
MAX_NAME_LENGTH = 200
MAX_VALUE_LENGTH = 2000
_ATTRIBUTE_KINDS = "a string, true/false, a finite number or null"


def as_utc(value: datetime) -> datetime:
    """A timestamp without a zone is UTC; one with a zone is converted to UTC.

    Raises ValueError (a validation error, not a crash) for an instant that is a valid local
    time but falls outside years 1-9999 in UTC, such as 9999-12-31T23:30:00-01:00.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is out of range: in UTC it falls outside years 1-9999"
        ) from None


def _one_error_per_attribute(value: object, handler: ValidatorFunctionWrapHandler) -> object:
    """Validate the attributes; a bad value gets one error naming its key and what is allowed,
    not one per member of the value's union type."""
    try:
        return handler(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] in ("dict_type", "too_long") or len(error["loc"]) < 2:
            raise
        key = _shorten(repr(error["loc"][0]))
        if error["loc"][1] == "[key]":
            raise PydanticCustomError(
                "attribute_name", "attribute name {key}: {msg}", {"key": key, "msg": error["msg"]}
            ) from None
        raise PydanticCustomError(
            "attribute_value",
            "attribute {key} should be {kinds} (strings of at most {limit} characters)",
            {"key": key, "kinds": _ATTRIBUTE_KINDS, "limit": f"{MAX_VALUE_LENGTH:,}"},
        ) from None


class IsoTimestamp:
    """A timestamp that JSON must send as an ISO 8601 string with a date and a time.

    pydantic alone would also read JSON numbers, and strings of digits such as "0", as seconds
    since 1970. The check is a pattern on the string followed by pydantic's datetime parser,
    both compiled (no Python call per event). Python callers (the MLflow pyfunc's frames) may
    pass datetimes and strings as pydantic reads them.
    """

    # Years 0002-9998 only: an instant of year 1 or 9999 may fall outside Python's calendar
    # once converted to UTC (0001-01-01T00:30+01:00), and the OpenAPI document, which cannot
    # say "in UTC", carries this same pattern, so the schema and the validation agree.
    PATTERN = (
        r"^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]"
        r"|999[0-8])-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}"
    )
    _ISO_STRING = core_schema.custom_error_schema(
        core_schema.str_schema(pattern=PATTERN),
        custom_error_type="timestamp_format",
        custom_error_message="should be an ISO 8601 string with a date (years 0002-9998) and "
        "a time, e.g. 2025-03-10T08:05:00Z (not a number)",
    )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.json_or_python_schema(
            json_schema=core_schema.chain_schema([cls._ISO_STRING, core_schema.datetime_schema()]),
            python_schema=core_schema.datetime_schema(),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "format": "date-time", "pattern": cls.PATTERN}


Timestamp = Annotated[datetime, IsoTimestamp]
UtcDatetime = Annotated[datetime, IsoTimestamp, AfterValidator(as_utc)]
# Strict bool and float: a string is never read as a number ("000...0" of any length would
# otherwise slip past the string length limit as 0.0), nor as true/false.
AttributeValue = (
    Annotated[str, Field(max_length=MAX_VALUE_LENGTH)]
    | Annotated[bool, Field(strict=True)]
    | Annotated[float, Field(strict=True, allow_inf_nan=False)]
    | None
)
Attributes = Annotated[
    dict[Annotated[str, Field(max_length=MAX_NAME_LENGTH)], AttributeValue],
    WrapValidator(_one_error_per_attribute),
]

EXAMPLE_EVENTS = [
    {"event_type": "blog_page_view", "occurred_at": "2025-03-02T09:15:00Z"},
    {"event_type": "pricing_page_view", "occurred_at": "2025-03-09T16:40:00Z"},
    {"event_type": "demo_request", "occurred_at": "2025-03-10T08:05:00Z"},
]
EXAMPLE_LEAD = {
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
    "events": EXAMPLE_EVENTS,
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
            max_length=MAX_NAME_LENGTH,
            description="What happened: one of " + ", ".join(EVENT_TYPES) + ". Any other value "
            "is accepted, counted as `other`, and reported in `warnings`.",
            examples=["demo_request"],
        ),
    ]
    occurred_at: Annotated[
        Timestamp,
        Field(
            description="When it happened (ISO 8601). Without a zone it is read as UTC.",
            examples=["2025-03-10T08:05:00Z"],
        ),
    ]


class LeadIn(BaseModel):
    """A lead to score: who it is (attributes) and what it did (events)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_LEAD]})

    lead_id: str | None = Field(
        None,
        max_length=MAX_NAME_LENGTH,
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
    attributes: Attributes = Field(
        default_factory=dict,
        max_length=1000,
        description="Lead attributes by the column names the model was trained on, e.g. "
        "job_title, industry, employee_count, annual_revenue, country, email or email_domain, "
        "lead_source. Columns the model does not use are ignored; ones it uses but are absent "
        "count as missing and are named in `warnings`.",
        examples=[EXAMPLE_LEAD["attributes"]],
    )
    events: list[EventIn] = Field(
        default_factory=list,
        description="The lead's journey, in any order. Only events strictly before `as_of` "
        "count; the number allowed per lead is a service setting (default 5,000).",
        examples=[EXAMPLE_EVENTS],
    )
    as_of: UtcDatetime | None = Field(
        None,
        description="Score the lead as of this time (default: now). For backfills and audits.",
        examples=["2025-03-12T10:00:00Z"],
    )

    # After validation, not before: a "before" validator hands the inner fields Python values,
    # and strict JSON validation would then refuse timestamp strings. The body size limit
    # bounds the work spent on an oversized journey.
    @field_validator("events")
    @classmethod
    def _at_most_max_events(cls, events: object, info: ValidationInfo) -> object:
        check_count(events, info, MAX_EVENTS, "events", "per lead: send the most recent ones")
        return events


def check_count(items: object, info: ValidationInfo, key: str, what: str, advice: str) -> None:
    limit = (info.context or {}).get(key)
    if limit is not None and isinstance(items, list) and len(items) > limit:
        raise ValueError(f"{len(items):,} {what}, more than the {limit:,} allowed {advice}")


def read_records(records: pd.DataFrame | Sequence[Mapping[str, Any]]) -> list[LeadIn]:
    """Lead records as the HTTP API takes them, from a frame (one row per lead, e.g. what
    `mlflow models serve` makes of `dataframe_records`) or a list of mappings.

    A bad record raises `ValueError` naming its index and field.
    """
    rows = records.to_dict("records") if isinstance(records, pd.DataFrame) else list(records)
    leads = []
    for i, row in enumerate(rows):
        # A frame fills fields that other rows have with NaN or None: they were not sent.
        sent = {k: v for k, v in row.items() if not (v is None or _is_nan(v))}
        try:
            leads.append(LeadIn.model_validate(sent))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"lead {i}: {where}: {first['msg']}") from exc
    return leads


def predict_records(
    model: ScoringModel,
    records: pd.DataFrame | Sequence[Mapping[str, Any]],
    now: datetime | None = None,
    reasons: Reasons | None = None,
) -> pd.DataFrame:
    """lead_id, probability, score, tier, fit, engagement, grade and reasons of lead records,
    as the service answers them (a lead without `as_of` is scored as of `now`; fit,
    engagement and grade are None where the service answers null)."""
    leads = read_records(records)
    now = now or datetime.now(UTC)
    prediction = model.predict_leads(leads, [lead.as_of or now for lead in leads], reasons)
    return pd.DataFrame(
        {
            "lead_id": [lead.lead_id for lead in leads],
            "probability": prediction.probability,
            "score": prediction.score.astype(int),
            "tier": prediction.tier.astype(str),
            **prediction.subscore_columns(),
            "reasons": [
                [vars(reason) for reason in row]
                for row in prediction.reasons or [[] for _ in leads]
            ],
        }
    )


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[: limit - 3]}..."
