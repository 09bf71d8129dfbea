"""Funnel milestones of one chunk, a realistic delay after the behaviour that triggers them."""

from __future__ import annotations

import numpy as np

from features.contract.schema import EVENT_CODE, EVENT_TYPES, EventType, Milestone
from features.synth import vocab as V
from features.synth.journeys import Events
from features.synth.leads import Leads
from features.synth.sampling import DAY, HOUR
from features.synth.world import World

E = EventType
_C = EVENT_CODE
MILESTONE_COLUMNS = tuple(Milestone)  # column order of the milestone-time matrix
_M = {m: k for k, m in enumerate(MILESTONE_COLUMNS)}
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
# After a lead closes, which of its events still happen: customers onboard in the docs,
# everyone else mostly drifts away (still opening the odd newsletter).
_KEEP_AFTER_WON = np.full(len(EVENT_TYPES), 0.1)
_KEEP_AFTER_WON[[_C[E.DOCS_PAGE_VIEW], _C[E.EMAIL_OPEN], _C[E.PRODUCT_PAGE_VIEW]]] = [1.0, 0.6, 0.5]
_KEEP_AFTER_LOST = np.full(len(EVENT_TYPES), 0.1)
_KEEP_AFTER_LOST[[_C[E.EMAIL_OPEN], _C[E.EMAIL_CLICK]]] = [0.4, 0.2]


def draw_funnel(rng: np.random.Generator, world: World, leads: Leads, events: Events) -> np.ndarray:
    """Milestone times, shape (leads, milestones), nan where not reached within the period."""
    n = len(leads)
    times = np.full((n, len(MILESTONE_COLUMNS)), np.nan)
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
    accepted = rest & (rng.random(n) < np.where(leads.persona == V.PROSPECT, 0.55, 0.5))
    sal_rest = mql + rng.uniform(2 * HOUR, 3 * DAY, n)
    times[:, _M[Milestone.SAL]] = np.where(accepted, sal_rest, times[:, _M[Milestone.SAL]])
    p_disqualify = np.where(leads.persona != V.PROSPECT, 0.9, np.where(leads.has_window, 0.2, 0.45))
    rejected = accepted & (rng.random(n) < p_disqualify)
    disqualified = np.where(rejected, sal_rest + rng.uniform(3 * DAY, 30 * DAY, n), disqualified)
    times[:, _M[Milestone.DISQUALIFIED]] = disqualified
    times[times >= world.t1] = np.nan
    return times


def drop_after_close(rng: np.random.Generator, events: Events, outcomes: np.ndarray) -> Events:
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


def _first_time(lead: np.ndarray, t: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Time of each lead's first masked event (events sorted by lead, then time); inf if none."""
    out = np.full(n, np.inf)
    where = np.flatnonzero(mask)
    if where.size:
        owner = lead[where]
        first = where[np.concatenate([[True], owner[1:] != owner[:-1]])]
        out[lead[first]] = t[first]
    return out
