"""Bring a store's schema to the newest version with Alembic, at service start.

Several processes may start at once (uvicorn workers, hosts sharing PostgreSQL): the upgrade
runs under a lock, so one migrates and the others find the schema at head.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from serving.store.engine import transaction

MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed number: PostgreSQL advisory locks are named by integers.
_LOCK_KEY = 0x1EAD5C0E


def migrate(engine: sa.Engine) -> str:
    """Upgrade the schema to head under a lock; returns the revision it is at."""
    config = alembic_config()
    with transaction(engine, immediate=True) as connection:
        if connection.dialect.name == "postgresql":
            lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": _LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return MigrationContext.configure(connection).get_current_revision() or ""


def head_revision() -> str:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def alembic_config() -> Config:
    """Alembic's configuration for the store's migrations (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config
