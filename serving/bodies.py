"""Reading request bodies: JSON only, each key once, types strict, every problem located.

The routes read their bodies here rather than through FastAPI's body parameters, so that the
key is checked before the body is looked at and a batch lead that fails validation is reported
by its index instead of failing the whole batch.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from runtime.leads import LeadIn
from serving.journey_schemas import EventRecord, EventsEnvelope, EventsRequest
from serving.schemas import BatchEnvelope, BatchRequest, FieldError
from serving.scorer import Refused

M = TypeVar("M", bound=BaseModel)
# application/json, and structured suffixes such as application/merge-patch+json.
_JSON_TYPES = ("application/json",)
_JSON_SUFFIX = "+json"


class BodyRefused(Exception):
    """The body cannot be read as a request: `status` 415 (not JSON) or 422 (`errors`)."""

    def __init__(self, status: int, detail: str | list[FieldError]) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


async def json_body(request: Request) -> bytes:
    """The raw body, once it is declared JSON and names no key twice in one object."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in _JSON_TYPES and not media_type.endswith(_JSON_SUFFIX):
        shown = f"'{media_type}'" if media_type else "no Content-Type"
        raise BodyRefused(
            415,
            f"the body must be JSON: send it with `Content-Type: application/json`, not {shown}",
        )
    body = await request.body()
    duplicate = _duplicate_key(body)
    if duplicate is not None:
        raise BodyRefused(
            422,
            [
                FieldError(
                    loc=["body"],
                    msg=f"the key {duplicate!r} appears twice in one JSON object: send each "
                    "key once (which one should count is ambiguous)",
                    type="duplicate_key",
                )
            ],
        )
    return body


def parse_lead(body: bytes, limits: dict[str, int]) -> LeadIn:
    """One lead; raises `BodyRefused` naming the fields at fault."""
    return parse_model(LeadIn, body, limits)


def parse_model(model: type[M], body: bytes, limits: dict[str, int] | None = None) -> M:
    """A body of a route's own model (`limits`: the validation context, e.g. the events a
    lead may carry); raises `BodyRefused` naming the fields at fault."""
    try:
        return model.model_validate_json(body, context=limits)
    except ValidationError as exc:
        raise BodyRefused(422, field_errors(exc, ("body",))) from None


def parse_batch(
    body: bytes, limits: dict[str, int]
) -> tuple[list[LeadIn | Refused], datetime | None]:
    """The leads of a batch (a bad lead as a `Refused` in its place) and the batch's as_of.

    Raises `BodyRefused` only when the batch itself is wrong (not an object, too many leads,
    a bad `as_of`): one bad lead must not fail the others.
    """
    try:
        batch = BatchRequest.model_validate_json(body, context=limits)
        return list(batch.leads), batch.as_of
    except ValidationError as exc:
        errors = field_errors(exc, ("body",))
        if not all(_in_an_item(e, "leads") for e in errors):
            raise BodyRefused(422, errors) from None
    # Only some leads are bad: validate each on its own, keep the good ones.
    try:
        envelope = BatchEnvelope.model_validate_json(body, context=limits)
    except ValidationError as exc:
        raise BodyRefused(422, field_errors(exc, ("body",))) from None
    return [_lead_or_refusal(item, limits) for item in envelope.leads], envelope.as_of


def parse_events(
    body: bytes, limits: dict[str, int]
) -> tuple[list[tuple[int, EventRecord]], dict[int, list[FieldError]]]:
    """The valid events of an ingest call with their indices, and the errors of the others
    by index. Raises `BodyRefused` only when the call itself is wrong (not an object, too
    many events): one bad event must not fail the others."""
    try:
        return list(enumerate(EventsRequest.model_validate_json(body, context=limits).events)), {}
    except ValidationError as exc:
        errors = field_errors(exc, ("body",))
    failed: dict[int, list[FieldError]] = {}
    for error in errors:
        if not _in_an_item(error, "events"):
            raise BodyRefused(422, errors) from None
        failed.setdefault(error.loc[2], []).append(error.model_copy(update={"loc": error.loc[3:]}))
    # Validate the good ones again as JSON (timestamps as strings), all in one compiled call.
    items = EventsEnvelope.model_validate_json(body, context=limits).events
    good = [i for i in range(len(items)) if i not in failed]
    valid = EventsRequest.model_validate_json(
        json.dumps({"events": [items[i] for i in good]}), context=limits
    ).events
    return list(zip(good, valid, strict=True)), failed


def field_errors(exc: ValidationError, prefix: tuple[str | int, ...]) -> list[FieldError]:
    """pydantic's errors as the API's `FieldError`s, located under `prefix`."""
    return [
        FieldError(loc=[*prefix, *e["loc"]], msg=e["msg"], type=e["type"])
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _in_an_item(error: FieldError, items: str) -> bool:
    """An error inside one item of a batch (['body', items, i, ...]), not of the envelope."""
    loc = error.loc
    return len(loc) >= 3 and loc[1] == items and isinstance(loc[2], int)


def _lead_or_refusal(item: Any, limits: dict[str, int]) -> LeadIn | Refused:
    try:
        # Back to JSON text, so the lead is read exactly as in a batch of good leads (JSON
        # rules: timestamps as strings). json, not orjson: it writes integers of any size.
        return LeadIn.model_validate_json(json.dumps(item), context=limits)
    except ValidationError as exc:
        lead_id = item.get("lead_id") if isinstance(item, dict) else None
        return Refused(
            lead_id=lead_id if isinstance(lead_id, str) else None,
            errors=field_errors(exc, ()),
        )


def _duplicate_key(body: bytes) -> str | None:
    """The first key found twice in one object of the JSON `body`, if any.

    Not valid JSON at all: None, and the validation that follows says what is wrong with it.
    """
    found: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs) and not found:
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    found.append(key)
                    break
                seen.add(key)
        return obj

    try:
        json.loads(body, object_pairs_hook=pairs_hook)
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None
