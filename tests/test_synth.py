"""The synthetic generator: contract, determinism, causality and a believable funnel."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features.contract.schema import (
    EVENT_TYPES,
    FUNNEL_ORDER,
    INTENT_EVENTS,
    LEAD_ATTRIBUTES,
    MILESTONES,
    TERMINAL_MILESTONES,
)
from features.synth.generate import generate

N_LEADS = 5_000
START = datetime(2024, 1, 1, tzinfo=UTC)
END = pd.Timestamp("2025-07-01", tz="UTC")


def _generate(path: Path, seed: int = 11) -> Path:
    # Small chunks so the test also covers streaming several event parts.
    generate(path, N_LEADS, seed, START, months=18, chunk_size=2_000)
    return path


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generate(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def tables(synth_dir: Path) -> dict[str, pd.DataFrame]:
    return {
        "leads": pd.read_parquet(synth_dir / "leads.parquet"),
        "events": pd.read_parquet(synth_dir / "events"),
        "outcomes": pd.read_parquet(synth_dir / "outcomes.parquet"),
        "oracle": pd.read_parquet(synth_dir / "oracle.parquet"),
    }


@pytest.fixture(scope="module")
def won(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Per lead (in leads order): did it reach closed_won?"""
    outcomes = tables["outcomes"]
    return tables["leads"].lead_id.isin(outcomes.lead_id[outcomes.milestone == "closed_won"])


def test_same_seed_gives_byte_identical_files(synth_dir: Path, tmp_path: Path) -> None:
    again = _generate(tmp_path / "again")
    files = sorted(p.relative_to(synth_dir) for p in synth_dir.rglob("*") if p.is_file())
    assert [p for p in files if p.parts[0] == "events"] == [
        Path("events", f"part-{k:05d}.parquet") for k in range(3)
    ]
    for name in files:
        assert (synth_dir / name).read_bytes() == (again / name).read_bytes(), name


def test_another_seed_gives_other_data(tables: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    other = pd.read_parquet(_generate(tmp_path / "other", seed=12) / "leads.parquet")
    assert not other.equals(tables["leads"])


def test_tables_follow_the_contract(tables: dict[str, pd.DataFrame]) -> None:
    leads, events, outcomes = tables["leads"], tables["events"], tables["outcomes"]
    assert set(leads.columns) == {"lead_id", "created_at"} | (
        set(LEAD_ATTRIBUTES) - {"email_domain"}
    )
    assert list(events.columns) == [
        "lead_id",
        "occurred_at",
        "event_type",
        "page",
        "campaign",
        "channel",
    ]
    assert list(outcomes.columns) == ["lead_id", "milestone", "occurred_at", "amount"]
    for frame, column in (
        (leads, "created_at"),
        (events, "occurred_at"),
        (outcomes, "occurred_at"),
    ):
        assert isinstance(frame[column].dtype, pd.DatetimeTZDtype)
        assert str(frame[column].dt.tz) == "UTC"
    assert leads.employee_count.dtype == np.int64
    assert leads.annual_revenue.dtype == np.float64
    assert len(leads) == N_LEADS and leads.lead_id.is_unique
    assert leads.lead_id.iloc[0] == "L0000001" and leads.lead_id.iloc[-1] == "L0005000"
    assert set(events.event_type) <= set(EVENT_TYPES)
    assert set(outcomes.milestone) <= set(MILESTONES)
    assert events.lead_id.isin(leads.lead_id).all() and outcomes.lead_id.isin(leads.lead_id).all()
    # A deal amount on every closed-won row and nowhere else.
    assert (outcomes.amount.notna() == (outcomes.milestone == "closed_won")).all()
    assert (outcomes.amount.dropna() > 0).all()
    # Roughly 50 events per lead, with a long tail.
    assert 30 < len(events) / N_LEADS < 70


def test_nothing_happens_before_a_lead_exists_or_after_the_period(
    tables: dict[str, pd.DataFrame],
) -> None:
    created = tables["leads"].set_index("lead_id").created_at
    for name in ("events", "outcomes"):
        frame = tables[name]
        assert (frame.occurred_at >= frame.lead_id.map(created)).all(), name
        assert (frame.occurred_at < END).all(), name
    assert created.between(pd.Timestamp(START), END, inclusive="left").all()


def test_funnel_milestones_are_in_order_and_terminal_once(tables: dict[str, pd.DataFrame]) -> None:
    outcomes = tables["outcomes"].sort_values(["lead_id", "occurred_at"], kind="stable")
    stage = outcomes.milestone.map(FUNNEL_ORDER)
    assert (stage.groupby(outcomes.lead_id).diff().dropna() >= 0).all()
    terminal = outcomes[outcomes.milestone.isin(TERMINAL_MILESTONES)]
    assert terminal.lead_id.is_unique
    # Every deal went through the whole funnel first.
    won_leads = set(outcomes.lead_id[outcomes.milestone == "closed_won"])
    for milestone in ("mql", "sql", "opportunity"):
        assert won_leads <= set(outcomes.lead_id[outcomes.milestone == milestone]), milestone


def test_closed_won_rate_is_realistic(synth_dir: Path, won: pd.Series) -> None:
    assert 0.05 <= won.mean() <= 0.15
    summary = json.loads((synth_dir / "synth.json").read_text())
    assert summary["closed_won_rate"] == pytest.approx(won.mean())
    assert summary["n_leads"] == N_LEADS and summary["seed"] == 11
    assert "leadlytics.io" in summary["competitor_domains"]


def test_intent_is_more_frequent_for_converters(
    tables: dict[str, pd.DataFrame], won: pd.Series
) -> None:
    events = tables["events"]
    intent = events[events.event_type.isin(INTENT_EVENTS)].groupby("lead_id").size()
    per_lead = intent.reindex(tables["leads"].lead_id, fill_value=0).to_numpy()
    assert per_lead[won.to_numpy()].mean() > 3 * per_lead[~won.to_numpy()].mean()


def test_conversion_follows_observable_behaviour(tables: dict[str, pd.DataFrame]) -> None:
    """Sales picks up a visible hand-raise: most SQLs have one shortly before."""
    events, outcomes = tables["events"], tables["outcomes"]
    sql = outcomes[outcomes.milestone == "sql"].set_index("lead_id").occurred_at
    asks = events[events.event_type.isin(["demo_request", "contact_sales", "free_trial_signup"])]
    asks = asks[asks.occurred_at < asks.lead_id.map(sql)]
    assert asks.lead_id.nunique() / len(sql) > 0.6


def test_oracle_ranks_conversions_well(tables: dict[str, pd.DataFrame], won: pd.Series) -> None:
    oracle = tables["oracle"]
    assert (oracle.lead_id == tables["leads"].lead_id).all()
    assert roc_auc_score(won, oracle.p_convert) > 0.8
    # Calibrated by construction: expected and observed conversions agree.
    assert oracle.p_convert.sum() == pytest.approx(won.sum(), rel=0.1)
    # Some buying windows open months after the lead was created.
    created = tables["leads"].created_at
    late = (oracle.buying_window_start - created).dt.days > 60
    assert 0.1 < late[won.to_numpy()].mean() < 0.6


def test_decoys_look_like_decoys(tables: dict[str, pd.DataFrame], won: pd.Series) -> None:
    leads, events, oracle = tables["leads"], tables["events"], tables["oracle"]
    persona = oracle.set_index("lead_id").persona
    assert not won[(oracle.persona != "prospect").to_numpy()].any()
    careers = events[events.event_type == "careers_page_view"].lead_id.map(persona)
    assert careers.value_counts().idxmax() == "job_seeker"
    pricing = events[events.event_type == "pricing_page_view"].lead_id.map(persona)
    per_lead = pricing.value_counts() / persona.value_counts()
    assert per_lead["competitor"] > per_lead["prospect"]
    docs = events[events.event_type == "docs_page_view"].lead_id.map(persona)
    assert (docs.value_counts() / persona.value_counts()).idxmax() == "existing_customer"
    students = leads.email[(oracle.persona == "student").to_numpy()]
    assert students.str.contains(r"\.edu$|\.ac\.uk$|@uni-").mean() > 0.5
    competitors = leads.email[(oracle.persona == "competitor").to_numpy()]
    assert (
        competitors.str.contains("leadlytics|scorewise|funnelforge|pipelinepilot|revscope").mean()
        > 0.5
    )


def test_events_mostly_stop_after_a_lead_closes(tables: dict[str, pd.DataFrame]) -> None:
    events, outcomes = tables["events"], tables["outcomes"]
    closed = outcomes[outcomes.milestone.isin(TERMINAL_MILESTONES)].set_index("lead_id")
    created = tables["leads"].set_index("lead_id").created_at
    lost = closed[closed.milestone != "closed_won"].occurred_at
    of_lost = events[events.lead_id.isin(lost.index)]
    after = of_lost.occurred_at > of_lost.lead_id.map(lost)
    days_before = (lost - created[lost.index]).dt.total_seconds().sum() / 86_400
    days_after = (END - lost).dt.total_seconds().sum() / 86_400
    assert after.sum() / days_after < 0.25 * (~after).sum() / days_before
    # New customers keep reading the docs.
    won_at = closed[closed.milestone == "closed_won"].occurred_at
    of_won = events[events.lead_id.isin(won_at.index)]
    after_won = of_won[of_won.occurred_at > of_won.lead_id.map(won_at)]
    assert (after_won.event_type == "docs_page_view").mean() > 0.3


def test_job_titles_and_emails_are_messy_free_text(tables: dict[str, pd.DataFrame]) -> None:
    leads = tables["leads"]
    titles = leads.job_title.dropna()
    assert titles.nunique() > 200
    assert titles.str.islower().any() and leads.job_title.isna().any()
    assert leads.email.str.fullmatch(r"[a-z0-9._]+@[a-z0-9.\-]+\.[a-z.]+").all()
    assert leads.email.str.endswith("@gmail.com").any()
