"""What all chunks of a synthetic run share: organisations, calendar and string tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.schema import EVENT_CODE, EVENT_TYPES
from features.synth import vocab as V
from features.synth.sampling import DAY, cdf, norm


@dataclass(frozen=True)
class World:
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
    def build(cls, seed: int, n_leads: int, start: pd.Timestamp, end: pd.Timestamp) -> World:
        """The world of a run: its own random stream, so chunks can be drawn independently."""
        rng = np.random.default_rng([seed, 0])
        t0, t1 = int(start.timestamp()), int(end.timestamp())
        orgs = _organisations(rng, n_leads)

        n_days = max(1, (t1 - t0) // DAY)
        day = np.arange(n_days)
        weekday = (t0 // DAY + day + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
        # Marketing grows over the period; few leads arrive at weekends.
        weight = (1.0 + 0.6 * day / n_days) * np.where(weekday >= 5, 0.3, 1.0)
        day_cdf = cdf(weight)

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
            page_start[EVENT_CODE[event]], page_count[EVENT_CODE[event]] = len(pages), len(paths)
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
            paid_templates=source_campaigns[V.SOURCE_INDEX["Paid Search"]][
                source_campaigns[V.SOURCE_INDEX["Paid Search"]] >= 0
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
    industry_share = norm([i[1] for i in V.INDUSTRIES])
    suffix_weight = industry_share[suffix_industry] / np.bincount(suffix_industry)[suffix_industry]
    name_weight = np.tile(suffix_weight, len(brands))
    n_companies = int(np.clip(n_leads // 4, 100, name_weight.size // 2))
    keys = rng.exponential(size=name_weight.size) / name_weight  # weighted sample w/o replacement
    name_id = np.sort(np.argpartition(keys, n_companies)[:n_companies])
    brand, suffix = np.divmod(name_id, len(suffixes))
    industry = suffix_industry[suffix]

    band = rng.choice(len(V.SIZE_BANDS), n_companies, p=norm([b[2] for b in V.SIZE_BANDS]))
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
    country = rng.choice(len(V.COUNTRIES), n_companies, p=norm([c[1] for c in V.COUNTRIES]))

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
    pick[V.PROSPECT] = (prospects, cdf(employees[prospects] ** 0.35))  # big firms, more leads
    pick[V.JOB_SEEKER] = (company_ids, cdf(employees**0.5))
    pick[V.STUDENT] = (uni_ids, cdf(np.ones(n_uni)))
    pick[V.COMPETITOR] = (competitor_ids, cdf([3.0, 2.0, 2.0, 1.0, 1.0][:n_comp]))
    pick[V.CUSTOMER] = (customers, cdf(employees[customers] ** 0.35))
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


def _industry(name: str) -> int:
    return next(k for k, i in enumerate(V.INDUSTRIES) if i[0] == name)
