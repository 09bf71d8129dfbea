"""Pieces every route module shares: the JSON response class, request bodies described in
OpenAPI by reference, and the documented error answers."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from serving.schemas import ErrorBody, ValidationErrorBody

_ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


class JSON(JSONResponse):
    """JSON written by orjson (datetimes as ...Z, dataclasses and dicts as they are).

    A `JSONResponse`, so the OpenAPI document describes each route's answer by its response
    model (FastAPI writes `{"type": "string"}` for other response classes)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_ORJSON_OPTIONS)


def request_body(schema_name: str, required: bool = True) -> dict:
    """An OpenAPI request body pointing at a component schema (added by `serving.app`)."""
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    content = {"application/json": {"schema": ref}}
    return {"requestBody": {"required": required, "content": content}}


UNAVAILABLE = {503: {"model": ErrorBody, "description": "No model loaded (reason given)."}}
KEYED = {401: {"model": ErrorBody, "description": "Missing or invalid API key."}}
ADMIN = {403: {"model": ErrorBody, "description": "Not an admin key."}}
INVALID_PARAMETER = {
    422: {"model": ValidationErrorBody, "description": "Invalid path or query parameter."}
}
BODY_ERRORS = {
    413: {"model": ErrorBody, "description": "Request body too large."},
    415: {"model": ErrorBody, "description": "The body is not sent as application/json."},
    422: {
        "model": ValidationErrorBody,
        "description": "Invalid request; each error names its field. This includes fields "
        "the loaded model requires (the body schema marks them: `created_at` for models "
        "that read the journey), duplicate keys, and timestamps that are not ISO 8601 "
        "strings with a date of years 0002-9998 (the body schema's pattern) and a time.",
    },
}
