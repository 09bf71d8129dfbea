"""Engines and transactions of the journey store: the only place that knows SQLite and
PostgreSQL apart."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa


@contextmanager
def transaction(
    engine: sa.Engine, *, durable: bool = True, immediate: bool = False
) -> Iterator[sa.Connection]:
    """A connection in a transaction, committed on leaving. On SQLite, `durable` commits are
    synced to disk before they return (what a caller is told is stored survives a power cut);
    others are synced with the next durable commit or checkpoint (they survive a crash of the
    service, not of the machine): scores and delivery states, which events can rebuild.
    `immediate` takes the write lock at the start (a transaction that reads, then writes)."""
    connection = engine.connect().execution_options(durable=durable, immediate=immediate)
    with connection, connection.begin():
        yield connection


def parse_store_url(url: str) -> sa.URL:
    """The store's URL, parsed; ValueError saying what is wrong when it is not a SQLite or
    PostgreSQL URL (the service and the CLI refuse URLs with this one check)."""
    usage = "give sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB"
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ValueError(f"{url!r} is not a database URL: {usage}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        shown = parsed.render_as_string(hide_password=True)
        raise ValueError(
            f"{shown}: the journey store runs on SQLite or PostgreSQL, not {backend}: {usage}"
        )
    return parsed


def create_engine(url: str) -> sa.Engine:
    """An engine for the store's URL: `postgresql://` uses psycopg 3; a SQLite file gets WAL,
    a sync level per transaction (see `transaction`) and a busy timeout, so several threads
    and processes share it."""
    parsed = parse_store_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    engine = sa.create_engine(
        parsed,
        # The standard library writes integers of any size, which event properties may hold.
        json_serializer=json.dumps,
        json_deserializer=orjson.loads,
    )
    if backend == "sqlite":
        _sqlite_settings(engine)
    return engine


_BUSY_TIMEOUT_MS = 10_000


def _enable_wal(cursor: Any) -> None:
    """WAL mode, waiting out other connections that are switching it at the same moment:
    SQLite answers "database is locked" there at once, without calling the busy handler
    (seen with four processes opening a new store together on a loaded machine)."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_settings(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        options = connection.get_execution_options()
        # Per transaction (see `transaction`); the pragma is sent only when it changes.
        # Only `transaction(durable=True)` syncs: reads and unmarked writes ride along.
        level = "FULL" if options.get("durable", False) else "NORMAL"
        info = connection.connection.info
        if info.get("synchronous") != level:
            connection.exec_driver_sql(f"PRAGMA synchronous={level}")
            info["synchronous"] = level
        # IMMEDIATE takes the write lock up front: transactions that read, then write, never
        # fail half-way on a lock upgrade.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get("immediate") else "BEGIN")
