"""The journey routes: send events, upsert a lead, read it, score it by id, erase it.

Thin: bodies are read as in `serving.app` (key first, then the body; a bad event reported by
its index), and every decision is the `JourneyService`'s. Store calls run on worker threads,
so a slow database never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, Path, Request, Response

from runtime.leads import MAX_NAME_LENGTH
from serving.bodies import json_body, parse_events, parse_model
from serving.http import (
    ADMIN,
    BODY_ERRORS,
    INVALID_PARAMETER,
    JSON,
    KEYED,
    UNAVAILABLE,
    request_body,
)
from serving.journey_schemas import (
    ErasureResponse,
    EventsResponse,
    LeadScoreRequest,
    LeadScoreResponse,
    LeadUpsert,
    StoredLeadResponse,
)
from serving.journeys import JourneyService, NotScorable, StoreUnavailable, UnknownLead
from serving.metrics import ServiceMetrics
from serving.rescoring import Backlogged, RescoringQueue
from serving.schemas import ErrorBody

LeadId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="Your id of the lead (URL-encoded; ids containing '/' cannot be used).",
        examples=["00Q5e00000AbCdE"],
    ),
]


def add_journey_routes(
    app: FastAPI,
    service: JourneyService,
    rescoring: RescoringQueue,
    metrics: ServiceMetrics,
    keys: tuple[Callable, Callable],
    limits: dict[str, int],
) -> None:
    """Add the journey routes to `app` (`keys`: the API-key and admin-key dependencies)."""
    api_key, admin_key = keys
    store_down = {503: {"model": ErrorBody, "description": "The journey store is off or down."}}
    unknown = {404: {"model": ErrorBody, "description": "Nothing is stored for this lead id."}}

    @app.post(
        "/v1/events",
        response_model=EventsResponse,
        dependencies=[Depends(api_key)],
        responses=KEYED
        | BODY_ERRORS
        | {
            503: {
                "model": ErrorBody,
                "description": "The journey store is down, or rescoring is behind (with "
                "Retry-After): nothing of the call was stored.",
            }
        },
        openapi_extra=request_body("EventsRequest"),
        summary="Send events",
    )
    async def send_events(request: Request) -> Response:
        """Store a batch of events of any leads, in any order. Every valid event is stored
        (once per `event_id` and lead: repeated deliveries are safe); an invalid one is
        reported by its index under `failed` and not stored, without failing the others.
        Leads that got new events are rescored in the background: GET /v1/leads/{lead_id}
        shows the fresh score seconds later."""
        valid, failed = parse_events(await json_body(request), limits)
        now = datetime.now(UTC)
        service.require_store()  # 503 before waiting for room, if the store is down
        touched = list(dict.fromkeys(event["lead_id"] for _, event in valid))
        rescore = service.scorer.served is not None
        if rescore:
            await rescoring.make_room(touched)
        stored = await anyio.to_thread.run_sync(
            service.add_events, [event for _, event in valid], now
        )
        new_leads = list(
            dict.fromkeys(e["lead_id"] for (_, e), new in zip(valid, stored, strict=True) if new)
        )
        if rescore:
            await rescoring.add(new_leads)
        metrics.events.labels("stored").inc(sum(stored))
        metrics.events.labels("duplicate").inc(len(stored) - sum(stored))
        metrics.events.labels("failed").inc(len(failed))
        answer = {
            "received": len(valid) + len(failed),
            "stored": sum(stored),
            "duplicates": [i for (i, _), new in zip(valid, stored, strict=True) if not new],
            "failed": [
                {"index": i, "errors": [e.model_dump() for e in errors]}
                for i, errors in sorted(failed.items())
            ],
            "leads_to_rescore": len(new_leads) if rescore else 0,
        }
        return JSON(answer)

    @app.put(
        "/v1/leads/{lead_id}",
        response_model=StoredLeadResponse,
        dependencies=[Depends(api_key)],
        responses=KEYED
        | BODY_ERRORS
        | store_down
        | {201: {"model": StoredLeadResponse, "description": "The lead was created."}},
        openapi_extra=request_body("LeadUpsert"),
        summary="Create or update a lead",
    )
    async def upsert_lead(lead_id: LeadId, request: Request) -> Response:
        """Store the lead's `created_at` and attributes (merged by name into what is
        stored); answers what is stored now. 201 when the lead was new, else 200."""
        update = parse_model(LeadUpsert, await json_body(request))
        created = await anyio.to_thread.run_sync(service.upsert, lead_id, update)
        stored = await anyio.to_thread.run_sync(service.describe, lead_id)
        return JSON(stored, status_code=201 if created else 200)

    @app.get(
        "/v1/leads/{lead_id}",
        response_model=StoredLeadResponse,
        dependencies=[Depends(api_key)],
        responses=KEYED | INVALID_PARAMETER | unknown | store_down,
        summary="A stored lead and its scores",
    )
    async def get_lead(lead_id: LeadId) -> Response:
        """The stored record, the journey's extent, the latest score, history and trend."""
        return JSON(await anyio.to_thread.run_sync(service.describe, lead_id))

    @app.post(
        "/v1/leads/{lead_id}/score",
        response_model=LeadScoreResponse,
        dependencies=[Depends(api_key)],
        responses=KEYED
        | BODY_ERRORS
        | unknown
        | UNAVAILABLE
        | {
            409: {
                "model": ErrorBody,
                "description": "The stored lead lacks what the model needs (created_at).",
            }
        },
        openapi_extra=request_body("LeadScoreRequest", required=False),
        summary="Score a stored lead",
    )
    async def score_lead(lead_id: LeadId, request: Request) -> Response:
        """Score the lead from its stored journey and attributes (the body may override
        attributes, created_at and as_of), as POST /v1/score would with the same data, plus
        its score history and trend. Recorded in the history unless `as_of` is sent."""
        raw = await request.body()
        overrides = parse_model(LeadScoreRequest, await json_body(request)) if raw else None
        answer = await anyio.to_thread.run_sync(
            service.score, lead_id, overrides or LeadScoreRequest(), datetime.now(UTC)
        )
        metrics.count_tiers([answer])
        return JSON(answer)

    @app.delete(
        "/v1/leads/{lead_id}",
        response_model=ErasureResponse,
        dependencies=[Depends(admin_key)],
        responses=KEYED | INVALID_PARAMETER | store_down | ADMIN,
        summary="Erase a lead",
    )
    async def erase_lead(lead_id: LeadId) -> Response:
        """Erase the lead, its events and its score history (a data-protection request),
        answered with what was removed. Erasing an unknown lead removes nothing (200)."""
        erased = await anyio.to_thread.run_sync(service.erase, lead_id)
        return JSON(vars(erased))

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
        return JSON({"detail": str(exc)}, status_code=503)

    @app.exception_handler(Backlogged)
    async def backlogged(request: Request, exc: Backlogged) -> Response:
        return JSON({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(UnknownLead)
    async def unknown_lead(request: Request, exc: UnknownLead) -> Response:
        lead_id = exc.args[0]
        detail = (
            f"nothing is stored for lead {lead_id!r}: PUT /v1/leads/{lead_id} or send its "
            "events to POST /v1/events first"
        )
        return JSON({"detail": detail}, status_code=404)

    @app.exception_handler(NotScorable)
    async def not_scorable(request: Request, exc: NotScorable) -> Response:
        return JSON({"detail": str(exc)}, status_code=409)
