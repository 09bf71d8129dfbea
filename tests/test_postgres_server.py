"""The test PostgreSQL server is real: SQLAlchemy over psycopg writes and reads a row."""

from __future__ import annotations

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, text


def test_postgres_server_stores_and_returns_a_row(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    metadata = MetaData()
    leads = Table(
        "smoke_leads",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("email", String(200), nullable=False),
    )
    try:
        with engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(leads.insert(), [{"id": 1, "email": "ada@example.com"}])
        with engine.connect() as connection:
            rows = connection.execute(select(leads.c.id, leads.c.email)).all()
            version = connection.execute(text("SELECT version()")).scalar_one()
            database = connection.execute(text("SELECT current_database()")).scalar_one()
        assert [tuple(row) for row in rows] == [(1, "ada@example.com")]
        assert version.startswith("PostgreSQL ")
        assert database == "leadscore"
        assert engine.dialect.driver == "psycopg"
    finally:
        # The server lives for the whole session: leave it as other tests expect to find it.
        with engine.begin() as connection:
            metadata.drop_all(connection)
        engine.dispose()
