"""Webhook subscriptions and the delivery outbox, in the journey store's database.

A delivery is `pending` until a 2xx answer makes it `delivered`; failed attempts come back
later, and after the last one (or an answer retrying cannot change) it is `parked`, the dead
letter, until someone redelivers it. Claims are leases: a process that dies mid-attempt leaves
a claim that runs out, and the delivery is sent again (at least once; receivers de-duplicate
on the delivery id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa

from serving.store import tables
from serving.store.engine import transaction
from serving.store.store import from_us, to_us

Status = Literal["pending", "delivered", "parked"]


@dataclass(frozen=True)
class Subscription:
    """Where to send which tier changes, and the secret deliveries are signed with."""

    webhook_id: str
    url: str
    transitions: tuple[str, ...]
    secret: str
    description: str | None
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One payload for one subscription, and how sending it went so far."""

    delivery_id: str
    webhook_id: str
    lead_id: str
    payload: str
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


class WebhookStore:
    """Subscriptions and deliveries behind the journey store's engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- subscriptions -----------------------------------------------------------------
    def subscribe(self, subscription: Subscription) -> None:
        with transaction(self.engine) as connection:
            connection.execute(
                sa.insert(tables.webhooks).values(
                    webhook_id=subscription.webhook_id,
                    url=subscription.url,
                    transitions=list(subscription.transitions),
                    secret=subscription.secret,
                    description=subscription.description,
                    created_at_us=to_us(subscription.created_at),
                )
            )

    def subscriptions(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        w = tables.webhooks
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(w).order_by(w.c.created_at_us, w.c.webhook_id))
            return [_subscription(row) for row in rows]

    def unsubscribe(self, webhook_id: str) -> int | None:
        """Remove the subscription and its delivery log; None if there is no such webhook,
        else how many deliveries went with it."""
        w, d = tables.webhooks, tables.webhook_deliveries
        with transaction(self.engine) as connection:
            if not connection.execute(sa.delete(w).where(w.c.webhook_id == webhook_id)).rowcount:
                return None
            return connection.execute(sa.delete(d).where(d.c.webhook_id == webhook_id)).rowcount

    # -- deliveries ----------------------------------------------------------------------
    def claim_due(
        self, now: datetime, lease: timedelta, limit: int, skip: Sequence[str] = ()
    ) -> list[Delivery]:
        """Pending deliveries due by `now` that no live claim holds (and not of the webhooks
        in `skip`), claimed until `now + lease` by this caller only: the claim re-checks its
        conditions."""
        d = tables.webhook_deliveries
        now_us = to_us(now)
        free = sa.or_(d.c.claimed_until_us.is_(None), d.c.claimed_until_us < now_us)
        due = sa.and_(d.c.status == "pending", d.c.next_attempt_at_us <= now_us, free)
        if skip:
            due = sa.and_(due, d.c.webhook_id.not_in(skip))
        # A claim lost in a power cut only means one more attempt: no sync to disk for it.
        with transaction(self.engine, durable=False, immediate=True) as connection:
            ids = (
                connection.execute(
                    sa.select(d.c.delivery_id)
                    .where(due)
                    .order_by(d.c.next_attempt_at_us)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            if not ids:
                return []
            rows = connection.execute(
                sa.update(d)
                .where(d.c.delivery_id.in_(ids), due)
                .values(claimed_until_us=to_us(now + lease))
                .returning(*d.c)
            )
            return sorted((_delivery(row) for row in rows), key=lambda x: x.next_attempt_at)

    def next_due(self) -> datetime | None:
        """When a pending delivery can next be claimed: its next attempt, or the end of the
        claim that holds it (the attempt's owner may have died), whichever is later."""
        d = tables.webhook_deliveries
        held = sa.and_(
            d.c.claimed_until_us.is_not(None), d.c.claimed_until_us > d.c.next_attempt_at_us
        )
        claimable = sa.case((held, d.c.claimed_until_us), else_=d.c.next_attempt_at_us)
        with self.engine.connect() as connection:
            us = connection.execute(
                sa.select(sa.func.min(claimable)).where(d.c.status == "pending")
            ).scalar_one()
        return None if us is None else from_us(us)

    def finish(
        self,
        delivery_id: str,
        *,
        now: datetime,
        status_code: int | None,
        error: str | None,
        retry_at: datetime | None,
    ) -> Status:
        """Record an attempt: delivered when there is no error, else pending again at
        `retry_at`, or parked when there is none. Returns the new status."""
        d = tables.webhook_deliveries
        status: Status = "delivered" if error is None else "pending" if retry_at else "parked"
        with transaction(self.engine, durable=False) as connection:
            connection.execute(
                sa.update(d)
                .where(d.c.delivery_id == delivery_id)
                .values(
                    status=status,
                    attempts=d.c.attempts + 1,
                    claimed_until_us=None,
                    last_status_code=status_code,
                    last_error=None if error is None else error[:2000],
                    next_attempt_at_us=to_us(retry_at) if retry_at else d.c.next_attempt_at_us,
                    finished_at_us=None if status == "pending" else to_us(now),
                )
            )
        return status

    def deliveries(self, webhook_id: str, status: Status | None, limit: int) -> list[Delivery]:
        """The subscription's newest deliveries (of one status, if given), newest first."""
        d = tables.webhook_deliveries
        query = sa.select(d).where(d.c.webhook_id == webhook_id)
        if status is not None:
            query = query.where(d.c.status == status)
        query = query.order_by(d.c.created_at_us.desc(), d.c.delivery_id.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [_delivery(row) for row in connection.execute(query)]

    def counts(self) -> dict[str, dict[Status, int]]:
        """Per subscription, how many of its deliveries are in each state (states with none
        are left out; a subscription without deliveries is not there)."""
        d = tables.webhook_deliveries
        query = sa.select(d.c.webhook_id, d.c.status, sa.func.count()).group_by(
            d.c.webhook_id, d.c.status
        )
        found: dict[str, dict[Status, int]] = {}
        with self.engine.connect() as connection:
            for webhook_id, status, count in connection.execute(query):
                found.setdefault(webhook_id, {})[status] = count
        return found

    def redeliver(
        self, now: datetime, webhook_id: str | None = None, delivery_ids: Sequence[str] = ()
    ) -> int:
        """Send parked deliveries again (those of one webhook, or the ones named, or all),
        from their first attempt; returns how many were queued."""
        d = tables.webhook_deliveries
        query = sa.update(d).where(d.c.status == "parked")
        if webhook_id is not None:
            query = query.where(d.c.webhook_id == webhook_id)
        if delivery_ids:
            query = query.where(d.c.delivery_id.in_(delivery_ids))
        query = query.values(
            status="pending",
            attempts=0,
            next_attempt_at_us=to_us(now),
            claimed_until_us=None,
            finished_at_us=None,
        )
        with transaction(self.engine) as connection:
            return connection.execute(query).rowcount


def delivery_row(
    delivery_id: str, webhook_id: str, lead_id: str, payload: str, now: datetime
) -> dict:
    """A new pending delivery, as `JourneyStore.record_scores` inserts it."""
    return {
        "delivery_id": delivery_id,
        "webhook_id": webhook_id,
        "lead_id": lead_id,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at_us": to_us(now),
        "claimed_until_us": None,
        "last_status_code": None,
        "last_error": None,
        "created_at_us": to_us(now),
        "finished_at_us": None,
    }


def _subscription(row: sa.Row) -> Subscription:
    return Subscription(
        webhook_id=row.webhook_id,
        url=row.url,
        transitions=tuple(row.transitions),
        secret=row.secret,
        description=row.description,
        created_at=from_us(row.created_at_us),
    )


def _delivery(row: sa.Row) -> Delivery:
    return Delivery(
        delivery_id=row.delivery_id,
        webhook_id=row.webhook_id,
        lead_id=row.lead_id,
        payload=row.payload,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=from_us(row.next_attempt_at_us),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=from_us(row.created_at_us),
        finished_at=None if row.finished_at_us is None else from_us(row.finished_at_us),
    )
