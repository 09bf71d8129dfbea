"""The journey store: leads, their events and their score history, in SQLite or PostgreSQL.

One SQL code path (SQLAlchemy Core) for both databases; the embedded default is a SQLite file
in WAL mode, which needs no setup, and `postgresql://...` lets several service processes or
hosts share one store. Every method is one short transaction, safe to call from any thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from serving.store import tables
from serving.store.engine import create_engine, transaction
from serving.store.migrate import migrate

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    """A UTC datetime as integer microseconds since the epoch (exact)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    """The datetime of `to_us` back, in UTC."""
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class NewEvent:
    """An event to store (validated by the caller)."""

    lead_id: str
    event_type: str
    occurred_at: datetime
    event_id: str | None = None
    properties: dict[str, Any] | None = None


@dataclass(frozen=True)
class LeadRecord:
    """A lead's record to create or merge (validated by the caller)."""

    lead_id: str
    created_at: datetime | None
    attributes: dict[str, Any]


@dataclass(frozen=True)
class StoredLead:
    """What the store knows of a lead: its record (if one was sent) and its events' extent."""

    lead_id: str
    created_at: datetime | None
    attributes: dict[str, Any]
    updated_at: datetime | None
    events: int
    first_event_at: datetime | None
    last_event_at: datetime | None


@dataclass(frozen=True)
class Journey:
    """A lead's newest events before a time, oldest first, and how many older ones were left."""

    events: list[dict[str, Any]]
    left_out: int


@dataclass(frozen=True)
class ScoreRecord:
    """One entry of a lead's score history."""

    lead_id: str
    scored_at: datetime
    as_of: datetime
    probability: float
    score: int
    tier: str
    model_name: str
    model_version: str | None
    trigger: str
    # The sub-scores, where the model gives them.
    fit: int | None = None
    engagement: int | None = None
    grade: str | None = None


@dataclass(frozen=True)
class Erasure:
    """What erasing a lead removed."""

    lead_id: str
    leads: int
    events: int
    scores: int
    deliveries: int


class JourneyStore:
    """Leads, events and score history behind one engine."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @classmethod
    def open(cls, url: str) -> JourneyStore:
        """Connect to `url` (sqlite:///FILE or postgresql://...) and migrate it to head."""
        store = cls(create_engine(url))
        migrate(store.engine)
        return store

    def close(self) -> None:
        self.engine.dispose()

    @property
    def description(self) -> str:
        """The store's URL without a password, for logs and answers."""
        return self.engine.url.render_as_string(hide_password=True)

    # -- writing -----------------------------------------------------------------------
    def add_events(self, new: Sequence[NewEvent], received_at: datetime) -> list[bool]:
        """Store events; per event, True if stored, False if its `event_id` was already stored
        for its lead (earlier, or earlier in `new`). Committed when this returns."""
        stored = [True] * len(new)
        seen: set[tuple[str, str]] = set()
        rows = []
        for i, event in enumerate(new):
            if event.event_id is not None:
                key = (event.lead_id, event.event_id)
                if key in seen:
                    stored[i] = False
                    continue
                seen.add(key)
            rows.append(
                {
                    "lead_id": event.lead_id,
                    "event_type": event.event_type,
                    "occurred_at_us": to_us(event.occurred_at),
                    "event_id": event.event_id,
                    "properties": event.properties,
                    "received_at_us": to_us(received_at),
                }
            )
        if not rows:
            return stored
        t = tables.events
        statement = (
            self._insert(t)
            .on_conflict_do_nothing(index_elements=[t.c.lead_id, t.c.event_id])
            .returning(t.c.lead_id, t.c.event_id)
        )
        with transaction(self.engine) as connection:
            inserted = {tuple(row) for row in connection.execute(statement, rows)}
        for i, event in enumerate(new):
            if stored[i] and event.event_id is not None:
                stored[i] = (event.lead_id, event.event_id) in inserted
        return stored

    def upsert_leads(self, records: Sequence[LeadRecord]) -> list[bool]:
        """Create leads or update them: attributes sent replace those of the same name, the
        others stay; `created_at` is replaced when sent. Per record, True if it created the
        lead. One transaction; a lead id given twice is merged in order."""
        t = tables.leads
        now = to_us(datetime.now(UTC))
        ids = list(dict.fromkeys(r.lead_id for r in records))
        with transaction(self.engine, immediate=True) as connection:
            # Lock existing rows (PostgreSQL) so concurrent merges of one lead do not race.
            existing = {
                row.lead_id: (row.created_at_us, row.attributes)
                for row in connection.execute(
                    sa.select(t.c.lead_id, t.c.created_at_us, t.c.attributes)
                    .where(t.c.lead_id.in_(ids))
                    .with_for_update()
                )
            }
            merged: dict[str, tuple[int | None, dict]] = dict(existing)
            created = []
            for record in records:
                was_stored = record.lead_id in merged
                created_us, attributes = merged.get(record.lead_id, (None, {}))
                if record.created_at is not None:
                    created_us = to_us(record.created_at)
                merged[record.lead_id] = (created_us, {**attributes, **record.attributes})
                created.append(not was_stored)
            values = [
                {"lead_id": i, "created_at_us": c, "attributes": a, "updated_at_us": now}
                for i, (c, a) in merged.items()
            ]
            new = [v for v in values if v["lead_id"] not in existing]
            if new:
                # A lead another process created meanwhile is updated by the next statement.
                connection.execute(
                    self._insert(t).on_conflict_do_nothing(index_elements=[t.c.lead_id]), new
                )
            updates = [{**v, "key": v["lead_id"]} for v in values if v["lead_id"] in existing]
            if updates:
                connection.execute(
                    sa.update(t)
                    .where(t.c.lead_id == sa.bindparam("key"))
                    .values(
                        created_at_us=sa.bindparam("created_at_us"),
                        attributes=sa.bindparam("attributes"),
                        updated_at_us=sa.bindparam("updated_at_us"),
                    ),
                    updates,
                )
        return created

    def record_scores(
        self,
        records: Sequence[ScoreRecord],
        deliveries: Callable[[list[str | None]], list[dict]] | None = None,
    ) -> list[str | None]:
        """Append scores to their leads' histories. `deliveries`, given each lead's tier
        before (None: its first score), returns the webhook deliveries the changes cause,
        written in the same transaction: no change is recorded unannounced. Returns those
        tiers (empty without `deliveries`: nothing needs them, and they are not read)."""
        if not records:
            return []
        s = tables.scores
        rows = [
            {
                "lead_id": r.lead_id,
                "scored_at_us": to_us(r.scored_at),
                "as_of_us": to_us(r.as_of),
                "probability": r.probability,
                "score": r.score,
                "tier": r.tier,
                "model_name": r.model_name,
                "model_version": r.model_version,
                "trigger": r.trigger,
                "fit": r.fit,
                "engagement": r.engagement,
                "grade": r.grade,
            }
            for r in records
        ]
        before: list[str | None] = []
        with transaction(self.engine, durable=False, immediate=True) as connection:
            if deliveries is not None:
                ids = list({r.lead_id for r in records})
                tiers = dict(connection.execute(_LATEST_TIERS, {"ids": ids}).all())
                for record in records:
                    before.append(tiers.get(record.lead_id))
                    tiers[record.lead_id] = record.tier
            connection.execute(sa.insert(s), rows)
            outbox = deliveries(before) if deliveries is not None else []
            if outbox:
                connection.execute(sa.insert(tables.webhook_deliveries), outbox)
        return before

    def erase(self, lead_id: str) -> Erasure:
        """Remove the lead, its events, its score history and the webhook deliveries about
        it (a data-protection request)."""
        with transaction(self.engine) as connection:
            counts = [
                connection.execute(sa.delete(t).where(t.c.lead_id == lead_id)).rowcount
                for t in (tables.leads, tables.events, tables.scores, tables.webhook_deliveries)
            ]
        return Erasure(lead_id, *counts)

    # -- reading -----------------------------------------------------------------------
    def lead(self, lead_id: str) -> StoredLead | None:
        """The lead's record and events' extent; None if neither was ever stored."""
        t, e = tables.leads, tables.events
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(t.c.created_at_us, t.c.attributes, t.c.updated_at_us).where(
                    t.c.lead_id == lead_id
                )
            ).first()
            count, first, last = connection.execute(
                sa.select(sa.func.count(), sa.func.min(e.c.occurred_at_us))
                .add_columns(sa.func.max(e.c.occurred_at_us))
                .where(e.c.lead_id == lead_id)
            ).one()
        if row is None and count == 0:
            return None
        return StoredLead(
            lead_id=lead_id,
            created_at=_maybe_time(row.created_at_us) if row else None,
            attributes=dict(row.attributes) if row else {},
            updated_at=from_us(row.updated_at_us) if row else None,
            events=count,
            first_event_at=_maybe_time(first),
            last_event_at=_maybe_time(last),
        )

    def records(self, lead_ids: Sequence[str]) -> dict[str, tuple[datetime | None, dict]]:
        """`created_at` and attributes of those of the leads that have a record."""
        with self.engine.connect() as connection:
            return _records(connection, lead_ids)

    def journeys(self, lead_ids: Sequence[str], before: datetime, limit: int) -> list[Journey]:
        """Each lead's newest `limit` events strictly before `before`, oldest first.

        Events at or after that time are not read: the model ignores them anyway."""
        with self.engine.connect() as connection:
            return _journeys(connection, lead_ids, before, limit)

    def leads_as_of(
        self, lead_ids: Sequence[str], before: datetime, limit: int
    ) -> tuple[dict[str, tuple[datetime | None, dict]], list[Journey]]:
        """`records` and `journeys` of the leads, in one read."""
        with self.engine.connect() as connection:
            return _records(connection, lead_ids), _journeys(connection, lead_ids, before, limit)

    def history(
        self, lead_id: str, limit: int, since: datetime | None = None
    ) -> tuple[list[ScoreRecord], ScoreRecord | None]:
        """The lead's newest `limit` scores, newest first, and (given `since`) its oldest
        score recorded at or after `since`: one read for a score's history and trend."""
        with self.engine.connect() as connection:
            rows = connection.execute(_HISTORY, {"lead_id": lead_id, "limit": limit}).all()
            first = None
            if since is not None:
                first = connection.execute(
                    _FIRST_SINCE, {"lead_id": lead_id, "since": to_us(since)}
                ).first()
        return [_score_record(row) for row in rows], None if first is None else _score_record(first)

    def lead_ids(self, batch_size: int) -> Iterator[list[str]]:
        """Every stored lead id (with a record or with events), in batches, in id order."""
        last: str | None = None
        while True:
            # Each table's next ids come from its index on lead_id, and the database merges
            # them, so the order (the database's collation) is one and the same throughout.
            nexts = []
            for column in (tables.leads.c.lead_id, tables.events.c.lead_id):
                query = sa.select(column.label("lead_id")).distinct()
                if last is not None:
                    query = query.where(column > last)
                nexts.append(sa.select(query.order_by(column).limit(batch_size).subquery()))
            ids = sa.union(*nexts).subquery()
            query = sa.select(ids.c.lead_id).order_by(ids.c.lead_id).limit(batch_size)
            with self.engine.connect() as connection:
                batch = list(connection.execute(query).scalars())
            if not batch:
                return
            yield batch
            last = batch[-1]

    def count_leads(self) -> int:
        """How many leads `lead_ids` yields."""
        ids = sa.union(
            sa.select(tables.leads.c.lead_id), sa.select(tables.events.c.lead_id)
        ).subquery()
        with self.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(ids)).scalar_one()


# The statements of the per-request reads, built once: SQLAlchemy then reuses their compiled
# form, and a request pays only for the database's work.
_e, _s, _t = tables.events, tables.scores, tables.leads
_RECORDS = sa.select(_t.c.lead_id, _t.c.created_at_us, _t.c.attributes).where(
    _t.c.lead_id.in_(sa.bindparam("ids", expanding=True))
)
_JOURNEYS = (
    sa.select(_e.c.lead_id, _e.c.event_type, _e.c.occurred_at_us)
    .where(
        _e.c.lead_id.in_(sa.bindparam("ids", expanding=True)),
        _e.c.occurred_at_us < sa.bindparam("before"),
    )
    .order_by(_e.c.lead_id, _e.c.occurred_at_us, _e.c.id)
)
_HISTORY = (
    sa.select(_s)
    .where(_s.c.lead_id == sa.bindparam("lead_id"))
    .order_by(_s.c.scored_at_us.desc(), _s.c.id.desc())
    .limit(sa.bindparam("limit"))
)
_LATEST_TIERS = sa.select(_s.c.lead_id, _s.c.tier).where(
    _s.c.id.in_(
        sa.select(sa.func.max(_s.c.id))
        .where(_s.c.lead_id.in_(sa.bindparam("ids", expanding=True)))
        .group_by(_s.c.lead_id)
    )
)
_FIRST_SINCE = (
    sa.select(_s)
    .where(_s.c.lead_id == sa.bindparam("lead_id"), _s.c.scored_at_us >= sa.bindparam("since"))
    .order_by(_s.c.scored_at_us, _s.c.id)
    .limit(1)
)


def _records(
    connection: sa.Connection, lead_ids: Sequence[str]
) -> dict[str, tuple[datetime | None, dict]]:
    rows = connection.execute(_RECORDS, {"ids": list(lead_ids)}).all()
    return {row.lead_id: (_maybe_time(row.created_at_us), dict(row.attributes)) for row in rows}


def _journeys(
    connection: sa.Connection, lead_ids: Sequence[str], before: datetime, limit: int
) -> list[Journey]:
    found: dict[str, list[tuple[str, int]]] = {lead_id: [] for lead_id in lead_ids}
    rows = connection.execute(_JOURNEYS, {"ids": list(lead_ids), "before": to_us(before)}).all()
    for lead_id, kind, us in rows:
        found[lead_id].append((kind, us))
    out = []
    for lead_id in lead_ids:
        events = found[lead_id]
        left_out = max(len(events) - limit, 0)
        kept = [{"event_type": kind, "occurred_at": from_us(us)} for kind, us in events[left_out:]]
        out.append(Journey(kept, left_out))
    return out


def _maybe_time(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def _score_record(row: sa.Row) -> ScoreRecord:
    return ScoreRecord(
        lead_id=row.lead_id,
        scored_at=from_us(row.scored_at_us),
        as_of=from_us(row.as_of_us),
        probability=row.probability,
        score=row.score,
        tier=row.tier,
        model_name=row.model_name,
        model_version=row.model_version,
        trigger=row.trigger,
        fit=row.fit,
        engagement=row.engagement,
        grade=row.grade,
    )
