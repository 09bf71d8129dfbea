"""The journey service: the one object behind the journey routes. It stores events and lead
records, scores stored leads (by id, or rescoring those touched by new events) with the
`Scorer`, and keeps each lead's score history and trend. No HTTP in here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from runtime.leads import as_utc
from serving.journey_schemas import EventRecord, LeadScoreRequest, LeadUpsert
from serving.scorer import LeadRefused, Scorer, ServedModel
from serving.settings import ServiceSettings
from serving.store.inputs import stored_inputs
from serving.store.store import Erasure, JourneyStore, LeadRecord, NewEvent, ScoreRecord
from serving.store.webhooks import WebhookStore
from serving.webhooks.outbox import Outbox

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """The journey store is off or could not be opened; the message says why."""


class UnknownLead(LookupError):
    """Nothing is stored for this lead id."""


class NotScorable(ValueError):
    """The stored lead lacks what the model needs; the message says what to send."""


class JourneyService:
    """Stored journeys, scored by the service's model."""

    def __init__(self, settings: ServiceSettings, scorer: Scorer) -> None:
        self.settings = settings
        self.scorer = scorer
        self._store: JourneyStore | None = None
        self._webhooks: WebhookStore | None = None
        self._outbox: Outbox | None = None
        self._unavailable = "the journey store is not open yet"
        # Called after scores that may have caused webhook deliveries are recorded.
        self.on_deliveries: Callable[[], None] = lambda: None

    # -- the store ---------------------------------------------------------------------
    def open(self) -> None:
        """Open (and migrate) the configured store; a failure leaves the journey routes
        answering 503 with the reason while stateless scoring goes on."""
        url = self.settings.store_url
        if url.lower() == "none":
            self._unavailable = "the journey store is off (LEADSCORE_STORE_URL=none)"
            return
        try:
            self._store = JourneyStore.open(url)
        except Exception as exc:  # a store that cannot open must not stop stateless scoring
            log.error("opening the journey store failed: %s", exc)
            self._unavailable = (
                f"the journey store could not be opened: {exc}; check LEADSCORE_STORE_URL and "
                "restart the service"
            )
        else:
            self._webhooks = WebhookStore(self._store.engine)
            self._outbox = Outbox(self._webhooks)
            log.info("journey store: %s", self._store.description)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    @property
    def has_store(self) -> bool:
        return self._store is not None

    @property
    def store(self) -> JourneyStore:
        return self.require_store()

    def require_store(self) -> JourneyStore:
        """The open store; `StoreUnavailable` with the reason if there is none."""
        if self._store is None:
            raise StoreUnavailable(self._unavailable)
        return self._store

    @property
    def webhooks(self) -> WebhookStore:
        """Subscriptions and deliveries, in the store's database."""
        self.require_store()
        assert self._webhooks is not None  # opened with the store
        return self._webhooks

    @property
    def outbox(self) -> Outbox:
        self.require_store()
        assert self._outbox is not None  # opened with the store
        return self._outbox

    # -- writing -----------------------------------------------------------------------
    def add_events(self, events: Sequence[EventRecord], now: datetime) -> list[bool]:
        """Store validated events; per event, True if stored, False if a duplicate."""
        return self.store.add_events(
            [
                NewEvent(
                    lead_id=e["lead_id"],
                    event_type=e["event_type"],
                    occurred_at=as_utc(e["occurred_at"]),
                    event_id=e.get("event_id"),
                    properties=e.get("properties"),
                )
                for e in events
            ],
            received_at=now,
        )

    def upsert(self, lead_id: str, body: LeadUpsert) -> bool:
        """Create or merge the lead's record; True if created."""
        record = LeadRecord(lead_id, body.created_at, dict(body.attributes))
        return self.store.upsert_leads([record])[0]

    def erase(self, lead_id: str) -> Erasure:
        return self.store.erase(lead_id)

    # -- reading and scoring -----------------------------------------------------------
    def describe(self, lead_id: str) -> dict[str, Any]:
        """What GET /v1/leads/{lead_id} shows (fields of `StoredLeadResponse`)."""
        stored = self.store.lead(lead_id)
        if stored is None:
            raise UnknownLead(lead_id)
        history, _ = self.store.history(lead_id, self.settings.history_length)
        return {
            "lead_id": lead_id,
            "created_at": stored.created_at,
            "attributes": stored.attributes,
            "updated_at": stored.updated_at,
            "events": {
                "count": stored.events,
                "first_at": stored.first_event_at,
                "last_at": stored.last_event_at,
            },
            "latest": _entry(history[0]) if history else None,
            "trend": self._trend(
                history[0] if history else None, self._first_in_window(lead_id, history)
            ),
            "history": [_entry(r) for r in history],
        }

    def score(self, lead_id: str, body: LeadScoreRequest, now: datetime) -> dict[str, Any]:
        """Score the stored lead (fields of `LeadScoreResponse`); recorded unless `as_of`
        was sent."""
        served = self.scorer.current()
        overrides = {"created_at": body.created_at, "attributes": body.attributes}
        [found] = stored_inputs(
            self.store,
            [lead_id],
            body.as_of or now,
            self.settings.max_events_per_lead,
            overrides,
        )
        if not found.known and self.store.lead(lead_id) is None:
            raise UnknownLead(lead_id)
        try:
            answer = self.scorer.score(found.lead, now)
        except LeadRefused:
            raise NotScorable(
                f"lead {lead_id!r} has no created_at, which this model needs (it reads the "
                f"journey): PUT /v1/leads/{lead_id} with created_at, or send it in this body"
            ) from None
        answer["warnings"] = [*answer["warnings"], *found.warnings]
        answer["events_read"] = len(found.lead.events)
        limit = self.settings.history_length
        window = timedelta(days=self.settings.trend_window_days)
        # This score, once recorded, is the latest: the trend's window ends at it (now).
        history, first = self.store.history(lead_id, limit, since=now - window)
        if body.as_of is None:
            history = [*self._record_scores(served, [answer], "request"), *history][:limit]
        else:
            first = self._first_in_window(lead_id, history)
        answer["history"] = [_entry(r) for r in history]
        answer["trend"] = self._trend(history[0] if history else None, first)
        return answer

    def rescore(self, lead_ids: list[str], trigger: str = "ingest") -> int:
        """Score stored leads as of now and record the scores; returns how many were scored
        (leads the model cannot score, e.g. without created_at, are skipped)."""
        served = self.scorer.served
        if served is None:
            return 0
        now = datetime.now(UTC)
        found = stored_inputs(self.store, lead_ids, now, self.settings.max_events_per_lead)
        # Reasons cost a tenth of the work and only webhook payloads would show them.
        explain = bool(self.outbox.subscriptions())
        answer = self.scorer.score_batch([f.lead for f in found], None, now, explain)
        scored = [r for r in answer["results"] if r["status"] == "scored"]
        self._record_scores(served, scored, trigger)
        return len(scored)

    def _record_scores(
        self, served: ServedModel, answers: list[dict[str, Any]], trigger: str
    ) -> list[ScoreRecord]:
        """Record scores in their leads' histories, with the webhook deliveries of the tier
        changes among them in the same transaction; returns the records."""
        records = [_record(served, a, trigger) for a in answers]
        deliveries = self.outbox.for_answers(answers, trigger, datetime.now(UTC))
        self.store.record_scores(records, deliveries)
        if deliveries is not None:
            self.on_deliveries()
        return records

    def _first_in_window(self, lead_id: str, history: list[ScoreRecord]) -> ScoreRecord | None:
        """The oldest score of the window ending at the latest one (`history`, newest first),
        read from `history` when it reaches back that far."""
        if not history:
            return None
        start = history[0].scored_at - timedelta(days=self.settings.trend_window_days)
        if len(history) < self.settings.history_length or history[-1].scored_at < start:
            inside = [r for r in history if r.scored_at >= start]
            return inside[-1]
        return self.store.history(lead_id, 0, since=start)[1]

    def _trend(self, latest: ScoreRecord | None, first: ScoreRecord | None) -> dict[str, Any]:
        """Where the score heads: the latest score against the oldest of the window."""
        window = self.settings.trend_window_days
        if latest is None or first is None or first.scored_at >= latest.scored_at:
            return {"direction": "new", "window_days": window, "change": None, "since": None}
        change = latest.score - first.score
        return {
            "direction": _direction(change, self.settings.trend_min_change),
            "window_days": window,
            "change": change,
            "since": first.scored_at,
        }


def _direction(change: int, threshold: int) -> str:
    if change >= threshold:
        return "improving"
    return "declining" if change <= -threshold else "steady"


def _record(served: ServedModel, answer: dict[str, Any], trigger: str) -> ScoreRecord:
    return ScoreRecord(
        lead_id=answer["lead_id"],
        scored_at=answer["scored_at"],
        as_of=answer["as_of"],
        probability=answer["probability"],
        score=answer["score"],
        tier=answer["tier"],
        model_name=served.ref.name,
        model_version=served.ref.version,
        trigger=trigger,
        fit=answer.get("fit"),
        engagement=answer.get("engagement"),
        grade=answer.get("grade"),
    )


def _entry(record: ScoreRecord) -> dict[str, Any]:
    return {
        "scored_at": record.scored_at,
        "as_of": record.as_of,
        "probability": record.probability,
        "score": record.score,
        "tier": record.tier,
        "fit": record.fit,
        "engagement": record.engagement,
        "grade": record.grade,
        "model": {"name": record.model_name, "version": record.model_version, "alias": None},
        "trigger": record.trigger,
    }
