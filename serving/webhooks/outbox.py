"""From recorded scores to webhook deliveries: which subscriptions a tier change concerns, and
the payload each is sent. The rows go into the transaction that records the scores."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import orjson

from serving.store.webhooks import Subscription, WebhookStore, delivery_row
from serving.webhooks.transitions import matches

EVENT = "lead.tier_changed"
# Subscriptions made by another process sharing the store are seen within this many seconds.
_REFRESH_SECONDS = 5.0


class Outbox:
    """Deliveries for tier changes, against a cached list of subscriptions."""

    def __init__(self, store: WebhookStore) -> None:
        self.store = store
        self._subscriptions: list[Subscription] = []
        self._read_at = -_REFRESH_SECONDS
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the subscriptions again now (after this process changed them)."""
        with self._lock:
            self._subscriptions = self.store.subscriptions()
            self._read_at = time.monotonic()

    def subscriptions(self) -> list[Subscription]:
        if time.monotonic() - self._read_at > _REFRESH_SECONDS:
            self.refresh()
        return self._subscriptions

    def for_answers(
        self, answers: Sequence[dict[str, Any]], trigger: str, now: datetime
    ) -> Callable[[list[str | None]], list[dict]] | None:
        """What `JourneyStore.record_scores` calls with each lead's previous tier to get the
        deliveries of these answers; None when nothing is subscribed."""
        subscriptions = self.subscriptions()
        if not subscriptions:
            return None

        def deliveries(before: list[str | None]) -> list[dict]:
            rows = []
            for answer, previous in zip(answers, before, strict=True):
                for subscription in subscriptions:
                    if matches(subscription.transitions, previous, answer["tier"]):
                        delivery_id = f"dlv_{uuid.uuid4().hex}"
                        body = payload(delivery_id, subscription, previous, answer, trigger)
                        rows.append(
                            delivery_row(
                                delivery_id,
                                subscription.webhook_id,
                                answer["lead_id"],
                                body,
                                now,
                            )
                        )
            return rows

        return deliveries


def payload(
    delivery_id: str,
    subscription: Subscription,
    previous: str | None,
    answer: dict[str, Any],
    trigger: str,
) -> str:
    """The JSON body of a tier-change delivery (fields of `serving.webhook_schemas
    .TierChangeEvent`), written once and sent byte for byte on every attempt."""
    event = {
        "event": EVENT,
        "delivery_id": delivery_id,
        "webhook_id": subscription.webhook_id,
        "lead_id": answer["lead_id"],
        "previous_tier": previous,
        "tier": answer["tier"],
        "probability": answer["probability"],
        "score": answer["score"],
        "reasons": answer["reasons"],
        "model": answer["model"],
        "as_of": answer["as_of"],
        "scored_at": answer["scored_at"],
        "trigger": trigger,
    }
    # Sub-scores, where the model gives them.
    event |= {k: answer[k] for k in ("fit", "engagement", "grade") if k in answer}
    return orjson.dumps(event, option=orjson.OPT_UTC_Z).decode()
