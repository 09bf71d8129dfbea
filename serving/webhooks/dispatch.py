"""Sending deliveries: claim what is due from the outbox, POST it signed, record the outcome.

Retries (5xx, 408, 429, timeouts, refused connections) come back after an exponential backoff
with jitter; after the last attempt, or an answer retrying cannot change (another 4xx, a
redirect: never followed, so a receiver cannot point us elsewhere), a delivery is parked until
`leadscore webhooks redeliver` or the admin route sends it again. Everything is in the store,
so deliveries pending when the service stops are sent after it starts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
import httpx

from serving.store.webhooks import Delivery, Status, Subscription, WebhookStore
from serving.webhooks.signing import DELIVERY_HEADER, SIGNATURE_HEADER, signature
from serving.webhooks.targets import check_target

log = logging.getLogger(__name__)

USER_AGENT = "leadscore-webhooks/1"


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard to try: the service's webhook settings."""

    timeout_seconds: float
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    allowed_hosts: tuple[str, ...]
    poll_seconds: float = 1.0
    batch: int = 64
    per_webhook: int = 16

    def retry_at(self, now: datetime, attempts: int) -> datetime | None:
        """When to try again after `attempts` failed ones; None: park it."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempts - 1))
        # Jitter spreads the retries of many deliveries that failed together.
        return now + timedelta(seconds=delay * random.uniform(0.5, 1.5))


class Dispatcher:
    """The delivery loop of one service process (several may share a store)."""

    def __init__(
        self,
        store: Callable[[], WebhookStore],
        policy: DeliveryPolicy,
        on_outcome: Callable[[Status], None] = lambda status: None,
    ) -> None:
        self._store = store  # the store, once the service has opened it
        self.policy = policy
        self._on_outcome = on_outcome
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """New deliveries are due: look now, not at the next poll (from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Send due deliveries until cancelled. Attempts run side by side, at most `batch`
        in all and `per_webhook` for one subscription, and new ones start as soon as any
        finishes: a receiver that never answers holds its own slots, not everyone's."""
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        lease = timedelta(seconds=self.policy.timeout_seconds + 30)
        timeout = httpx.Timeout(self.policy.timeout_seconds)
        in_flight: dict[asyncio.Task, str] = {}

        def finished(task: asyncio.Task) -> None:
            in_flight.pop(task, None)
            self._wake.set()

        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            try:
                while True:
                    self._wake.clear()
                    room = self.policy.batch - len(in_flight)
                    busy = Counter(in_flight.values())
                    full = [w for w, n in busy.items() if n >= self.policy.per_webhook]
                    due, subscriptions, next_due = [], {}, None
                    try:
                        if room > 0:
                            due, subscriptions = await anyio.to_thread.run_sync(
                                self._claim, lease, room, full
                            )
                        if not due:
                            next_due = await anyio.to_thread.run_sync(self._store().next_due)
                    except Exception:  # a database hiccup: try again at the next poll
                        log.exception("reading webhook deliveries failed")
                    for delivery in due:
                        subscription = subscriptions.get(delivery.webhook_id)
                        task = asyncio.create_task(self._attempt(client, delivery, subscription))
                        in_flight[task] = delivery.webhook_id
                        task.add_done_callback(finished)
                    if due:
                        continue
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._idle(next_due))
            finally:
                for task in in_flight:
                    task.cancel()

    def _idle(self, next_due: datetime | None) -> float:
        """Seconds to wait for a wake-up: until the next retry is due, at most a poll."""
        if next_due is None:
            return self.policy.poll_seconds
        until = (next_due - datetime.now(UTC)).total_seconds()
        return min(self.policy.poll_seconds, max(until, 0.01))

    def _claim(
        self, lease: timedelta, limit: int, skip: list[str]
    ) -> tuple[list[Delivery], dict[str, Subscription]]:
        """Due deliveries, claimed, and the subscriptions they go to."""
        store = self._store()
        due = store.claim_due(datetime.now(UTC), lease, limit, skip)
        if not due:
            return [], {}
        return due, {s.webhook_id: s for s in store.subscriptions()}

    async def _attempt(
        self, client: httpx.AsyncClient, delivery: Delivery, subscription: Subscription | None
    ) -> None:
        error, status_code, final = None, None, False
        if subscription is None:
            error, final = "the webhook was removed", True
        elif problem := check_target(subscription.url, self.policy.allowed_hosts):
            error, final = problem, True
        else:
            body = delivery.payload.encode()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                DELIVERY_HEADER: delivery.delivery_id,
                SIGNATURE_HEADER: signature(subscription.secret, int(time.time()), body),
            }
            try:
                response = await client.post(subscription.url, content=body, headers=headers)
            except httpx.TimeoutException:
                error = f"no answer within {self.policy.timeout_seconds:g} s"
            except httpx.HTTPError as exc:
                error = f"could not reach {subscription.url}: {exc or type(exc).__name__}"
            else:
                status_code = response.status_code
                error, final = _judge(status_code)
        now = datetime.now(UTC)
        attempts = delivery.attempts + 1
        retry_at = None if final or error is None else self.policy.retry_at(now, attempts)
        try:
            status = await anyio.to_thread.run_sync(
                lambda: self._store().finish(
                    delivery.delivery_id,
                    now=now,
                    status_code=status_code,
                    error=error,
                    retry_at=retry_at,
                )
            )
        except Exception:  # the claim runs out and the delivery is sent again
            log.exception("recording delivery %s failed", delivery.delivery_id)
            return
        if status != "delivered":
            log.warning("webhook delivery %s %s: %s", delivery.delivery_id, status, error)
        self._on_outcome(status)


def _judge(status_code: int) -> tuple[str | None, bool]:
    """(error, final) of an answer: 2xx delivered; 5xx, 408, 429 retried; others final."""
    if 200 <= status_code < 300:
        return None, False
    if status_code >= 500 or status_code in (408, 429):
        return f"answered {status_code}", False
    if 300 <= status_code < 400:
        return f"answered {status_code}: redirects are not followed, subscribe the final URL", True
    return f"answered {status_code}: the receiver refuses it, retrying cannot help", True
