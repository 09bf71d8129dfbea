"""The journey store itself, on SQLite and a real PostgreSQL: migrations under concurrency,
point-in-time journeys, merges, and the rescoring queue's back-pressure."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from serving.rescoring import Backlogged, RescoringQueue
from serving.store.engine import create_engine
from serving.store.migrate import head_revision, migrate
from serving.store.store import JourneyStore, LeadRecord, NewEvent

T0 = datetime(2025, 5, 1, tzinfo=UTC)


def test_processes_starting_together_migrate_once(store_url):
    """Workers starting at once: one migrates, the others find the schema at head."""
    engines = [create_engine(store_url) for _ in range(4)]
    barrier = threading.Barrier(len(engines))

    def start(engine: sa.Engine) -> str:
        barrier.wait()
        return migrate(engine)

    with ThreadPoolExecutor(len(engines)) as pool:
        revisions = list(pool.map(start, engines))
    assert revisions == [head_revision()] * len(engines)
    assert head_revision() == "0002"
    with engines[0].connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    assert {"leads", "events", "scores", "webhooks", "webhook_deliveries"} <= tables
    for engine in engines:
        engine.dispose()


def test_journeys_are_the_newest_events_strictly_before_the_cut_off(store_url):
    store = JourneyStore.open(store_url)
    events = [NewEvent("a", "email_open", T0 + timedelta(hours=h)) for h in range(10)]
    events += [NewEvent("b", "demo_request", T0), NewEvent("a", "demo_request", T0)]
    store.add_events(events, received_at=T0)
    cut_off = T0 + timedelta(hours=6)  # the event at exactly 6 h is not before it
    a, b, c = store.journeys(["a", "b", "c"], cut_off, limit=4)
    assert [e["occurred_at"] for e in a.events] == [T0 + timedelta(hours=h) for h in (2, 3, 4, 5)]
    assert a.left_out == 3  # hours 0 (two events) and 1
    assert b.events == [{"event_type": "demo_request", "occurred_at": T0}] and b.left_out == 0
    assert c.events == [] and c.left_out == 0
    store.close()


def test_merges_keep_what_is_not_sent(store_url):
    store = JourneyStore.open(store_url)
    created = store.upsert_leads(
        [
            LeadRecord("a", T0, {"industry": "Retail", "country": "DE"}),
            LeadRecord("a", None, {"industry": "Software"}),  # merged in order
            LeadRecord("b", None, {}),
        ]
    )
    assert created == [True, False, True]
    assert store.upsert_leads([LeadRecord("b", T0, {"x": None})]) == [False]
    records = store.records(["a", "b", "c"])
    assert records == {
        "a": (T0, {"industry": "Software", "country": "DE"}),
        "b": (T0, {"x": None}),
    }
    store.close()


def test_an_unsupported_database_is_named_with_the_fix():
    with pytest.raises(ValueError, match="runs on SQLite or PostgreSQL, not mysql"):
        create_engine("mysql://localhost/db")


def test_a_full_queue_refuses_after_waiting_and_frees_room_as_it_rescored():
    """Back-pressure: while rescoring is stuck, a call that does not fit waits, then is
    refused; once rescoring moves, the same call fits."""
    release = threading.Event()
    rescored: list[list[str]] = []

    def rescore(lead_ids: list[str]) -> None:
        release.wait(10)
        rescored.append(lead_ids)

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as executor:
            queue = RescoringQueue(rescore, executor, capacity=3, batch_size=2, wait_seconds=0.2)
            worker = asyncio.create_task(queue.run())
            await queue.make_room(["a", "b"])
            await queue.add(["a", "b"])
            await asyncio.sleep(0.05)  # the worker took a and b, and is stuck on them
            await queue.make_room(["c", "d", "e"])
            await queue.add(["c", "d", "e"])
            assert queue.pending == 3
            await queue.make_room(["c"])  # already queued: fits
            with pytest.raises(Backlogged, match="3 leads wait"):
                await queue.make_room(["f"])
            release.set()
            await asyncio.wait_for(queue.make_room(["f"]), 5)
            while queue.pending:
                await asyncio.sleep(0.01)
            worker.cancel()

    asyncio.run(scenario())
    assert [lead for batch in rescored for lead in batch] == ["a", "b", "c", "d", "e"]


def test_lead_ids_pages_through_records_and_events_once_each(store_url):
    store = JourneyStore.open(store_url)
    records = [f"L{i:03}" for i in range(0, 60, 2)]  # even ids have a record
    store.upsert_leads([LeadRecord(lead_id, T0, {}) for lead_id in records])
    events = [NewEvent(f"L{i:03}", "email_open", T0) for i in range(30, 90) for _ in range(2)]
    store.add_events(events, received_at=T0)  # ids 30-89, two events each
    pages = list(store.lead_ids(batch_size=7))
    every = [lead_id for page in pages for lead_id in page]
    expected = sorted({*records, *(f"L{i:03}" for i in range(30, 90))})
    assert every == expected and store.count_leads() == len(expected)
    assert all(len(page) == 7 for page in pages[:-1])
    store.close()


def test_a_store_of_an_older_version_is_upgraded_with_its_data(store_url):
    """A service of this version started on the previous version's store migrates it."""
    from alembic import command

    from serving.store.migrate import alembic_config

    engine = create_engine(store_url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO leads (lead_id, created_at_us, attributes, updated_at_us) "
            "VALUES ('old', 0, '{\"industry\": \"Retail\"}', 0)"
        )
    engine.dispose()
    store = JourneyStore.open(store_url)
    assert store.records(["old"]) == {
        "old": (datetime(1970, 1, 1, tzinfo=UTC), {"industry": "Retail"})
    }
    with store.engine.connect() as connection:
        assert "webhook_deliveries" in sa.inspect(connection).get_table_names()
    store.close()


def test_under_sustained_load_rescoring_keeps_to_its_share_of_the_time():
    """share=0.5: after a batch that took t while more leads wait, the next starts t later."""
    starts: list[float] = []

    def rescore(lead_ids: list[str]) -> None:
        starts.append(time.monotonic())
        time.sleep(0.1)

    async def scenario() -> None:
        with ThreadPoolExecutor(1) as executor:
            queue = RescoringQueue(
                rescore, executor, capacity=10, batch_size=1, wait_seconds=1, share=0.5
            )
            worker = asyncio.create_task(queue.run())
            await queue.add(["a", "b"])
            while queue.rescored < 2:
                await asyncio.sleep(0.01)
            worker.cancel()

    asyncio.run(scenario())
    assert starts[1] - starts[0] >= 0.19  # 0.1 busy + 0.1 pause
