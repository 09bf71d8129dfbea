"""The HTTP layer: thin FastAPI routes over `Scorer`, auth, limits, metrics and error bodies.

Request bodies are read and validated here rather than by FastAPI's body parameters, for two
reasons: the key is checked before the body is looked at, and a batch lead that fails
validation is reported by its index instead of failing the whole batch. The OpenAPI document
still describes the bodies (see `_openapi`).
"""

from __future__ import annotations

import asyncio
import hmac
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic.json_schema import models_json_schema

from runtime.leads import MAX_EVENTS, MAX_LEADS, LeadIn
from serving.bodies import BodyRefused, json_body, parse_batch, parse_lead
from serving.http import (
    ADMIN,
    BODY_ERRORS,
    INVALID_PARAMETER,
    JSON,
    KEYED,
    UNAVAILABLE,
    request_body,
)
from serving.journey_routes import add_journey_routes
from serving.journey_schemas import MAX_INGEST, EventsRequest, LeadScoreRequest, LeadUpsert
from serving.journeys import JourneyService
from serving.metrics import (
    CONTENT_TYPE,
    BodyTooLarge,
    ObserveRequests,
    ServiceMetrics,
    too_large_detail,
)
from serving.rescoring import RescoringQueue
from serving.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorBody,
    FieldError,
    Health,
    ModelInfo,
    Readiness,
    ReloadResponse,
    ScoreResponse,
)
from serving.scorer import LeadRefused, ModelUnavailable, Scorer
from serving.settings import ServiceSettings
from serving.webhook_schemas import RedeliverRequest, TierChangeEvent, WebhookIn
from serving.webhooks.dispatch import DeliveryPolicy, Dispatcher
from serving.webhooks.routes import add_webhook_routes

API_TITLE = "leadscore"
API_VERSION = "1"


def create_app(settings: ServiceSettings | None = None, scorer: Scorer | None = None) -> FastAPI:
    """The service. Without a `scorer`, one is built and loads the configured model at start."""
    settings = settings or ServiceSettings()
    scorer = scorer or Scorer(settings)
    metrics = ServiceMetrics(scorer)
    api_key, admin_key = _auth(settings)
    limits = {
        MAX_EVENTS: settings.max_events_per_lead,
        MAX_LEADS: settings.max_leads_per_batch,
        MAX_INGEST: settings.max_events_per_ingest,
    }
    # Batches are scored off the event loop, one at a time, on one long-lived thread: the
    # compiled kernels release the GIL, so single leads keep being answered meanwhile, and
    # OpenMP keeps one warm thread team for it (a new calling thread would start another).
    batch_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-scoring")
    journeys = JourneyService(settings, scorer)
    # Rescoring shares the batch thread: a batch call and a rescoring batch take turns.
    rescoring = RescoringQueue(
        journeys.rescore,
        batch_thread,
        capacity=settings.rescore_queue_leads,
        batch_size=settings.rescore_batch_leads,
        wait_seconds=settings.rescore_wait_seconds,
        share=settings.rescore_share,
    )
    metrics.watch_rescoring(rescoring)
    dispatcher = Dispatcher(
        lambda: journeys.webhooks,
        DeliveryPolicy(
            timeout_seconds=settings.webhook_timeout_seconds,
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            max_backoff_seconds=settings.webhook_max_backoff_seconds,
            allowed_hosts=tuple(settings.webhook_allowed_hosts),
        ),
        on_outcome=lambda status: metrics.deliveries.labels(status).inc(),
    )
    journeys.on_deliveries = dispatcher.wake

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, journeys.open)
        if scorer.served is None:
            await loop.run_in_executor(batch_thread, scorer.load)
        hangup = _on_sighup(scorer.start_reload)
        workers = [asyncio.create_task(rescoring.run(), name="rescoring")]
        if journeys.has_store:
            workers.append(asyncio.create_task(dispatcher.run(), name="webhooks"))
        try:
            yield
        finally:
            hangup()
            for worker in workers:
                worker.cancel()
            batch_thread.shutdown(wait=False)
            journeys.close()

    app = FastAPI(
        title=API_TITLE,
        version=API_VERSION,
        summary="Predictive lead scoring: calibrated probabilities, MQL/SQL tiers and reasons.",
        default_response_class=JSON,
        lifespan=lifespan,
    )
    app.state.scorer = scorer
    app.state.journeys = journeys
    app.state.rescoring = rescoring
    app.state.metrics = metrics
    app.add_middleware(ObserveRequests, metrics=metrics, max_body_bytes=settings.max_body_bytes)
    _error_handlers(app, settings)
    _openapi(app, scorer)

    unavailable, keyed, body_errors = UNAVAILABLE, KEYED, BODY_ERRORS

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        dependencies=[Depends(api_key)],
        responses=keyed | body_errors | unavailable,
        openapi_extra=request_body("LeadIn"),
        summary="Score one lead",
    )
    async def score(request: Request) -> Response:
        """Probability, score, tier and reasons of one lead from its attributes and journey."""
        _require_model(scorer)
        lead = parse_lead(await json_body(request), limits)
        answer = scorer.score(lead)
        metrics.count_tiers([answer])
        return JSON(answer)

    @app.post(
        "/v1/score/batch",
        response_model=BatchResponse,
        dependencies=[Depends(api_key)],
        responses=keyed | body_errors | unavailable,
        openapi_extra=request_body("BatchRequest"),
        summary="Score many leads",
    )
    async def score_batch(request: Request) -> Response:
        """Answers in request order; a lead that fails validation is reported by its index."""
        _require_model(scorer)
        leads, as_of = parse_batch(await json_body(request), limits)
        answer = await asyncio.get_running_loop().run_in_executor(
            batch_thread, scorer.score_batch, leads, as_of
        )
        metrics.count_tiers(answer["results"])
        if answer["failed"]:
            metrics.refused.inc(answer["failed"])
        return JSON(answer)

    @app.get(
        "/v1/model",
        response_model=ModelInfo,
        dependencies=[Depends(api_key)],
        responses=keyed | unavailable,
        summary="The loaded model",
    )
    async def model_info() -> Response:
        """Which model answers: its target, horizon, windows, tier thresholds and metrics."""
        _require_model(scorer)
        return JSON(scorer.info().model_dump(mode="json"))

    @app.post(
        "/v1/admin/reload",
        response_model=ReloadResponse,
        status_code=202,
        dependencies=[Depends(admin_key)],
        responses=keyed
        | {
            200: {"model": ReloadResponse, "description": "Reloaded (with wait=true)."},
            **ADMIN,
            409: {"model": ErrorBody, "description": "A reload is already running."},
            **INVALID_PARAMETER,
            503: {
                "model": ReloadResponse,
                "description": "The reload failed (with wait=true): `reload` names the version "
                "and why; the previous model, if any, keeps serving.",
            },
        },
        summary="Reload the model",
    )
    async def reload(
        wait: Annotated[
            bool, Query(description="Answer when the load has finished, not when it starts.")
        ] = False,
    ) -> Response:
        """Load the configured model again (an alias: its current version) in the background
        and swap it in; requests in flight finish on the old one. A failed load keeps the old
        model and reports why (also in GET /v1/model and /metrics). SIGHUP does the same."""
        thread = scorer.start_reload()
        if thread is None:
            raise HTTPException(409, "a reload is already running: try again when it finishes")
        status = 202
        if wait:
            await anyio.to_thread.run_sync(thread.join)
            status = 200 if scorer.reload_state.state == "loaded" else 503
        served = scorer.served
        body = ReloadResponse(reload=scorer.reload_state, model=served.ref if served else None)
        return JSON(body.model_dump(mode="json"), status_code=status)

    add_journey_routes(app, journeys, rescoring, metrics, (api_key, admin_key), limits)
    add_webhook_routes(app, journeys, dispatcher, settings, admin_key)

    @app.get("/healthz", response_model=Health, summary="The process is alive")
    async def healthz() -> Response:
        return JSON({"status": "ok"})

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={
            200: {"model": Readiness, "description": "Ready, or degraded (reason given)."},
            503: {"model": Readiness, "description": "Not ready, and why."},
        },
        summary="A model is loaded and answers",
    )
    async def readyz() -> Response:
        """Ready once a model has loaded and scored a warm-up lead; degraded (200) while an
        older model serves because the last reload failed."""
        status, reason = scorer.readiness()
        served = scorer.served
        return JSON(
            {"status": status, "reason": reason, "model": served.ref_json if served else None},
            status_code=503 if served is None else 200,
        )

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        """Request counts and latency by route and status, scores by tier, the model loaded."""
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    return app


# -- auth --------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <API key>`")


def _auth(settings: ServiceSettings) -> tuple[Callable, Callable]:
    """Dependencies checking an API key and an admin key (both pass in keyless development)."""
    api = [k.get_secret_value().encode() for k in settings.api_keys]
    admin = [k.get_secret_value().encode() for k in settings.admin_keys]
    required = settings.auth_required

    def matches(key: str, keys: list[bytes]) -> bool:
        given = key.encode()
        # Compare with every key in constant time: timing says nothing about which is close.
        return any([hmac.compare_digest(given, k) for k in keys])

    def presented(
        request: Request, bearer: HTTPAuthorizationCredentials | None, header: str | None
    ) -> str | None:
        """The key sent, if any. Ambiguous credentials are refused, never resolved by a
        preference: an Authorization header that is not `Bearer <key>`, or two different keys."""
        if bearer is None and "authorization" in request.headers:
            raise _unauthorized("the Authorization header must be `Bearer <API key>`")
        if bearer is not None and header is not None and bearer.credentials != header:
            raise _unauthorized("two different API keys (Authorization and X-API-Key): send one")
        return bearer.credentials if bearer is not None else header

    async def api_key(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> None:
        if not required:
            return
        key = presented(request, bearer, header)
        if key is None:
            raise _unauthorized(
                "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
            )
        if not matches(key, api + admin):
            raise _unauthorized("invalid API key")

    async def admin_key(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> None:
        if not required:
            return
        await api_key(request, bearer, header)
        if not admin:
            raise HTTPException(
                403, "admin routes are disabled: no admin key is configured (LEADSCORE_ADMIN_KEYS)"
            )
        if not matches(presented(request, bearer, header) or "", admin):
            raise HTTPException(403, "this route needs an admin key, not a scoring key")

    return api_key, admin_key


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


# -- request helpers ---------------------------------------------------------------------


def _require_model(scorer: Scorer) -> None:
    if scorer.served is None:
        raise HTTPException(503, f"no model to score with: {scorer.unavailable_reason()}")


def _invalid(errors: list[FieldError]) -> Response:
    return JSON({"detail": [e.model_dump() for e in errors]}, status_code=422)


def _error_handlers(app: FastAPI, settings: ServiceSettings) -> None:
    @app.exception_handler(ModelUnavailable)
    async def no_model(request: Request, exc: ModelUnavailable) -> Response:
        return JSON({"detail": str(exc)}, status_code=503)

    @app.exception_handler(BodyRefused)
    async def refused_body(request: Request, exc: BodyRefused) -> Response:
        if isinstance(exc.detail, str):
            return JSON({"detail": exc.detail}, status_code=exc.status)
        return _invalid(exc.detail)

    @app.exception_handler(LeadRefused)
    async def refused(request: Request, exc: LeadRefused) -> Response:
        return _invalid([e.model_copy(update={"loc": ["body", *e.loc]}) for e in exc.errors])

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return _invalid(
            [FieldError(loc=list(e["loc"]), msg=e["msg"], type=e["type"]) for e in exc.errors()]
        )

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> Response:
        return JSON({"detail": too_large_detail(settings.max_body_bytes)}, status_code=413)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> Response:
        # Starlette re-raises after this answer, so the server logs the traceback.
        return JSON({"detail": "internal error: the server log has the details"}, 500)


def _on_sighup(reload: Callable[[], object]) -> Callable[[], None]:
    """Reload on SIGHUP where the loop can take signals; returns the undo."""
    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        # No SIGHUP (Windows) or not the main thread (e.g. a test client): no signal reloads.
        return lambda: None
    return lambda: loop.remove_signal_handler(signal.SIGHUP)


# -- OpenAPI -----------------------------------------------------------------------------


def _openapi(app: FastAPI, scorer: Scorer) -> None:
    """Add the request body models (read by hand in the routes) to the OpenAPI components,
    marking the fields the loaded model requires; rebuilt when a reload changes them."""
    documents: dict[bool, dict] = {}

    def openapi() -> dict:
        served = scorer.served
        needs_created_at = served is not None and served.model.pipeline.use_behaviour
        if needs_created_at not in documents:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            _, defs = models_json_schema(
                [
                    (model, "validation")
                    for model in (
                        LeadIn,
                        BatchRequest,
                        EventsRequest,
                        LeadUpsert,
                        LeadScoreRequest,
                        WebhookIn,
                        RedeliverRequest,
                        TierChangeEvent,
                    )
                ],
                ref_template="#/components/schemas/{model}",
            )
            if needs_created_at:
                _require_created_at(defs["$defs"]["LeadIn"])
            schema.setdefault("components", {}).setdefault("schemas", {}).update(defs["$defs"])
            documents[needs_created_at] = schema
        return documents[needs_created_at]

    app.openapi = openapi


def _require_created_at(lead: dict) -> None:
    """Mark `created_at` of the LeadIn schema required and not null."""
    field = lead["properties"]["created_at"]
    field.pop("default", None)
    field["anyOf"] = [branch for branch in field["anyOf"] if branch.get("type") != "null"]
    lead["required"] = sorted({*lead.get("required", ()), "created_at"})
    lead["description"] += " The loaded model reads the journey: `created_at` is required."
