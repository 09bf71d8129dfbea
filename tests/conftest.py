"""Test-wide setup."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.postgres import PostgresUnavailable, start_postgres


@pytest.fixture(autouse=True)
def _mlflow_store_in_tmp(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """Point MLflow at a store in the session's tmp directory, so that no test (e.g. one
    running `leadscore train`, which logs by default) writes to the repository's mlflow.db."""
    store = tmp_path_factory.getbasetemp() / "mlflow-default"
    store.mkdir(exist_ok=True)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")


@pytest.fixture(autouse=True)
def _journey_store_in_tmp(tmp_path: Path, monkeypatch) -> None:
    """Give every test (and the services it starts) a journey store of its own in its tmp
    directory, so no test writes leadscore-store.db into the repository or sees another's."""
    monkeypatch.setenv("LEADSCORE_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The SQLAlchemy URL of a real PostgreSQL server on loopback, one per test session.

    Skipped where PostgreSQL cannot run, except in CI, where that fails: CI must run them."""
    # Not under tmp_path_factory: as root the server runs as `postgres`, which cannot enter
    # pytest's root-only (0700) tmp tree; the system tmp directory is open to it.
    with tempfile.TemporaryDirectory(prefix="leadscore-postgres-") as directory:
        try:
            server = start_postgres(Path(directory))
        except PostgresUnavailable as unavailable:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true and PostgreSQL cannot run here: {unavailable}")
            pytest.skip(f"PostgreSQL cannot run here: {unavailable}")
        with server:
            yield server.url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty journey store: a SQLite file in tmp_path, or a new database on the
    session's PostgreSQL server (dropped afterwards), so no other test's rows are counted."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    server = sa.engine.make_url(request.getfixturevalue("postgres_url"))
    name = f"store_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
