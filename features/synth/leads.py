"""Leads of one chunk: who they are, and the hidden factors that drive their journeys."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.synth import vocab as V
from features.synth.sampling import DAY, business_hours, choice_rows, norm
from features.synth.world import World

_PERSONA_ENGAGEMENT = np.array([1.0, 0.5, 1.2, 1.2, 1.0])
_FREE_EMAIL_P = np.array([0.10, 0.75, 0.30, 0.30, 0.03])


@dataclass
class Leads:
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


def draw_leads(rng: np.random.Generator, world: World, n: int) -> Leads:
    """`n` leads: persona, organisation and role, then ICP fit, buying window and outcome."""
    persona = rng.choice(len(V.PERSONAS), n, p=norm(V.PERSONA_P))
    org = np.empty(n, dtype=np.int64)
    for k, (ids, pick_cdf) in enumerate(world.org_pick):
        mask = persona == k
        org[mask] = ids[np.searchsorted(pick_cdf, rng.random(int(mask.sum())), side="right")]
    industry = world.org_industry[org]
    employees = world.org_employees[org]
    country = world.org_country[org]
    tz = np.array([c[2] for c in V.COUNTRIES])[country]
    band = np.searchsorted([b[0] for b in V.SIZE_BANDS], employees, side="right") - 1

    day = np.searchsorted(world.day_cdf, rng.random(n), side="right")
    created = business_hours(rng, world.t0 + day * DAY, tz)
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
    source = choice_rows(rng, source_p, persona)
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
        persona == V.PROSPECT, np.clip((0.08 + 0.75 * icp_fit) * source_window[source], 0, 0.95), 0
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
        (persona == V.PROSPECT) & (employees <= 10), 0.15, 0.0
    )
    bounce_p = np.where(source == V.SOURCE_INDEX["Outbound"], 0.08, 0.02)  # bought lists go stale
    bounce_at = np.where(rng.random(n) < bounce_p, created + rng.exponential(5 * DAY, n), np.nan)
    unsubscribe_p = 0.08 + 0.10 * (engagement < 0.5) + 0.2 * (persona == V.JOB_SEEKER)
    unsubscribe_at = np.where(
        rng.random(n) < unsubscribe_p, created + rng.exponential(90 * DAY, n), np.nan
    )
    email_end = np.fmin(np.fmin(bounce_at, unsubscribe_at), world.t1)
    return Leads(
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
    row[(persona == V.PROSPECT) & (employees <= 50)] = 0
    seniority = choice_rows(rng, seniority_rows, row)

    non_exec = [(*V.DEPT_P[p], 0.0) for p in ("prospect", "job_seeker", "prospect")]
    non_exec += [(*V.DEPT_P[p], 0.0) for p in ("competitor", "existing_customer")]
    department_rows = np.array([*non_exec, V.C_LEVEL_DEPT_P])
    row = persona.copy()
    row[seniority == 0] = len(department_rows) - 1
    department = choice_rows(rng, department_rows, row)

    student = persona == V.STUDENT
    seniority[student] = V.SENIORITIES.index("student")
    department[student] = V.DEPARTMENT_INDEX["student"]
    return seniority, department
