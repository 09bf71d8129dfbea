"""`leadscore store load` backfills the journey store from a contract directory (Parquet from
`data synth`, or a CRM's CSV with a mapping) and stores nothing twice; `leadscore score
--from-store` scores every stored lead as `leadscore score` scores the same tables, and records
each score in the lead's history; a bad directory, store or combination of options is one line
and exit code 2, with nothing written. Loading and scoring run on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import yaml
from typer.testing import CliRunner

import serving.cli
from leadscore import app
from serving.store import tables as store_tables
from serving.store.store import JourneyStore, NewEvent
from tests.serving_fixtures import AS_OF_TIME, make_model, synthetic_leads
from tests.test_mapping_real_tables import MAPPING, marketplace

# The environment's API-key settings must not leak into `leadscore score`, nor its store.
ENV = {
    "LEADSCORE_API_KEYS": "",
    "LEADSCORE_ADMIN_KEYS": "",
    "LEADSCORE_MODE": "",
    "LEADSCORE_STORE_URL": "",
}
AS_OF = "2025-06-01T00:00:00"
N_LEADS = 60


def run(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV | (env or {}))


@pytest.fixture
def contract_dir(tmp_path: Path) -> Path:
    """leads.parquet and events.parquet as `data synth` writes them (no outcomes: the store
    keeps none), with one event recorded twice, as trackers do."""
    leads, events = synthetic_leads(N_LEADS, seed=5)
    leads["created_at"] = pd.to_datetime(leads["created_at"], utc=True)
    events = pd.concat([events, events.iloc[:1]], ignore_index=True)
    events["page"] = np.where(events.index % 2 == 0, "/pricing", None)
    directory = tmp_path / "contract"
    directory.mkdir()
    leads.to_parquet(directory / "leads.parquet", index=False)
    events.to_parquet(directory / "events.parquet", index=False)
    return directory


def _count(url: str, table: sa.Table) -> int:
    store = JourneyStore.open(url)
    try:
        with store.engine.connect() as connection:
            return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    finally:
        store.close()


def test_load_twice_stores_everything_once(contract_dir: Path, store_url: str) -> None:
    leads = pd.read_parquet(contract_dir / "leads.parquet")
    n_events = len(pd.read_parquet(contract_dir / "events.parquet"))
    # The store named by LEADSCORE_STORE_URL, as the service finds it.
    first = run("store", "load", "--data", contract_dir, env={"LEADSCORE_STORE_URL": store_url})
    assert first.exit_code == 0, first.output
    shown = JourneyStore.open(store_url)
    description = shown.description
    shown.close()
    assert (
        f"stored {N_LEADS} leads ({N_LEADS} new) and {n_events:,} events ({n_events:,} new, "
        f"0 already stored) in {description}"
    ) in first.stdout

    again = run("store", "load", "--data", contract_dir, "--store", store_url)
    assert again.exit_code == 0, again.output
    assert (
        f"stored {N_LEADS} leads (0 new) and {n_events:,} events (0 new, {n_events:,} "
        "already stored)"
    ) in again.stdout
    # The event recorded twice is two events (an ordinal tells them apart), stored once each.
    assert _count(store_url, store_tables.events) == n_events
    assert _count(store_url, store_tables.leads) == N_LEADS

    store = JourneyStore.open(store_url)
    try:
        assert store.count_leads() == N_LEADS
        row = leads.iloc[0]
        stored = store.lead(row["lead_id"])
        assert stored.created_at == row["created_at"].to_pydatetime()
        expected = {
            column: None if pd.isna(row[column]) else row[column]
            for column in ("job_title", "email", "industry", "employee_count")
        }
        assert stored.attributes == expected
        journey = store.journeys([row["lead_id"]], AS_OF_TIME, limit=10_000)[0].events
        assert len(journey) == stored.events
    finally:
        store.close()


def test_a_semicolon_latin1_crm_table_without_events_loads_with_its_mapping(
    tmp_path: Path,
) -> None:
    marketplace(tmp_path, n=200)  # mqls.csv: mql_id, first_contact_date, landing_page_id, ...
    mqls = pd.read_csv(tmp_path / "mqls.csv", dtype=str)
    mqls["city"] = np.resize(["Málaga", "Köln", "Zürich", None], len(mqls))
    directory = tmp_path / "crm"
    directory.mkdir()
    mqls.to_csv(directory / "leads.csv", sep=";", encoding="latin-1", index=False)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING))  # its outcomes section is not used
    url = f"sqlite:///{tmp_path / 'store.db'}"

    args = ("store", "load", "--data", directory, "--mapping", mapping, "--store", url)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "read leads.csv as ';'-separated Windows-1252 (Latin-1)" in result.stdout
    assert "has no events table" in result.stdout
    assert "stored 200 leads (200 new) and 0 events in" in result.stdout
    assert run(*args).stdout.count("stored 200 leads (0 new) and 0 events") == 1

    store = JourneyStore.open(url)
    try:
        stored = store.lead(mqls["mql_id"].iloc[0])
        assert stored.created_at == datetime.fromisoformat(
            mqls["first_contact_date"].iloc[0]
        ).replace(tzinfo=UTC)
        assert stored.attributes == {
            "landing_page": mqls["landing_page_id"].iloc[0],
            "origin": mqls["origin"].iloc[0],
            "city": "Málaga",
        }
        assert store.lead(mqls["mql_id"].iloc[3]).attributes["city"] is None
    finally:
        store.close()


def test_score_from_store_records_history_and_matches_score_of_the_tables(
    contract_dir: Path, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages of ids and batches of leads that do not divide the leads: every edge is crossed.
    monkeypatch.setattr(serving.cli, "STORE_ID_PAGE", 25)
    monkeypatch.setattr(serving.cli, "STORE_BATCH_LEADS", 10)
    model = make_model(seed=4, n_leads=600, rounds=5).save(tmp_path / "model")
    loaded = run("store", "load", "--data", contract_dir, "--store", store_url)
    assert loaded.exit_code == 0, loaded.output
    # A lead known only from its events (no record, so no created_at) cannot be scored.
    store = JourneyStore.open(store_url)
    store.add_events([NewEvent("ghost", "demo_request", AS_OF_TIME)], AS_OF_TIME)
    store.close()

    from_store = tmp_path / "from_store.csv"
    result = run(
        "score", "--from-store", "--store", store_url, "--model", model,
        "--as-of", AS_OF, "--out", from_store, "--reasons",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"scored {N_LEADS} leads as of 2025-06-01T00:00:00+00:00" in result.stdout
    assert "recorded in the score history of" in result.stdout
    assert f"1 of {N_LEADS + 1} stored leads not scored: no created_at" in result.stderr
    assert "['ghost']" in result.stderr

    from_tables = tmp_path / "from_tables.csv"
    result = run(
        "score", "--leads", contract_dir / "leads.parquet",
        "--events", contract_dir / "events.parquet", "--model", model,
        "--as-of", AS_OF, "--out", from_tables, "--reasons",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    stored = pd.read_csv(from_store).sort_values("lead_id", ignore_index=True)
    table = pd.read_csv(from_tables).sort_values("lead_id", ignore_index=True)
    assert list(stored.columns) == list(table.columns)
    pd.testing.assert_frame_equal(stored, table)  # probabilities equal, not close

    assert _count(store_url, store_tables.scores) == N_LEADS
    store = JourneyStore.open(store_url)
    try:
        for lead_id, probability in table[["lead_id", "probability"]].head().to_numpy():
            (record,), _ = store.history(lead_id, limit=10)
            assert record.probability == probability
            assert record.trigger == "batch"
            assert record.as_of == AS_OF_TIME
            assert record.model_name == "lead-conversion" and record.model_version is None
        assert store.history("ghost", limit=10) == ([], None)
    finally:
        store.close()

    # Without --out the scores are recorded only; a second run adds a second history row.
    result = run("score", "--from-store", "--store", store_url, "--model", model, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert " -> " not in result.stdout
    assert _count(store_url, store_tables.scores) == 2 * N_LEADS


def _one_line_error(result, *says: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in says:
        assert text in lines[0], lines[0]


def test_bad_directories_stores_and_options_are_one_line(
    contract_dir: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store.db"
    url = f"sqlite:///{store}"
    result = run("store", "load", "--data", tmp_path / "nowhere", "--store", url)
    _one_line_error(result, "nowhere", "not a contract data directory", "leadscore data synth")

    result = run("store", "load", "--data", contract_dir, "--store", "mysql://x")
    _one_line_error(result, "--store", "mysql://x", "SQLite or PostgreSQL", "sqlite:///FILE")
    result = run("store", "load", "--data", contract_dir, env={"LEADSCORE_STORE_URL": "none"})
    _one_line_error(result, "LEADSCORE_STORE_URL", "'none' is not a database URL")

    # A malformed row fails the load before anything is stored, named by file and line.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "leads.csv").write_text(
        "lead_id,created_at,job_title\nL1,2025-01-01T00:00:00Z,CEO\nL2,yesterday,CTO\n"
    )
    result = run("store", "load", "--data", bad, "--store", url)
    _one_line_error(result, "leads/unparseable_timestamp", f"{bad / 'leads.csv'}:3", "quarantine")
    assert not store.exists()
    # Quarantine mode stores the rest and sets the row aside with its reason.
    quarantine = tmp_path / "quarantine"
    args = ("--mode", "quarantine", "--quarantine-dir", quarantine)
    result = run("store", "load", "--data", bad, "--store", url, *args)
    assert result.exit_code == 0, result.output
    assert "quarantined: leads/unparseable_timestamp: 1 row(s) set aside" in result.stdout
    assert "stored 1 leads (1 new)" in result.stdout
    assert pd.read_csv(quarantine / "leads.csv")["lead_id"].tolist() == ["L2"]
    store.unlink()

    model = "models/none"  # options are checked before a model is loaded
    result = run(
        "score", "--from-store", "--leads", contract_dir / "leads.parquet", "--model", model
    )
    _one_line_error(result, "--from-store", "leave out --leads")
    result = run("score", "--from-store", "--store", url, "--model", model)
    _one_line_error(result, "no journey store at", str(store), "leadscore store load")
    assert not store.exists()
    result = run("score", "--store", url, "--leads", contract_dir / "leads.parquet")
    _one_line_error(result, "add --from-store")


def test_score_from_store_as_of_now_announces_tier_changes_and_a_backfill_does_not(
    contract_dir: Path, tmp_path: Path
) -> None:
    """A nightly rescore is rescoring: its tier changes go to the webhooks' outbox (sent by
    the running service); scoring as of another time is a backfill and notifies nobody."""
    from datetime import UTC, datetime

    from serving.store.webhooks import Subscription, WebhookStore

    url = f"sqlite:///{tmp_path / 'store.db'}"
    model = make_model(seed=4, n_leads=600, rounds=5).save(tmp_path / "model")
    assert run("store", "load", "--data", contract_dir, "--store", url).exit_code == 0
    store = JourneyStore.open(url)
    webhooks = WebhookStore(store.engine)
    now = datetime.now(UTC)
    webhooks.subscribe(
        Subscription("wh_1", "http://127.0.0.1:9/", ("none -> *",), "s" * 20, None, now)
    )

    backfill = run("score", "--from-store", "--store", url, "--model", model, "--as-of", AS_OF)
    assert backfill.exit_code == 0, backfill.output
    assert webhooks.deliveries("wh_1", None, 1000) == []
    with store.engine.begin() as connection:  # forget the backfill: first scores again
        connection.execute(sa.delete(store_tables.scores))

    nightly = run("score", "--from-store", "--store", url, "--model", model)
    assert nightly.exit_code == 0, nightly.output
    deliveries = webhooks.deliveries("wh_1", None, 1000)
    assert len(deliveries) == N_LEADS  # every lead's first score: none -> its tier
    assert {d.lead_id for d in deliveries} == set(
        pd.read_parquet(contract_dir / "leads.parquet")["lead_id"]
    )
    store.close()
