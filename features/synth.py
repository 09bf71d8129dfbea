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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from features import synth_vocab as V
from features.schema import (
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

DAY = 86_400
HOUR = 3_600
_NS = 1_000_000_000
_TS = pa.timestamp("ns", tz="UTC")
_UNSET = -2  # page / campaign / channel "fill in the default for this event later"

E = EventType
_C = {e: EVENT_CODE[e] for e in EventType}
PROSPECT, JOB_SEEKER, STUDENT, COMPETITOR, CUSTOMER = range(len(V.PERSONAS))
_SRC = {name: k for k, (name, *_rest) in enumerate(V.LEAD_SOURCES)}
_CHANNEL = {name: k for k, name in enumerate(V.CHANNELS)}
_DEPT = {name: k for k, name in enumerate(V.DEPARTMENTS)}

# Page kinds of web sessions and their event codes.
_PAGE_KINDS = np.array(
    [_C[E.PRICING_PAGE_VIEW], _C[E.PRODUCT_PAGE_VIEW], _C[E.DOCS_PAGE_VIEW],
     _C[E.BLOG_PAGE_VIEW], _C[E.CAREERS_PAGE_VIEW], _C[E.OTHER_PAGE_VIEW]],
    dtype=np.int8,
)  # fmt: skip
# Browsing mix by persona (pricing, product, docs, blog, careers, other).
_BROWSE_MIX = np.array(
    [
        [0.03, 0.17, 0.04, 0.50, 0.01, 0.25],  # prospect: mostly reading, a little curiosity
        [0.02, 0.08, 0.01, 0.12, 0.57, 0.20],  # job seeker
        [0.03, 0.10, 0.04, 0.65, 0.04, 0.14],  # student
        [0.30, 0.30, 0.15, 0.15, 0.02, 0.08],  # competitor: watches pricing and product
        [0.04, 0.12, 0.60, 0.14, 0.01, 0.09],  # existing customer: lives in the docs
    ]
)
_WINDOW_MIX = np.array([[0.28, 0.35, 0.12, 0.10, 0.0, 0.15]])  # evaluating: pricing, product
_BROWSE_RATE = np.array([0.075, 0.2, 0.09, 0.05, 0.09])  # sessions per day at engagement 1
_BROWSE_TAU = np.array([90.0, 20.0, 60.0, 3650.0, 400.0]) * DAY  # how fast interest fades
_PERSONA_ENGAGEMENT = np.array([1.0, 0.5, 1.2, 1.2, 1.0])
_EMAIL_AFFINITY = np.array([1.0, 0.3, 0.8, 0.8, 1.5])
_CONTENT_AFFINITY = np.array([1.0, 0.1, 2.5, 1.5, 0.4])
_FREE_EMAIL_P = np.array([0.10, 0.75, 0.30, 0.30, 0.03])
# What a lead's first recorded touch is, by lead source (-1: none, e.g. outbound lists).
_CREATION_CODE = np.array(
    [_C[E.FORM_FILL], _C[E.FORM_FILL], _C[E.WEBINAR_REGISTRATION], _C[E.CONTENT_DOWNLOAD],
     _C[E.FORM_FILL], _C[E.FORM_FILL], -1, _C[E.FORM_FILL], _C[E.FORM_FILL]],
    dtype=np.int8,
)  # fmt: skip
_HAND_RAISES = np.array([_C[E.DEMO_REQUEST], _C[E.CONTACT_SALES], _C[E.FREE_TRIAL_SIGNUP]])
# How the legacy marketing-automation rule accumulates engagement towards an MQL (>= 4).
_MQL_WEIGHT = np.zeros(len(EVENT_TYPES))
for _event, _w in {
    E.CONTENT_DOWNLOAD: 1.0,
    E.WEBINAR_ATTENDANCE: 1.0,
    E.FORM_FILL: 1.0,
    E.CHAT_CONVERSATION: 1.0,
    E.WEBINAR_REGISTRATION: 0.5,
    E.NEWSLETTER_SIGNUP: 0.5,
    E.PRICING_PAGE_VIEW: 0.5,
    E.PRODUCT_PAGE_VIEW: 0.25,
    E.EMAIL_CLICK: 0.25,
}.items():
    _MQL_WEIGHT[_C[_event]] = _w
_MQL_THRESHOLD = 4.0
_DEFAULT_CHANNEL = np.full(len(EVENT_TYPES), _CHANNEL["web"], dtype=np.int8)
for _event in (E.EMAIL_OPEN, E.EMAIL_CLICK, E.UNSUBSCRIBE, E.EMAIL_BOUNCE):
    _DEFAULT_CHANNEL[_C[_event]] = _CHANNEL["email"]
for _event in (E.WEBINAR_REGISTRATION, E.WEBINAR_ATTENDANCE):
    _DEFAULT_CHANNEL[_C[_event]] = _CHANNEL["webinar"]
# After a lead closes, which of its events still happen: customers onboard in the docs,
# everyone else mostly drifts away (still opening the odd newsletter).
_KEEP_AFTER_WON = np.full(len(EVENT_TYPES), 0.1)
_KEEP_AFTER_WON[[_C[E.DOCS_PAGE_VIEW], _C[E.EMAIL_OPEN], _C[E.PRODUCT_PAGE_VIEW]]] = [1.0, 0.6, 0.5]
_KEEP_AFTER_LOST = np.full(len(EVENT_TYPES), 0.1)
_KEEP_AFTER_LOST[[_C[E.EMAIL_OPEN], _C[E.EMAIL_CLICK]]] = [0.4, 0.2]

_MILESTONES = tuple(Milestone)
_M = {m: k for k, m in enumerate(_MILESTONES)}


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
    world = _World.build(seed, n_leads, start_ts, end_ts)

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
            leads = _draw_leads(rng, world, n)
            events = _draw_journeys(rng, world, leads)
            outcomes = _draw_funnel(rng, world, leads, events)
            events = _drop_after_close(rng, events, outcomes)
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
        closed_won_rate=float(tally.milestones[_M[Milestone.CLOSED_WON]] / n_leads),
        events_by_type=dict(zip(EVENT_TYPES, tally.events.tolist(), strict=True)),
        milestones={m.value: int(c) for m, c in zip(_MILESTONES, tally.milestones, strict=True)},
        personas=dict(zip(V.PERSONAS, tally.personas.tolist(), strict=True)),
        competitor_domains=list(V.COMPETITOR_DOMAINS),
    )
    (out_dir / "synth.json").write_text(summary.model_dump_json(indent=2) + "\n")
    return summary


# ------------------------------------------------------------------ shared world


@dataclass(frozen=True)
class _World:
    """Everything the chunks share: the period, the organisations and the string tables."""

    t0: int
    t1: int
    org_industry: np.ndarray
    org_employees: np.ndarray
    org_revenue: np.ndarray
    org_country: np.ndarray
    org_domain: pa.Array
    org_pick: tuple[tuple[np.ndarray, np.ndarray], ...]  # per persona: (org ids, cdf)
    day_cdf: np.ndarray  # lead creation day distribution
    month_starts: np.ndarray  # epoch seconds of each calendar month touching the period
    month_quarter: np.ndarray
    n_quarters: int
    campaigns: pa.Array  # every campaign name, for leads and events
    source_campaigns: np.ndarray  # (source, option) -> campaign template id, -1 for none
    source_campaign_count: np.ndarray
    paid_templates: np.ndarray
    newsletter_offset: int
    nurture_offset: int
    webinar_offset: int
    pages: pa.Array
    page_start: np.ndarray  # per event code
    page_count: np.ndarray
    titles: pa.Array
    title_start: np.ndarray  # (seniority, department)
    title_count: np.ndarray
    junk_title_start: int

    @classmethod
    def build(cls, seed: int, n_leads: int, start: pd.Timestamp, end: pd.Timestamp) -> _World:
        rng = np.random.default_rng([seed, 0])
        t0, t1 = int(start.timestamp()), int(end.timestamp())
        orgs = _organisations(rng, n_leads)

        n_days = max(1, (t1 - t0) // DAY)
        day = np.arange(n_days)
        weekday = (t0 // DAY + day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        # Marketing grows over the period; few leads arrive at weekends.
        weight = (1.0 + 0.6 * day / n_days) * np.where(weekday >= 5, 0.3, 1.0)
        day_cdf = _cdf(weight)

        month_index = pd.date_range(start.normalize().replace(day=1), end, freq="MS")
        month_starts = (month_index.as_unit("s").asi8).astype(np.int64)
        quarter_labels = [f"{m.year}-Q{(m.month - 1) // 3 + 1}" for m in month_index]
        quarters = list(dict.fromkeys(quarter_labels))
        month_quarter = np.array([quarters.index(q) for q in quarter_labels])

        templates = list(dict.fromkeys(c for opts in V.SOURCE_CAMPAIGNS for c in opts if c))
        width = max(len(opts) for opts in V.SOURCE_CAMPAIGNS)
        source_campaigns = np.full((len(V.SOURCE_CAMPAIGNS), width), -1)
        for s, opts in enumerate(V.SOURCE_CAMPAIGNS):
            source_campaigns[s, : len(opts)] = [templates.index(c) if c else -1 for c in opts]
        names = [f"{q} {t}" for t in templates for q in quarters]  # id = template * nq + quarter
        newsletter_offset = len(names)
        names += [f"Newsletter {m.year}-{m.month:02d}" for m in month_index]
        nurture_offset = len(names)
        names += list(V.NURTURE_TRACKS)
        webinar_offset = len(names)
        names += list(V.WEBINAR_TITLES)

        pages: list[str] = []
        page_start = np.zeros(len(EVENT_TYPES), dtype=np.int64)
        page_count = np.zeros(len(EVENT_TYPES), dtype=np.int64)
        for event, paths in V.PAGES_BY_EVENT.items():
            page_start[_C[event]], page_count[_C[event]] = len(pages), len(paths)
            pages.extend(paths)

        titles, ranges = V.title_table()
        shape = (len(V.SENIORITIES), len(V.DEPARTMENTS))
        return cls(
            t0=t0,
            t1=t1,
            **orgs,
            day_cdf=day_cdf,
            month_starts=month_starts,
            month_quarter=month_quarter,
            n_quarters=len(quarters),
            campaigns=pa.array(names),
            source_campaigns=source_campaigns,
            source_campaign_count=np.array([len(o) for o in V.SOURCE_CAMPAIGNS]),
            paid_templates=source_campaigns[_SRC["Paid Search"]][
                source_campaigns[_SRC["Paid Search"]] >= 0
            ],
            newsletter_offset=newsletter_offset,
            nurture_offset=nurture_offset,
            webinar_offset=webinar_offset,
            pages=pa.array(pages),
            page_start=page_start,
            page_count=page_count,
            titles=pa.array(titles + V.JUNK_TITLES),
            title_start=np.array([r[0] for r in ranges]).reshape(shape),
            title_count=np.array([r[1] for r in ranges]).reshape(shape),
            junk_title_start=len(titles),
        )

    def month_of(self, t: np.ndarray) -> np.ndarray:
        """Index of the calendar month of each epoch-second time."""
        return np.searchsorted(self.month_starts, t, side="right") - 1


def _organisations(rng: np.random.Generator, n_leads: int) -> dict:
    """Companies (a few of them customers), then universities, then the competitors."""
    suffixes = [s for group in V.COMPANY_SUFFIXES for s in group]
    suffix_industry = np.repeat(
        np.arange(len(V.COMPANY_SUFFIXES)), [len(g) for g in V.COMPANY_SUFFIXES]
    )
    brands = list(V.COMPANY_PREFIXES) + [p + e for p in V.COMPANY_PREFIXES for e in V.BRAND_ENDINGS]
    # Company names are distinct (brand, industry word) pairs, drawn without replacement so
    # one domain is one company; weights give the industries their shares.
    industry_share = _norm([i[1] for i in V.INDUSTRIES])
    suffix_weight = industry_share[suffix_industry] / np.bincount(suffix_industry)[suffix_industry]
    name_weight = np.tile(suffix_weight, len(brands))
    n_companies = int(np.clip(n_leads // 4, 100, name_weight.size // 2))
    keys = rng.exponential(size=name_weight.size) / name_weight  # weighted sample w/o replacement
    name_id = np.sort(np.argpartition(keys, n_companies)[:n_companies])
    brand, suffix = np.divmod(name_id, len(suffixes))
    industry = suffix_industry[suffix]

    band = rng.choice(len(V.SIZE_BANDS), n_companies, p=_norm([b[2] for b in V.SIZE_BANDS]))
    low = np.array([b[0] for b in V.SIZE_BANDS])[band]
    high = np.array([b[1] for b in V.SIZE_BANDS])[band]
    employees = np.clip(np.exp(rng.uniform(np.log(low), np.log(high + 1))), low, high).astype(
        np.int64
    )
    revenue = (
        employees
        * np.array(V.REVENUE_PER_EMPLOYEE)[industry]
        * rng.lognormal(0.0, 0.4, n_companies)
    )
    country = rng.choice(len(V.COUNTRIES), n_companies, p=_norm([c[1] for c in V.COUNTRIES]))

    tlds = [*dict.fromkeys(c[4] for c in V.COUNTRIES), "io", "gov", "org"]
    tld = np.array([tlds.index(c[4]) for c in V.COUNTRIES])[country]
    us = country == 0
    tld[us & (industry == V.SOFTWARE_INDUSTRY) & (rng.random(n_companies) < 0.3)] = tlds.index("io")
    tld[us & (industry == _industry("Government"))] = tlds.index("gov")
    tld[industry == _industry("Non-profit")] = tlds.index("org")
    separator = np.where((brand + suffix) % 3 == 0, 1, 0)
    company_domain = pc.binary_join_element_wise(
        pa.array(brands).take(brand),
        pa.array(["", "-"]).take(separator),
        pa.array(suffixes).take(suffix),
        ".",
        pa.array(tlds).take(tld),
        "",
    )

    towns = V.UNIVERSITY_TOWNS
    uni_domains = (
        [f"{t}.edu" for t in towns]
        + [f"{t}state.edu" for t in towns[:15]]
        + [f"{t}.ac.uk" for t in towns[15:25]]
        + [f"uni-{t}.de" for t in towns[20:30]]
    )
    uni_country = [0] * 45 + [2] * 10 + [3] * 10
    n_uni = len(uni_domains)
    n_comp = len(V.COMPETITOR_DOMAINS)

    is_customer = (rng.random(n_companies) < 0.05) & (employees > 10)
    company_ids = np.arange(n_companies)
    uni_ids = n_companies + np.arange(n_uni)
    competitor_ids = n_companies + n_uni + np.arange(n_comp)
    prospects = company_ids[~is_customer]
    customers = company_ids[is_customer] if is_customer.any() else company_ids[:1]
    pick = [(np.empty(0, np.int64), np.empty(0))] * len(V.PERSONAS)
    pick[PROSPECT] = (prospects, _cdf(employees[prospects] ** 0.35))  # big firms, more leads
    pick[JOB_SEEKER] = (company_ids, _cdf(employees**0.5))
    pick[STUDENT] = (uni_ids, _cdf(np.ones(n_uni)))
    pick[COMPETITOR] = (competitor_ids, _cdf([3.0, 2.0, 2.0, 1.0, 1.0][:n_comp]))
    pick[CUSTOMER] = (customers, _cdf(employees[customers] ** 0.35))
    return {
        "org_industry": np.concatenate(
            [industry, np.full(n_uni, V.EDUCATION_INDUSTRY), np.full(n_comp, V.SOFTWARE_INDUSTRY)]
        ),
        "org_employees": np.concatenate(
            [employees, rng.integers(2_000, 30_000, n_uni), rng.integers(60, 900, n_comp)]
        ),
        "org_revenue": np.concatenate(
            [revenue, np.full(n_uni, np.nan), rng.uniform(1e7, 2e8, n_comp)]
        ),
        "org_country": np.concatenate([country, uni_country, np.zeros(n_comp, dtype=np.int64)]),
        "org_domain": pa.concat_arrays(
            [company_domain, pa.array(uni_domains), pa.array(V.COMPETITOR_DOMAINS)]
        ),
        "org_pick": tuple(pick),
    }


# ------------------------------------------------------------------ leads and hidden factors


@dataclass
class _Leads:
    """One chunk of leads: observable attributes and hidden factors, as parallel arrays."""

    persona: np.ndarray
    org: np.ndarray
    created: np.ndarray  # epoch seconds
    tz: np.ndarray  # UTC offset (hours) of the lead's working day
    seniority: np.ndarray
    department: np.ndarray
    band: np.ndarray
    source: np.ndarray
    icp_fit: np.ndarray
    engagement: np.ndarray
    intent: np.ndarray
    has_window: np.ndarray
    open_at_creation: np.ndarray
    window_start: np.ndarray  # epoch seconds, nan without a window
    window_end: np.ndarray
    close_at: np.ndarray  # when the deal (won or lost) is decided
    reach_sql: np.ndarray
    reach_opportunity: np.ndarray
    win: np.ndarray
    p_convert: np.ndarray
    free_email: np.ndarray
    email_end: np.ndarray  # no email events from here on (bounce, unsubscribe or period end)
    unsubscribe_at: np.ndarray
    bounce_at: np.ndarray

    def __len__(self) -> int:
        return len(self.persona)


def _draw_leads(rng: np.random.Generator, world: _World, n: int) -> _Leads:
    persona = rng.choice(len(V.PERSONAS), n, p=_norm(V.PERSONA_P))
    org = np.empty(n, dtype=np.int64)
    for k, (ids, cdf) in enumerate(world.org_pick):
        mask = persona == k
        org[mask] = ids[np.searchsorted(cdf, rng.random(int(mask.sum())), side="right")]
    industry = world.org_industry[org]
    employees = world.org_employees[org]
    country = world.org_country[org]
    tz = np.array([c[2] for c in V.COUNTRIES])[country]
    band = np.searchsorted([b[0] for b in V.SIZE_BANDS], employees, side="right") - 1

    day = np.searchsorted(world.day_cdf, rng.random(n), side="right")
    created = _business_hours(rng, world.t0 + day * DAY, tz)
    created = np.clip(created, world.t0, world.t1 - 1)

    seniority, department = _roles(rng, persona, employees)
    # The true ICP: what makes a lead likely to buy. C-level people buy at small companies
    # and delegate at large ones.
    seniority_weight = np.array(V.SENIORITY_WEIGHT)[seniority]
    c_level = seniority == 0
    seniority_weight[c_level] = np.where(employees[c_level] <= 200, 0.9, -0.2)
    score = (
        -1.2
        + np.array([i[2] for i in V.INDUSTRIES])[industry]
        + np.array([b[3] for b in V.SIZE_BANDS])[band]
        + seniority_weight
        + np.array(V.DEPARTMENT_WEIGHT)[department]
        + np.array([c[3] for c in V.COUNTRIES])[country]
        + rng.normal(0.0, 0.7, n)
    )
    icp_fit = 1.0 / (1.0 + np.exp(-score))

    source_p = np.array(
        [[s[1] for s in V.LEAD_SOURCES]] + [V.DECOY_SOURCE_P[p] for p in V.PERSONAS[1:]]
    )
    source = _choice_rows(rng, source_p, persona)
    source_engagement, source_window, source_open = (
        np.array([s[k] for s in V.LEAD_SOURCES]) for k in (2, 3, 4)
    )
    engagement = (
        rng.lognormal(0.0, 0.9, n)
        * _PERSONA_ENGAGEMENT[persona]
        * source_engagement[source]
        * (0.7 + 0.6 * icp_fit)  # interest is only weakly tied to fit
    )

    # Buying window: only prospects buy; better fits are more often in market.
    p_window = np.where(
        persona == PROSPECT, np.clip((0.08 + 0.75 * icp_fit) * source_window[source], 0, 0.95), 0
    )
    has_window = rng.random(n) < p_window
    open_at_creation = rng.random(n) < source_open[source]
    delay = np.where(
        open_at_creation, rng.uniform(0, 0.5 * DAY, n), DAY + rng.exponential(120 * DAY, n)
    )
    length = np.clip(rng.lognormal(np.log(35 * DAY), 0.5, n), 7 * DAY, 150 * DAY)
    decision_scale = np.array([6.0, 8.0, 12.0, 16.0, 22.0, 30.0])[band] * DAY  # bigger, slower
    window_start = np.where(has_window, created + delay, np.nan)
    window_end = window_start + length
    close_at = window_end + 18 * DAY + rng.gamma(2.0, decision_scale)
    intent = rng.lognormal(0.0, 0.4, n) * (0.6 + 0.8 * icp_fit)

    p_sql = 0.7 + 0.25 * icp_fit
    p_opportunity = np.clip(0.45 + 0.4 * icp_fit + 0.15 * (intent - 1.0), 0.05, 0.95)
    p_win = 0.25 + 0.5 * icp_fit
    reach_sql = has_window & (rng.random(n) < p_sql)
    reach_opportunity = reach_sql & (rng.random(n) < p_opportunity)
    win = reach_opportunity & (rng.random(n) < p_win)
    decided_in_period = has_window & (close_at < world.t1)
    p_convert = np.where(decided_in_period, p_sql * p_opportunity * p_win, 0.0)

    free_email = rng.random(n) < _FREE_EMAIL_P[persona] + np.where(
        (persona == PROSPECT) & (employees <= 10), 0.15, 0.0
    )
    bounce_p = np.where(source == _SRC["Outbound"], 0.08, 0.02)  # bought lists go stale
    bounce_at = np.where(rng.random(n) < bounce_p, created + rng.exponential(5 * DAY, n), np.nan)
    unsubscribe_p = 0.08 + 0.10 * (engagement < 0.5) + 0.2 * (persona == JOB_SEEKER)
    unsubscribe_at = np.where(
        rng.random(n) < unsubscribe_p, created + rng.exponential(90 * DAY, n), np.nan
    )
    email_end = np.fmin(np.fmin(bounce_at, unsubscribe_at), world.t1)
    return _Leads(
        persona=persona,
        org=org,
        created=created,
        tz=tz,
        seniority=seniority,
        department=department,
        band=band,
        source=source,
        icp_fit=icp_fit,
        engagement=engagement,
        intent=intent,
        has_window=has_window,
        open_at_creation=open_at_creation,
        window_start=window_start,
        window_end=window_end,
        close_at=np.where(has_window, close_at, np.nan),
        reach_sql=reach_sql,
        reach_opportunity=reach_opportunity,
        win=win,
        p_convert=p_convert,
        free_email=free_email,
        email_end=email_end,
        unsubscribe_at=unsubscribe_at,
        bounce_at=bounce_at,
    )


def _roles(
    rng: np.random.Generator, persona: np.ndarray, employees: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """True (seniority, department) indices; founders are common at small companies."""
    seniority_rows = np.array(
        [V.SENIORITY_P[k] for k in ("prospect_small", "prospect", "job_seeker")]
        + [V.SENIORITY_P["prospect"]]  # students: replaced below
        + [V.SENIORITY_P[k] for k in ("competitor", "existing_customer")]
    )
    row = np.array([1, 2, 3, 4, 5])[persona]
    row[(persona == PROSPECT) & (employees <= 50)] = 0
    seniority = _choice_rows(rng, seniority_rows, row)

    non_exec = [(*V.DEPT_P[p], 0.0) for p in ("prospect", "job_seeker", "prospect")]
    non_exec += [(*V.DEPT_P[p], 0.0) for p in ("competitor", "existing_customer")]
    department_rows = np.array([*non_exec, V.C_LEVEL_DEPT_P])
    row = persona.copy()
    row[seniority == 0] = len(department_rows) - 1
    department = _choice_rows(rng, department_rows, row)

    student = persona == STUDENT
    seniority[student] = V.SENIORITIES.index("student")
    department[student] = _DEPT["student"]
    return seniority, department


# ------------------------------------------------------------------ journeys


@dataclass
class _Events:
    """Events of one chunk as parallel arrays (`lead` indexes the chunk's leads)."""

    lead: np.ndarray
    t: np.ndarray
    code: np.ndarray
    page: np.ndarray
    campaign: np.ndarray
    channel: np.ndarray

    def take(self, index: np.ndarray) -> _Events:
        return _Events(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


class _EventParts:
    """Collects the output of each event process before they are concatenated."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, lead, t, code, page=_UNSET, campaign=_UNSET, channel=_UNSET) -> None:
        n = len(lead)
        self._parts.append(
            (
                np.asarray(lead, dtype=np.int32),
                np.asarray(t, dtype=np.int64),
                np.broadcast_to(np.asarray(code, dtype=np.int8), n),
                np.broadcast_to(np.asarray(page, dtype=np.int32), n),
                np.broadcast_to(np.asarray(campaign, dtype=np.int32), n),
                np.broadcast_to(np.asarray(channel, dtype=np.int8), n),
            )
        )

    def concat(self) -> _Events:
        return _Events(*(np.concatenate(column) for column in zip(*self._parts, strict=True)))


def _draw_journeys(rng: np.random.Generator, world: _World, leads: _Leads) -> _Events:
    """Every event process of the chunk, sorted by lead then time."""
    n = len(leads)
    idx = np.arange(n)
    parts = _EventParts()
    created, persona = leads.created, leads.persona
    life = world.t1 - created

    # The touch that created the lead; in-market inbound leads often raise their hand at once.
    code = _CREATION_CODE[leads.source].copy()
    inbound = code >= 0
    hand_raise = leads.has_window & leads.open_at_creation & inbound & (rng.random(n) < 0.4)
    code[hand_raise] = np.where(
        rng.random(int(hand_raise.sum())) < 0.7, _C[E.DEMO_REQUEST], _C[E.CONTACT_SALES]
    )
    webinar = code == _C[E.WEBINAR_REGISTRATION]
    touch = inbound & ~webinar
    parts.add(idx[touch], created[touch], code[touch])
    _webinar_registrations(rng, parts, world, idx[webinar], created[webinar])

    _email(rng, parts, leads)

    # Browsing: interest that fades after creation at a persona-specific pace.
    tau = _BROWSE_TAU[persona]
    rate = _BROWSE_RATE[persona] * leads.engagement
    lead = _repeat_poisson(rng, idx, rate * tau * -np.expm1(-life / tau) / DAY)
    t = created[lead] + _truncated_exponential(rng, tau[lead], life[lead])
    _sessions(rng, parts, leads, lead, t, _BROWSE_MIX, persona[lead])

    # Content: gated downloads (often a form fill too) and webinars.
    content = leads.engagement * _CONTENT_AFFINITY[persona] * -np.expm1(-life / (120 * DAY))
    lead = _repeat_poisson(rng, idx, 0.9 * content)
    t = _business_hours(
        rng, created[lead] + _truncated_exponential(rng, 120 * DAY, life[lead]), leads.tz[lead]
    )
    t = _not_before(rng, t, created[lead])
    parts.add(lead, t, _C[E.CONTENT_DOWNLOAD])
    gated = rng.random(len(lead)) < 0.4
    parts.add(lead[gated], t[gated], _C[E.FORM_FILL], page=world.page_start[_C[E.FORM_FILL]] + 1)
    lead = _repeat_poisson(rng, idx, 0.35 * content)
    t = _business_hours(
        rng, created[lead] + _truncated_exponential(rng, 120 * DAY, life[lead]), leads.tz[lead]
    )
    _webinar_registrations(rng, parts, world, lead, _not_before(rng, t, created[lead]))

    _buying_windows(rng, parts, world, leads)
    _stray_intent(rng, parts, leads, world.t1)

    # Customers onboard after the deal closes: the docs light up.
    onboarding = leads.win & (leads.close_at < world.t1)
    start = np.nan_to_num(leads.close_at, nan=0.0).astype(np.int64)
    lead = _repeat_poisson(rng, idx, np.where(onboarding, 10.0, 0.0))
    t = _business_hours(rng, start[lead] + rng.uniform(0, 120 * DAY, len(lead)), leads.tz[lead])
    parts.add(lead, t, _C[E.DOCS_PAGE_VIEW])

    events = parts.concat()
    events = events.take(np.flatnonzero(events.t < world.t1))
    key = (events.lead.astype(np.int64) << 32) | (events.t - world.t0)
    return events.take(np.argsort(key, kind="stable"))


def _email(rng: np.random.Generator, parts: _EventParts, leads: _Leads) -> None:
    """Newsletter and nurture opens that fade over months, clicks, unsubscribes, bounces."""
    idx = np.arange(len(leads))
    tau = 240 * DAY
    span = np.maximum(leads.email_end - leads.created, 0)
    affinity = np.sqrt(leads.engagement) * _EMAIL_AFFINITY[leads.persona]
    lead = _repeat_poisson(rng, idx, 0.16 * affinity * tau * -np.expm1(-span / tau) / DAY)
    t = leads.created[lead] + _truncated_exponential(rng, tau, span[lead])
    t = _not_before(rng, _business_hours(rng, t, leads.tz[lead]), leads.created[lead])
    # The email stops at a bounce or an unsubscribe: keep opens before that.
    keep = t < leads.email_end[lead]
    lead, t = lead[keep], t[keep]
    parts.add(lead, t, _C[E.EMAIL_OPEN])
    click = rng.random(len(lead)) < 0.08 + 0.06 * leads.icp_fit[lead]
    parts.add(lead[click], t[click] + rng.integers(10, 900, int(click.sum())), _C[E.EMAIL_CLICK])

    for at, code in ((leads.unsubscribe_at, E.UNSUBSCRIBE), (leads.bounce_at, E.EMAIL_BOUNCE)):
        happened = np.isfinite(at) & (at <= leads.email_end)
        parts.add(idx[happened], at[happened], _C[code])
    signup = rng.random(len(leads)) < np.clip(0.08 * leads.engagement, 0, 0.5)
    t = leads.created + rng.exponential(30 * DAY, len(leads))
    signup &= t < leads.email_end
    parts.add(idx[signup], t[signup], _C[E.NEWSLETTER_SIGNUP])


def _sessions(
    rng: np.random.Generator,
    parts: _EventParts,
    leads: _Leads,
    lead: np.ndarray,
    t: np.ndarray,
    mix: np.ndarray,
    mix_row: np.ndarray,
) -> None:
    """Web sessions starting near `t`: one or more page views a minute or two apart."""
    t = _not_before(rng, _business_hours(rng, t, leads.tz[lead]), leads.created[lead])
    channel = rng.choice(len(V.SESSION_CHANNEL_P), len(lead), p=_norm(V.SESSION_CHANNEL_P))
    pages = 1 + rng.poisson(1.3, len(lead))
    lead, t, channel, mix_row = (np.repeat(a, pages) for a in (lead, t, channel, mix_row))
    position = np.arange(len(lead)) - np.repeat(np.cumsum(pages) - pages, pages)
    t = t + (position * rng.exponential(75.0, len(lead))).astype(np.int64)
    kind = _choice_rows(rng, mix, mix_row)
    parts.add(lead, t, _PAGE_KINDS[kind], channel=channel)


def _webinar_registrations(
    rng: np.random.Generator, parts: _EventParts, world: _World, lead: np.ndarray, t: np.ndarray
) -> None:
    """Registrations to one of the webinars, and the attendance that follows some of them."""
    webinar = rng.integers(0, len(V.WEBINAR_TITLES), len(lead))
    parts.add(
        lead,
        t,
        _C[E.WEBINAR_REGISTRATION],
        page=world.page_start[_C[E.WEBINAR_REGISTRATION]] + webinar,
        campaign=world.webinar_offset + webinar,
    )
    _webinar_attendance(rng, parts, world, lead, t, webinar)


def _webinar_attendance(
    rng: np.random.Generator,
    parts: _EventParts,
    world: _World,
    lead: np.ndarray,
    registered: np.ndarray,
    webinar: np.ndarray,
) -> None:
    """A bit under half of registrants attend, on the webinar day one to two weeks later."""
    attend = rng.random(len(lead)) < 0.45
    parts.add(
        lead[attend],
        registered[attend] + rng.integers(DAY, 14 * DAY, int(attend.sum())),
        _C[E.WEBINAR_ATTENDANCE],
        page=-1,
        campaign=world.webinar_offset + webinar[attend],
    )


def _buying_windows(
    rng: np.random.Generator, parts: _EventParts, world: _World, leads: _Leads
) -> None:
    """Evaluation behaviour inside each open buying window: where intent clusters."""
    idx = np.flatnonzero(leads.has_window & (leads.window_start < world.t1))
    start, end = leads.window_start[idx], leads.window_end[idx]
    intent = leads.intent[idx]

    lead = _repeat_poisson(rng, np.arange(len(idx)), 12.0 * intent)
    t = start[lead] + rng.random(len(lead)) * (end - start)[lead]
    _sessions(rng, parts, leads, idx[lead], t.astype(np.int64), _WINDOW_MIX, np.zeros_like(lead))

    builders = np.isin(
        leads.department[idx], [_DEPT[d] for d in ("engineering", "data", "product")]
    )
    for code, rate in (
        (E.DEMO_REQUEST, 0.7 * intent),
        (E.CONTACT_SALES, 0.3 * intent),
        (E.FREE_TRIAL_SIGNUP, 0.3 * intent * np.where(builders, 2.0, 1.0)),
        (E.CHAT_CONVERSATION, 0.4 * intent),
        (E.CONTENT_DOWNLOAD, 0.5 * intent),
    ):
        lead = _repeat_poisson(rng, np.arange(len(idx)), rate)
        # Hands go up early in an evaluation, rarely in its last weeks.
        t = start[lead] + 0.7 * rng.random(len(lead)) * (end - start)[lead]
        who = idx[lead]
        t = _not_before(rng, _business_hours(rng, t, leads.tz[who]), leads.created[who])
        parts.add(who, t, _C[code])


def _stray_intent(rng: np.random.Generator, parts: _EventParts, leads: _Leads, t1: int) -> None:
    """Hand-raises that lead nowhere: tire-kicking trials, snooping competitors, customers
    asking sales for support."""
    n = len(leads)
    idx = np.arange(n)
    prospect = (leads.persona == PROSPECT) & ~leads.has_window
    builder = np.isin(leads.department, [_DEPT["engineering"], _DEPT["data"]])
    for code, p in (
        (E.FREE_TRIAL_SIGNUP, np.where(prospect, np.where(builder, 0.08, 0.03), 0.0)),
        (E.DEMO_REQUEST, np.where(prospect, 0.015, 0.0)),
        (E.DEMO_REQUEST, np.where(leads.persona == COMPETITOR, 0.08, 0.0)),
        (E.FREE_TRIAL_SIGNUP, np.where(leads.persona == COMPETITOR, 0.15, 0.0)),
        (E.CONTACT_SALES, np.where(leads.persona == CUSTOMER, 0.06, 0.0)),
        (E.CHAT_CONVERSATION, np.where(leads.persona == CUSTOMER, 0.4, 0.0)),
    ):
        who = idx[rng.random(n) < p]
        t = leads.created[who] + rng.random(len(who)) * np.minimum(
            180 * DAY, t1 - leads.created[who]
        )
        t = _not_before(rng, _business_hours(rng, t, leads.tz[who]), leads.created[who])
        parts.add(who, t, _C[code])


# ------------------------------------------------------------------ funnel


def _draw_funnel(
    rng: np.random.Generator, world: _World, leads: _Leads, events: _Events
) -> np.ndarray:
    """Milestone times, shape (leads, milestones), nan where not reached within the period."""
    n = len(leads)
    times = np.full((n, len(_MILESTONES)), np.nan)
    lead, t = events.lead, events.t.astype(np.float64)
    hand_raise = np.isin(events.code, _HAND_RAISES)

    # The legacy MQL rule: a hand-raise, or enough content engagement; the marketing
    # automation syncs it to the CRM a little later.
    cumulative = np.concatenate([[0.0], np.cumsum(_MQL_WEIGHT[events.code])])
    before_lead = cumulative[np.searchsorted(lead, np.arange(n))]
    engaged = cumulative[1:] - before_lead[lead] >= _MQL_THRESHOLD
    mql = np.fmin(
        _first_time(lead, t, hand_raise, n) + rng.uniform(5 * 60, 4 * HOUR, n),
        _first_time(lead, t, engaged, n) + rng.uniform(HOUR, DAY, n),
    )
    mql[~np.isfinite(mql)] = np.nan

    # Window leads that reach SQL: sales picks up the first hand-raise of the window, or
    # (outbound) reaches out a few days after it opens.
    sales = leads.reach_sql
    in_window = (t >= leads.window_start[lead] - 2 * DAY) & (t <= leads.window_end[lead] + 2 * DAY)
    first_ask = _first_time(lead, t, hand_raise & in_window, n)
    anchor = np.where(
        np.isfinite(first_ask), first_ask, leads.window_start + rng.uniform(2 * DAY, 10 * DAY, n)
    )
    mql = np.where(sales, np.fmin(mql, anchor + rng.uniform(5 * 60, 4 * HOUR, n)), mql)
    sal = np.fmax(mql, anchor) + rng.uniform(2 * HOUR, 2 * DAY, n)
    sql = sal + rng.uniform(DAY, 7 * DAY, n)
    close = leads.close_at
    opportunity = sql + np.minimum(rng.uniform(3 * DAY, 14 * DAY, n), 0.5 * (close - sql))
    opp, won = leads.reach_opportunity, leads.win
    times[:, _M[Milestone.MQL]] = mql
    times[:, _M[Milestone.SAL]] = np.where(sales, sal, np.nan)
    times[:, _M[Milestone.SQL]] = np.where(sales, sql, np.nan)
    times[:, _M[Milestone.OPPORTUNITY]] = np.where(opp, opportunity, np.nan)
    times[:, _M[Milestone.CLOSED_WON]] = np.where(won, close, np.nan)
    times[:, _M[Milestone.CLOSED_LOST]] = np.where(opp & ~won, close, np.nan)
    disqualified = np.where(sales & ~opp, sql + rng.uniform(5 * DAY, 30 * DAY, n), np.nan)

    # Everyone else who became an MQL: an SDR accepts some and disqualifies many of those
    # (no project, student, competitor, already a customer).
    rest = ~sales & np.isfinite(mql)
    accepted = rest & (rng.random(n) < np.where(leads.persona == PROSPECT, 0.55, 0.5))
    sal_rest = mql + rng.uniform(2 * HOUR, 3 * DAY, n)
    times[:, _M[Milestone.SAL]] = np.where(accepted, sal_rest, times[:, _M[Milestone.SAL]])
    p_disqualify = np.where(leads.persona != PROSPECT, 0.9, np.where(leads.has_window, 0.2, 0.45))
    rejected = accepted & (rng.random(n) < p_disqualify)
    disqualified = np.where(rejected, sal_rest + rng.uniform(3 * DAY, 30 * DAY, n), disqualified)
    times[:, _M[Milestone.DISQUALIFIED]] = disqualified
    times[times >= world.t1] = np.nan
    return times


def _drop_after_close(rng: np.random.Generator, events: _Events, outcomes: np.ndarray) -> _Events:
    """After a lead closes its events mostly stop (new customers still read the docs)."""
    won_at = outcomes[:, _M[Milestone.CLOSED_WON]]
    closed_at = np.fmin(
        won_at,
        np.fmin(outcomes[:, _M[Milestone.CLOSED_LOST]], outcomes[:, _M[Milestone.DISQUALIFIED]]),
    )
    after = events.t > closed_at[events.lead]  # nan compares False: open leads keep all
    keep_p = np.where(
        np.isfinite(won_at[events.lead]),
        _KEEP_AFTER_WON[events.code],
        _KEEP_AFTER_LOST[events.code],
    )
    keep = ~after | (rng.random(len(events.t)) < keep_p)
    return events.take(np.flatnonzero(keep))


# ------------------------------------------------------------------ tables

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
_EVENTS_SCHEMA = pa.schema(
    [
        (LEAD_ID, pa.string()),
        (OCCURRED_AT, _TS),
        (EVENT_TYPE, pa.string()),
        ("page", pa.string()),
        ("campaign", pa.string()),
        ("channel", pa.string()),
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


def _leads_table(rng: np.random.Generator, world: _World, leads: _Leads, ids: pa.Array) -> pa.Table:
    n = len(leads)
    org = leads.org
    # CRM fields are often empty: the truth (used for the ICP) is still there, unobserved.
    industry = _lookup([i[0] for i in V.INDUSTRIES], world.org_industry[org], rng.random(n) < 0.04)
    country = _lookup([c[0] for c in V.COUNTRIES], world.org_country[org], rng.random(n) < 0.02)
    revenue = world.org_revenue[org]
    revenue_missing = ~np.isfinite(revenue) | (rng.random(n) < 0.2)
    option = (rng.random(n) * world.source_campaign_count[leads.source]).astype(np.int64)
    template = world.source_campaigns[leads.source, option]
    quarter = world.month_quarter[world.month_of(leads.created)]
    campaign = world.campaigns.take(
        pa.array(template * world.n_quarters + quarter, mask=template < 0)
    )
    return pa.table(
        [
            ids,
            _timestamps(leads.created),
            industry,
            pa.array(world.org_employees[org]),
            pa.array(np.round(revenue, -3), mask=revenue_missing),
            country,
            _job_titles(rng, world, leads),
            _emails(rng, world, leads),
            pa.array([s[0] for s in V.LEAD_SOURCES]).take(leads.source),
            campaign,
        ],
        schema=_LEADS_SCHEMA,
    )


def _job_titles(rng: np.random.Generator, world: _World, leads: _Leads) -> pa.Array:
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


def _emails(rng: np.random.Generator, world: _World, leads: _Leads) -> pa.Array:
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
    provider = rng.choice(len(V.FREE_EMAIL_PROVIDERS), n, p=_norm(V.FREE_EMAIL_P))
    domain = pc.if_else(
        pa.array(leads.free_email),
        pa.array(V.FREE_EMAIL_PROVIDERS).take(provider),
        world.org_domain.take(leads.org),
    )
    return pc.binary_join_element_wise(first_part, separator, last_part, digits, "@", domain, "")


def _events_table(
    rng: np.random.Generator, world: _World, events: _Events, ids: pa.Array
) -> pa.Table:
    n = len(events.t)
    code = events.code.astype(np.int64)
    page = events.page.astype(np.int64)
    unset = page == _UNSET
    # Popular pages get most views: squaring a uniform skews towards the first paths.
    skewed = (rng.random(n) ** 2 * world.page_count[code]).astype(np.int64)
    page[unset] = np.where(world.page_count[code] > 0, world.page_start[code] + skewed, -1)[unset]

    channel = np.where(events.channel == _UNSET, _DEFAULT_CHANNEL[code], events.channel)
    campaign = events.campaign.astype(np.int64)
    unset = campaign == _UNSET
    month = world.month_of(events.t)
    newsletter = np.where(
        rng.random(n) < 0.7,
        world.newsletter_offset + month,
        world.nurture_offset + rng.integers(0, len(V.NURTURE_TRACKS), n),
    )
    paid = world.paid_templates[rng.integers(0, len(world.paid_templates), n)]
    derived = np.select(
        [channel == _CHANNEL["email"], channel == _CHANNEL["paid_search"]],
        [newsletter, paid * world.n_quarters + world.month_quarter[month]],
        -1,
    )
    campaign[unset] = derived[unset]
    return pa.table(
        [
            ids.take(pa.array(events.lead)),
            _timestamps(events.t),
            pa.array(EVENT_TYPES).take(pa.array(code)),
            world.pages.take(pa.array(page, mask=page < 0)),
            world.campaigns.take(pa.array(campaign, mask=campaign < 0)),
            pa.array(V.CHANNELS).take(pa.array(channel)),
        ],
        schema=_EVENTS_SCHEMA,
    )


def _outcomes_table(
    rng: np.random.Generator, leads: _Leads, outcomes: np.ndarray, ids: pa.Array
) -> pa.Table:
    lead, milestone = np.nonzero(np.isfinite(outcomes))
    t = outcomes[lead, milestone]
    order = np.lexsort((milestone, t, lead))
    lead, milestone, t = lead[order], milestone[order], t[order]
    won = milestone == _M[Milestone.CLOSED_WON]
    # Annual contract value grows with company size.
    acv = np.array([b[4] for b in V.SIZE_BANDS])[leads.band[lead]]
    noise = rng.lognormal(0.0, 0.45, lead.size)
    amount = np.round(acv * noise * (0.6 + 0.8 * leads.icp_fit[lead]), -2)
    return pa.table(
        [
            ids.take(pa.array(lead)),
            pa.array([m.value for m in _MILESTONES]).take(pa.array(milestone)),
            _timestamps(t.astype(np.int64)),
            pa.array(amount, mask=~won),
        ],
        schema=_OUTCOMES_SCHEMA,
    )


def _oracle_table(leads: _Leads, ids: pa.Array) -> pa.Table:
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


# ------------------------------------------------------------------ tallies and helpers


class _Tally:
    """Running counts for synth.json."""

    def __init__(self) -> None:
        self.events = np.zeros(len(EVENT_TYPES), dtype=np.int64)
        self.milestones = np.zeros(len(_MILESTONES), dtype=np.int64)
        self.personas = np.zeros(len(V.PERSONAS), dtype=np.int64)

    def add(self, leads: _Leads, events: _Events, outcomes: np.ndarray) -> None:
        self.events += np.bincount(events.code, minlength=len(EVENT_TYPES))
        self.milestones += np.isfinite(outcomes).sum(axis=0)
        self.personas += np.bincount(leads.persona, minlength=len(V.PERSONAS))


def _first_time(lead: np.ndarray, t: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Time of each lead's first masked event (events sorted by lead, then time); inf if none."""
    out = np.full(n, np.inf)
    where = np.flatnonzero(mask)
    if where.size:
        owner = lead[where]
        first = where[np.concatenate([[True], owner[1:] != owner[:-1]])]
        out[lead[first]] = t[first]
    return out


def _norm(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    return p / p.sum()


def _cdf(weight) -> np.ndarray:
    cdf = np.cumsum(np.asarray(weight, dtype=np.float64))
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def _industry(name: str) -> int:
    return next(k for k, i in enumerate(V.INDUSTRIES) if i[0] == name)


def _choice_rows(rng: np.random.Generator, table: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One categorical draw per element, from the probability row `table[row]`."""
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    return (rng.random(len(row))[:, None] >= cdf[row]).sum(axis=1)


def _repeat_poisson(rng: np.random.Generator, idx: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """`idx` repeated by Poisson(lam) counts: one entry per event of a process."""
    return np.repeat(idx, rng.poisson(np.maximum(lam, 0.0)))


def _truncated_exponential(
    rng: np.random.Generator, scale: np.ndarray | float, limit: np.ndarray
) -> np.ndarray:
    """Exponential(scale) delays conditioned on being below `limit` (inverse CDF)."""
    u = rng.random(len(limit))
    return -scale * np.log1p(u * np.expm1(-limit / scale))


def _business_hours(rng: np.random.Generator, t: np.ndarray, tz: np.ndarray) -> np.ndarray:
    """Move times to a plausible working moment of the same (local) day; most weekend
    activity moves to a weekday of the same week."""
    n = len(t)
    local_day = (np.asarray(t, dtype=np.float64) + tz * HOUR) // DAY
    weekday = (local_day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
    move = (weekday >= 5) & (rng.random(n) < 0.75)
    local_day[move] += rng.integers(0, 5, int(move.sum())) - weekday[move]
    hour = np.where(
        rng.random(n) < 0.85, np.clip(rng.normal(13.5, 2.8, n), 6, 22), rng.uniform(0, 24, n)
    )
    return (local_day * DAY + (hour - tz) * HOUR).astype(np.int64)


def _not_before(rng: np.random.Generator, t: np.ndarray, created: np.ndarray) -> np.ndarray:
    """Nothing happens before the lead exists: early events land just after creation."""
    return np.where(t < created, created + rng.integers(60, 2 * HOUR, len(t)), t)


def _lookup(names: list[str], index: np.ndarray, missing: np.ndarray) -> pa.Array:
    return pa.array(names).take(pa.array(index, mask=missing))


def _timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(seconds, dtype=np.int64) * _NS, type=_TS)
