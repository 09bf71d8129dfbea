"""Realistic synthetic B2B leads, journeys and funnel outcomes (`leadscore data synth`).

The generative story of one lead (its hidden factors are written to `oracle.parquet`):

1. A persona: a prospect, or a decoy that never buys new business (job seeker, student,
   competitor, existing customer).
2. Who they are: an organisation (industry, size, revenue, country) and a role (seniority,
   department), rendered as a messy free-text job title and an email address. Together with
   noise they give a hidden ICP fit in (0, 1).
3. Whether and when they are in market: some prospects (more often the well-fitting ones)
   have a buying window that opens at creation or months later, and an evaluation intensity.
4. Their journey: Poisson processes whose rates depend on the above. Interest (email, blog,
   downloads, webinars) follows a per-lead engagement level only weakly tied to fit; intent
   (pricing, demo requests, contact sales, trials) clusters inside the buying window; decoys
   have their own habits (careers pages, student downloads, competitors watching pricing,
   customers in the docs). Activity follows business hours in the lead's country.
5. The funnel: MQL, SAL, SQL, opportunity and closed won/lost or disqualified, each a
   realistic delay *after* the behaviour that triggers it. Whether a window lead buys is
   drawn from its hidden factors only, so `oracle.p_convert` is exactly the probability of a
   closed-won deal within the generated period given those factors: the best ranking any
   model could reach. It is never a feature.

Each chunk of leads is generated with vectorised numpy from its own random stream (seed,
chunk number) and streamed to Parquet: output is a pure function of the arguments
(including `chunk_size`) and memory stays flat however many leads are asked for.

Modules: `synth_vocab` (names, shares and true ICP weights), `synth_world` (organisations,
calendar, string tables), `synth_leads` (steps 1-3), `synth_journeys` (4), `synth_funnel`
(5), `synth_sampling` (vectorised draws); this module runs the chunks and writes the tables.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from features.contract.schema import (
    AMOUNT,
    CREATED_AT,
    EVENT_CODE,
    EVENT_TYPE,
    EVENT_TYPES,
    LEAD_ID,
    MILESTONE,
    OCCURRED_AT,
    EventType,
    Milestone,
)
from features.synth import vocab as V
from features.synth.funnel import MILESTONE_COLUMNS, draw_funnel, drop_after_close
from features.synth.journeys import UNSET, Events, draw_journeys
from features.synth.leads import Leads, draw_leads
from features.synth.sampling import norm
from features.synth.world import World

_NS = 1_000_000_000
_TS = pa.timestamp("ns", tz="UTC")
_WON = MILESTONE_COLUMNS.index(Milestone.CLOSED_WON)
_DEFAULT_CHANNEL = np.full(len(EVENT_TYPES), V.CHANNEL_INDEX["web"], dtype=np.int8)
for _event in (
    EventType.EMAIL_OPEN,
    EventType.EMAIL_CLICK,
    EventType.UNSUBSCRIBE,
    EventType.EMAIL_BOUNCE,
):
    _DEFAULT_CHANNEL[EVENT_CODE[_event]] = V.CHANNEL_INDEX["email"]
for _event in (EventType.WEBINAR_REGISTRATION, EventType.WEBINAR_ATTENDANCE):
    _DEFAULT_CHANNEL[EVENT_CODE[_event]] = V.CHANNEL_INDEX["webinar"]


class SynthSummary(BaseModel):
    """What was generated; written to `synth.json` next to the data."""

    seed: int
    n_leads: int
    chunk_size: int
    start: datetime
    end: datetime
    n_events: int
    n_outcomes: int
    closed_won_rate: float
    events_by_type: dict[str, int]
    milestones: dict[str, int]
    personas: dict[str, int]
    competitor_domains: list[str]
    oracle_note: str = (
        "oracle.parquet holds each lead's hidden factors and true conversion probability: "
        "use it only to measure how close a model gets to the best ranking, never as a feature."
    )


def generate(
    out_dir: Path,
    n_leads: int,
    seed: int,
    start: datetime,
    months: int = 18,
    chunk_size: int = 100_000,
) -> SynthSummary:
    """Write leads, events (one Parquet part per chunk), outcomes, oracle and synth.json."""
    if n_leads < 1 or months < 1 or chunk_size < 1:
        raise ValueError("n_leads, months and chunk_size must all be at least 1.")
    start_ts = pd.Timestamp(start)
    start_ts = start_ts.tz_localize("UTC") if start_ts.tz is None else start_ts.tz_convert("UTC")
    end_ts = start_ts + pd.DateOffset(months=months)
    world = World.build(seed, n_leads, start_ts, end_ts)

    out_dir = Path(out_dir)
    events_dir = out_dir / "events"
    events_dir.mkdir(parents=True, exist_ok=True)
    for stale in events_dir.glob("part-*.parquet"):  # parts of an earlier, larger run
        stale.unlink()

    tally = _Tally()
    id_width = max(7, len(str(n_leads)))
    writers = {
        name: pq.ParquetWriter(out_dir / f"{name}.parquet", schema)
        for name, schema in (
            ("leads", _LEADS_SCHEMA),
            ("outcomes", _OUTCOMES_SCHEMA),
            ("oracle", _ORACLE_SCHEMA),
        )
    }
    try:
        for chunk_no, first in enumerate(range(0, n_leads, chunk_size)):
            n = min(chunk_size, n_leads - first)
            rng = np.random.default_rng([seed, chunk_no + 1])
            leads = draw_leads(rng, world, n)
            events = draw_journeys(rng, world, leads)
            outcomes = draw_funnel(rng, world, leads, events)
            events = drop_after_close(rng, events, outcomes)
            ids = _lead_ids(first, n, id_width)
            writers["leads"].write_table(_leads_table(rng, world, leads, ids))
            writers["outcomes"].write_table(_outcomes_table(rng, leads, outcomes, ids))
            writers["oracle"].write_table(_oracle_table(leads, ids))
            pq.write_table(
                _events_table(rng, world, events, ids), events_dir / f"part-{chunk_no:05d}.parquet"
            )
            tally.add(leads, events, outcomes)
    finally:
        for writer in writers.values():
            writer.close()

    summary = SynthSummary(
        seed=seed,
        n_leads=n_leads,
        chunk_size=chunk_size,
        start=start_ts.to_pydatetime(),
        end=end_ts.to_pydatetime(),
        n_events=int(tally.events.sum()),
        n_outcomes=int(tally.milestones.sum()),
        closed_won_rate=float(tally.milestones[_WON] / n_leads),
        events_by_type=dict(zip(EVENT_TYPES, tally.events.tolist(), strict=True)),
        milestones={
            m.value: int(c) for m, c in zip(MILESTONE_COLUMNS, tally.milestones, strict=True)
        },
        personas=dict(zip(V.PERSONAS, tally.personas.tolist(), strict=True)),
        competitor_domains=list(V.COMPETITOR_DOMAINS),
    )
    (out_dir / "synth.json").write_text(summary.model_dump_json(indent=2) + "\n")
    return summary


_LEADS_SCHEMA = pa.schema(
    [
        (LEAD_ID, pa.string()),
        (CREATED_AT, _TS),
        ("industry", pa.string()),
        ("employee_count", pa.int64()),
        ("annual_revenue", pa.float64()),
        ("country", pa.string()),
        ("job_title", pa.string()),
        ("email", pa.string()),
        ("lead_source", pa.string()),
        ("campaign", pa.string()),
    ]
)
_OUTCOMES_SCHEMA = pa.schema(
    [(LEAD_ID, pa.string()), (MILESTONE, pa.string()), (OCCURRED_AT, _TS), (AMOUNT, pa.float64())]
)
_ORACLE_SCHEMA = pa.schema(
    [
        (LEAD_ID, pa.string()),
        ("p_convert", pa.float64()),
        ("persona", pa.string()),
        ("icp_fit", pa.float64()),
        ("engagement", pa.float64()),
        ("intent", pa.float64()),
        ("true_seniority", pa.string()),
        ("true_department", pa.string()),
        ("has_buying_window", pa.bool_()),
        ("buying_window_start", _TS),
        ("buying_window_end", _TS),
        ("decision_at", _TS),
    ],
    metadata={
        b"warning": b"Hidden factors of the synthetic world: never use them as features.",
    },
)


def _lead_ids(first: int, n: int, width: int) -> pa.Array:
    numbers = pc.cast(pa.array(np.arange(first + 1, first + n + 1)), pa.string())
    return pc.binary_join_element_wise("L", pc.utf8_lpad(numbers, width, "0"), "")


def _leads_table(rng: np.random.Generator, world: World, leads: Leads, ids: pa.Array) -> pa.Table:
    n = len(leads)
    org = leads.org
    # CRM fields are often empty: the truth (used for the ICP) is still there, unobserved.
    industry = np.where(rng.random(n) < 0.04, -1, world.org_industry[org])
    country = np.where(rng.random(n) < 0.02, -1, world.org_country[org])
    revenue = world.org_revenue[org]
    revenue_missing = ~np.isfinite(revenue) | (rng.random(n) < 0.2)
    option = (rng.random(n) * world.source_campaign_count[leads.source]).astype(np.int64)
    template = world.source_campaigns[leads.source, option]
    quarter = world.month_quarter[world.month_of(leads.created)]
    campaign = np.where(template < 0, -1, template * world.n_quarters + quarter)
    return pa.table(
        [
            ids,
            _timestamps(leads.created),
            _strings(industry, pa.array([i[0] for i in V.INDUSTRIES])),
            pa.array(world.org_employees[org]),
            pa.array(np.round(revenue, -3), mask=revenue_missing),
            _strings(country, pa.array([c[0] for c in V.COUNTRIES])),
            _job_titles(rng, world, leads),
            _emails(rng, world, leads),
            _strings(leads.source, pa.array([s[0] for s in V.LEAD_SOURCES])),
            _strings(campaign, world.campaigns),
        ],
        schema=_LEADS_SCHEMA,
    )


def _job_titles(rng: np.random.Generator, world: World, leads: Leads) -> pa.Array:
    """Free text as people type it: variants, odd casing, junk and blanks."""
    n = len(leads)
    start = world.title_start[leads.seniority, leads.department]
    count = world.title_count[leads.seniority, leads.department]
    title = start + (rng.random(n) * count).astype(np.int64)
    junk = rng.random(n) < 0.03
    title[junk] = world.junk_title_start + rng.integers(0, len(V.JUNK_TITLES), int(junk.sum()))
    titles = world.titles.take(pa.array(title, mask=rng.random(n) < 0.05))
    case = rng.random(n)
    titles = pc.if_else(pa.array(case < 0.08), pc.utf8_lower(titles), titles)
    return pc.if_else(pa.array(case > 0.98), pc.utf8_upper(titles), titles)


def _emails(rng: np.random.Generator, world: World, leads: Leads) -> pa.Array:
    """first.last@company style addresses; free webmail for some, with digits."""
    n = len(leads)
    first = pa.array(V.FIRST_NAMES).take(rng.integers(0, len(V.FIRST_NAMES), n))
    last = pa.array(V.LAST_NAMES).take(rng.integers(0, len(V.LAST_NAMES), n))
    style = rng.choice(4, n, p=[0.6, 0.2, 0.1, 0.1])  # first.last, flast, first, first_last
    style[leads.free_email] = np.where(rng.random(int(leads.free_email.sum())) < 0.7, 0, 3)
    first_part = pc.if_else(pa.array(style == 1), pc.utf8_slice_codeunits(first, 0, 1), first)
    separator = pa.array([".", "", "", "_"]).take(style)
    last_part = pc.if_else(pa.array(style == 2), "", last)
    digits = pc.cast(pa.array(rng.integers(1, 99, n)), pa.string())
    digits = pc.if_else(pa.array(leads.free_email & (rng.random(n) < 0.6)), digits, "")
    provider = rng.choice(len(V.FREE_EMAIL_PROVIDERS), n, p=norm(V.FREE_EMAIL_P))
    domain = pc.if_else(
        pa.array(leads.free_email),
        pa.array(V.FREE_EMAIL_PROVIDERS).take(provider),
        world.org_domain.take(leads.org),
    )
    return pc.binary_join_element_wise(first_part, separator, last_part, digits, "@", domain, "")


def _events_table(
    rng: np.random.Generator, world: World, events: Events, ids: pa.Array
) -> pa.Table:
    """Events with their defaults filled in."""
    code = events.code
    page = events.page.copy()
    todo = np.flatnonzero(page == UNSET)
    count = world.page_count[code[todo]]
    # Popular pages get most views: squaring a uniform skews towards the first paths.
    skewed = (rng.random(todo.size) ** 2 * count).astype(np.int64)
    page[todo] = np.where(count > 0, world.page_start[code[todo]] + skewed, -1)

    channel = np.where(events.channel == UNSET, _DEFAULT_CHANNEL[code], events.channel)
    campaign = events.campaign.copy()
    todo = np.flatnonzero((campaign == UNSET) & (channel == V.CHANNEL_INDEX["email"]))
    campaign[todo] = np.where(
        rng.random(todo.size) < 0.7,
        world.newsletter_offset + world.month_of(events.t[todo]),
        world.nurture_offset + rng.integers(0, len(V.NURTURE_TRACKS), todo.size),
    )
    todo = np.flatnonzero((campaign == UNSET) & (channel == V.CHANNEL_INDEX["paid_search"]))
    template = world.paid_templates[rng.integers(0, len(world.paid_templates), todo.size)]
    quarter = world.month_quarter[world.month_of(events.t[todo])]
    campaign[todo] = template * world.n_quarters + quarter
    campaign[campaign == UNSET] = -1
    return pa.table(
        {
            LEAD_ID: _strings(events.lead, ids),
            OCCURRED_AT: _timestamps(events.t),
            EVENT_TYPE: _strings(code, pa.array(EVENT_TYPES)),
            "page": _strings(page, world.pages),
            "campaign": _strings(campaign, world.campaigns),
            "channel": _strings(channel, pa.array(V.CHANNELS)),
        }
    )


def _outcomes_table(
    rng: np.random.Generator, leads: Leads, outcomes: np.ndarray, ids: pa.Array
) -> pa.Table:
    lead, milestone = np.nonzero(np.isfinite(outcomes))
    t = outcomes[lead, milestone]
    order = np.lexsort((milestone, t, lead))
    lead, milestone, t = lead[order], milestone[order], t[order]
    won = milestone == _WON
    # Annual contract value grows with company size.
    acv = np.array([b[4] for b in V.SIZE_BANDS])[leads.band[lead]]
    noise = rng.lognormal(0.0, 0.45, lead.size)
    amount = np.round(acv * noise * (0.6 + 0.8 * leads.icp_fit[lead]), -2)
    return pa.table(
        [
            ids.take(pa.array(lead)),
            pa.array([m.value for m in MILESTONE_COLUMNS]).take(pa.array(milestone)),
            _timestamps(t.astype(np.int64)),
            pa.array(amount, mask=~won),
        ],
        schema=_OUTCOMES_SCHEMA,
    )


def _oracle_table(leads: Leads, ids: pa.Array) -> pa.Table:
    def when(t: np.ndarray) -> pa.Array:
        missing = ~np.isfinite(t)
        return pa.array(np.where(missing, 0, t).astype(np.int64) * _NS, type=_TS, mask=missing)

    return pa.table(
        [
            ids,
            pa.array(leads.p_convert),
            pa.array(V.PERSONAS).take(pa.array(leads.persona)),
            pa.array(leads.icp_fit),
            pa.array(leads.engagement),
            pa.array(leads.intent),
            pa.array(V.SENIORITIES).take(pa.array(leads.seniority)),
            pa.array(V.DEPARTMENTS).take(pa.array(leads.department)),
            pa.array(leads.has_window),
            when(leads.window_start),
            when(leads.window_end),
            when(leads.close_at),
        ],
        schema=_ORACLE_SCHEMA,
    )


class _Tally:
    """Running counts for synth.json."""

    def __init__(self) -> None:
        self.events = np.zeros(len(EVENT_TYPES), dtype=np.int64)
        self.milestones = np.zeros(len(MILESTONE_COLUMNS), dtype=np.int64)
        self.personas = np.zeros(len(V.PERSONAS), dtype=np.int64)

    def add(self, leads: Leads, events: Events, outcomes: np.ndarray) -> None:
        self.events += np.bincount(events.code, minlength=len(EVENT_TYPES))
        self.milestones += np.isfinite(outcomes).sum(axis=0)
        self.personas += np.bincount(leads.persona, minlength=len(V.PERSONAS))


def _strings(index: np.ndarray, values: pa.Array) -> pa.Array:
    """`values[index]` as a string column (-1: null).

    Not a DictionaryArray: pyarrow 25 wrote those to Parquet with bytes that varied from
    one write to the next, and the same seed must give byte-identical files.
    """
    index = np.asarray(index, dtype=np.int32)
    return values.take(pa.array(index, mask=index < 0))


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64) * _NS, type=_TS)
