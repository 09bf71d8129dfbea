"""The webhook routes (admin key): subscribe, list, remove, the delivery log, redeliver."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Literal

import anyio
import orjson
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request, Response

from serving.bodies import BodyRefused, json_body, parse_model
from serving.http import ADMIN, BODY_ERRORS, INVALID_PARAMETER, JSON, KEYED, request_body
from serving.journeys import JourneyService
from serving.schemas import ErrorBody, FieldError
from serving.settings import ServiceSettings
from serving.store.webhooks import Delivery, Subscription
from serving.webhook_schemas import (
    DeliveryLog,
    Redelivered,
    RedeliverRequest,
    Webhook,
    WebhookCreated,
    WebhookIn,
    WebhookList,
    WebhookRemoved,
)
from serving.webhooks.dispatch import Dispatcher
from serving.webhooks.targets import check_target

WebhookId = Annotated[
    str, Path(max_length=40, description="The subscription's id.", examples=["wh_5f0c2a9e"])
]


def add_webhook_routes(
    app: FastAPI,
    journeys: JourneyService,
    dispatcher: Dispatcher,
    settings: ServiceSettings,
    admin_key: Callable,
) -> None:
    """Add the webhook routes to `app`; all of them need an admin key."""
    store_down = {503: {"model": ErrorBody, "description": "The journey store is off or down."}}
    unknown = {404: {"model": ErrorBody, "description": "No such webhook."}}
    admin = [Depends(admin_key)]

    @app.post(
        "/v1/webhooks",
        response_model=WebhookCreated,
        status_code=201,
        dependencies=admin,
        responses=KEYED | ADMIN | BODY_ERRORS | store_down,
        openapi_extra=request_body("WebhookIn"),
        summary="Subscribe to tier changes",
    )
    async def subscribe(request: Request) -> Response:
        """Send a signed JSON event (a TierChangeEvent) to `url` whenever rescoring moves a
        lead across one of the `transitions`. The answer holds the signing secret: the only
        time it is shown."""
        wanted = parse_model(WebhookIn, await json_body(request))
        problem = check_target(wanted.url, settings.webhook_allowed_hosts)
        if problem is not None:
            # Located like every other 422: the documented body is a list of field errors.
            raise BodyRefused(422, [FieldError(loc=["body", "url"], msg=problem, type="url")])
        subscription = Subscription(
            webhook_id=f"wh_{uuid.uuid4().hex[:16]}",
            url=wanted.url,
            transitions=tuple(wanted.transitions),
            secret=wanted.secret or f"whsec-{secrets.token_urlsafe(32)}",
            description=wanted.description,
            created_at=datetime.now(UTC),
        )
        await anyio.to_thread.run_sync(journeys.webhooks.subscribe, subscription)
        await anyio.to_thread.run_sync(journeys.outbox.refresh)
        return JSON(_webhook(subscription) | {"secret": subscription.secret}, status_code=201)

    @app.get(
        "/v1/webhooks",
        response_model=WebhookList,
        dependencies=admin,
        responses=KEYED | ADMIN | store_down,
        summary="List the subscriptions",
    )
    async def list_webhooks() -> Response:
        """Every subscription, oldest first (secrets are not shown)."""
        subscriptions = await anyio.to_thread.run_sync(journeys.webhooks.subscriptions)
        return JSON({"webhooks": [_webhook(s) for s in subscriptions]})

    @app.delete(
        "/v1/webhooks/{webhook_id}",
        response_model=WebhookRemoved,
        dependencies=admin,
        responses=KEYED | ADMIN | INVALID_PARAMETER | unknown | store_down,
        summary="Remove a subscription",
    )
    async def unsubscribe(webhook_id: WebhookId) -> Response:
        """Stop sending to it; its pending deliveries and its log go with it."""
        removed = await anyio.to_thread.run_sync(journeys.webhooks.unsubscribe, webhook_id)
        if removed is None:
            raise HTTPException(404, f"no webhook {webhook_id!r}: GET /v1/webhooks lists them")
        await anyio.to_thread.run_sync(journeys.outbox.refresh)
        return JSON({"webhook_id": webhook_id, "deliveries": removed})

    @app.get(
        "/v1/webhooks/{webhook_id}/deliveries",
        response_model=DeliveryLog,
        dependencies=admin,
        responses=KEYED | ADMIN | INVALID_PARAMETER | unknown | store_down,
        summary="A subscription's delivery log",
    )
    async def deliveries(
        webhook_id: WebhookId,
        status: Annotated[
            Literal["pending", "delivered", "parked"] | None,
            Query(description="Only deliveries in this state."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    ) -> Response:
        """Its newest deliveries, newest first: status, attempts, the last answer or error."""
        _require(journeys, webhook_id)
        found = await anyio.to_thread.run_sync(
            journeys.webhooks.deliveries, webhook_id, status, limit
        )
        return JSON({"webhook_id": webhook_id, "deliveries": [_delivery(d) for d in found]})

    @app.post(
        "/v1/webhooks/{webhook_id}/redeliver",
        response_model=Redelivered,
        dependencies=admin,
        responses=KEYED | ADMIN | BODY_ERRORS | unknown | store_down,
        openapi_extra=request_body("RedeliverRequest", required=False),
        summary="Send parked deliveries again",
    )
    async def redeliver(webhook_id: WebhookId, request: Request) -> Response:
        """Queue parked deliveries (all of the subscription's, or those named) for a new
        round of attempts; `leadscore webhooks redeliver` does the same from a shell."""
        _require(journeys, webhook_id)
        raw = await request.body()
        wanted = parse_model(RedeliverRequest, await json_body(request)) if raw else None
        ids = wanted.delivery_ids if wanted else []
        count = await anyio.to_thread.run_sync(
            lambda: journeys.webhooks.redeliver(datetime.now(UTC), webhook_id, ids)
        )
        dispatcher.wake()
        return JSON({"requeued": count})


def _require(journeys: JourneyService, webhook_id: str) -> None:
    if not any(s.webhook_id == webhook_id for s in journeys.webhooks.subscriptions()):
        raise HTTPException(404, f"no webhook {webhook_id!r}: GET /v1/webhooks lists them")


def _webhook(subscription: Subscription) -> dict:
    return Webhook(
        webhook_id=subscription.webhook_id,
        url=subscription.url,
        transitions=list(subscription.transitions),
        description=subscription.description,
        created_at=subscription.created_at,
    ).model_dump()


def _delivery(delivery: Delivery) -> dict:
    fields = {k: v for k, v in vars(delivery).items() if k not in ("payload", "webhook_id")}
    return fields | {"payload": orjson.loads(delivery.payload)}
