"""Journeys of one chunk of leads: event processes whose rates follow the hidden factors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.contract.schema import EVENT_CODE, EventType
from features.synth import vocab as V
from features.synth.leads import Leads
from features.synth.sampling import (
    DAY,
    business_hours,
    choice_rows,
    norm,
    not_before,
    repeat_poisson,
    truncated_exponential,
)
from features.synth.world import World

E = EventType
_C = EVENT_CODE
UNSET = -2  # page / campaign / channel: "fill in the default for this event when writing"

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
_EMAIL_AFFINITY = np.array([1.0, 0.3, 0.8, 0.8, 1.5])
_CONTENT_AFFINITY = np.array([1.0, 0.1, 2.5, 1.5, 0.4])
# What a lead's first recorded touch is, by lead source (-1: none, e.g. outbound lists).
_CREATION_CODE = np.array(
    [_C[E.FORM_FILL], _C[E.FORM_FILL], _C[E.WEBINAR_REGISTRATION], _C[E.CONTENT_DOWNLOAD],
     _C[E.FORM_FILL], _C[E.FORM_FILL], -1, _C[E.FORM_FILL], _C[E.FORM_FILL]],
    dtype=np.int8,
)  # fmt: skip


@dataclass
class Events:
    """Events of one chunk as parallel arrays (`lead` indexes the chunk's leads)."""

    lead: np.ndarray
    t: np.ndarray
    code: np.ndarray
    page: np.ndarray
    campaign: np.ndarray
    channel: np.ndarray

    def take(self, index: np.ndarray) -> Events:
        return Events(*(getattr(self, f)[index] for f in self.__dataclass_fields__))


class EventParts:
    """Collects the output of each event process before they are concatenated."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []

    def add(self, lead, t, code, page=UNSET, campaign=UNSET, channel=UNSET) -> None:
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

    def concat(self) -> Events:
        return Events(*(np.concatenate(column) for column in zip(*self._parts, strict=True)))


def draw_journeys(rng: np.random.Generator, world: World, leads: Leads) -> Events:
    """Every event process of the chunk, sorted by lead then time."""
    n = len(leads)
    idx = np.arange(n)
    parts = EventParts()
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
    lead = repeat_poisson(rng, idx, rate * tau * -np.expm1(-life / tau) / DAY)
    t = created[lead] + truncated_exponential(rng, tau[lead], life[lead])
    _sessions(rng, parts, leads, lead, t, _BROWSE_MIX, persona[lead])

    # Content: gated downloads (often a form fill too) and webinars.
    content = leads.engagement * _CONTENT_AFFINITY[persona] * -np.expm1(-life / (120 * DAY))
    lead = repeat_poisson(rng, idx, 0.9 * content)
    t = business_hours(
        rng, created[lead] + truncated_exponential(rng, 120 * DAY, life[lead]), leads.tz[lead]
    )
    t = not_before(rng, t, created[lead])
    parts.add(lead, t, _C[E.CONTENT_DOWNLOAD])
    gated = rng.random(len(lead)) < 0.4
    parts.add(lead[gated], t[gated], _C[E.FORM_FILL], page=world.page_start[_C[E.FORM_FILL]] + 1)
    lead = repeat_poisson(rng, idx, 0.35 * content)
    t = business_hours(
        rng, created[lead] + truncated_exponential(rng, 120 * DAY, life[lead]), leads.tz[lead]
    )
    _webinar_registrations(rng, parts, world, lead, not_before(rng, t, created[lead]))

    _buying_windows(rng, parts, world, leads)
    _stray_intent(rng, parts, leads, world.t1)

    # Customers onboard after the deal closes: the docs light up.
    onboarding = leads.win & (leads.close_at < world.t1)
    start = np.nan_to_num(leads.close_at, nan=0.0).astype(np.int64)
    lead = repeat_poisson(rng, idx, np.where(onboarding, 10.0, 0.0))
    t = business_hours(rng, start[lead] + rng.uniform(0, 120 * DAY, len(lead)), leads.tz[lead])
    parts.add(lead, t, _C[E.DOCS_PAGE_VIEW])

    events = parts.concat()
    inside = np.flatnonzero(events.t < world.t1)
    key = (events.lead[inside].astype(np.int64) << 32) | (events.t[inside] - world.t0)
    return events.take(inside[np.argsort(key, kind="stable")])


def _email(rng: np.random.Generator, parts: EventParts, leads: Leads) -> None:
    """Newsletter and nurture opens that fade over months, clicks, unsubscribes, bounces."""
    idx = np.arange(len(leads))
    tau = 240 * DAY
    span = np.maximum(leads.email_end - leads.created, 0)
    affinity = np.sqrt(leads.engagement) * _EMAIL_AFFINITY[leads.persona]
    lead = repeat_poisson(rng, idx, 0.16 * affinity * tau * -np.expm1(-span / tau) / DAY)
    t = leads.created[lead] + truncated_exponential(rng, tau, span[lead])
    t = not_before(rng, business_hours(rng, t, leads.tz[lead]), leads.created[lead])
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
    parts: EventParts,
    leads: Leads,
    lead: np.ndarray,
    t: np.ndarray,
    mix: np.ndarray,
    mix_row: np.ndarray,
) -> None:
    """Web sessions starting near `t`: one or more page views a minute or two apart."""
    t = not_before(rng, business_hours(rng, t, leads.tz[lead]), leads.created[lead])
    channel = rng.choice(len(V.SESSION_CHANNEL_P), len(lead), p=norm(V.SESSION_CHANNEL_P))
    pages = 1 + rng.poisson(1.3, len(lead))
    lead, t, channel, mix_row = (np.repeat(a, pages) for a in (lead, t, channel, mix_row))
    position = np.arange(len(lead)) - np.repeat(np.cumsum(pages) - pages, pages)
    t = t + (position * rng.exponential(75.0, len(lead))).astype(np.int64)
    kind = choice_rows(rng, mix, mix_row)
    parts.add(lead, t, _PAGE_KINDS[kind], channel=channel)


def _webinar_registrations(
    rng: np.random.Generator, parts: EventParts, world: World, lead: np.ndarray, t: np.ndarray
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
    parts: EventParts,
    world: World,
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
    rng: np.random.Generator, parts: EventParts, world: World, leads: Leads
) -> None:
    """Evaluation behaviour inside each open buying window: where intent clusters."""
    idx = np.flatnonzero(leads.has_window & (leads.window_start < world.t1))
    start, end = leads.window_start[idx], leads.window_end[idx]
    intent = leads.intent[idx]

    lead = repeat_poisson(rng, np.arange(len(idx)), 12.0 * intent)
    t = start[lead] + rng.random(len(lead)) * (end - start)[lead]
    _sessions(rng, parts, leads, idx[lead], t.astype(np.int64), _WINDOW_MIX, np.zeros_like(lead))

    builders = np.isin(
        leads.department[idx], [V.DEPARTMENT_INDEX[d] for d in ("engineering", "data", "product")]
    )
    for code, rate in (
        (E.DEMO_REQUEST, 0.7 * intent),
        (E.CONTACT_SALES, 0.3 * intent),
        (E.FREE_TRIAL_SIGNUP, 0.3 * intent * np.where(builders, 2.0, 1.0)),
        (E.CHAT_CONVERSATION, 0.4 * intent),
        (E.CONTENT_DOWNLOAD, 0.5 * intent),
    ):
        lead = repeat_poisson(rng, np.arange(len(idx)), rate)
        # Hands go up early in an evaluation, rarely in its last weeks.
        t = start[lead] + 0.7 * rng.random(len(lead)) * (end - start)[lead]
        who = idx[lead]
        t = not_before(rng, business_hours(rng, t, leads.tz[who]), leads.created[who])
        parts.add(who, t, _C[code])


def _stray_intent(rng: np.random.Generator, parts: EventParts, leads: Leads, t1: int) -> None:
    """Hand-raises that lead nowhere: tire-kicking trials, snooping competitors, customers
    asking sales for support."""
    n = len(leads)
    idx = np.arange(n)
    prospect = (leads.persona == V.PROSPECT) & ~leads.has_window
    builder = np.isin(
        leads.department, [V.DEPARTMENT_INDEX["engineering"], V.DEPARTMENT_INDEX["data"]]
    )
    for code, p in (
        (E.FREE_TRIAL_SIGNUP, np.where(prospect, np.where(builder, 0.08, 0.03), 0.0)),
        (E.DEMO_REQUEST, np.where(prospect, 0.015, 0.0)),
        (E.DEMO_REQUEST, np.where(leads.persona == V.COMPETITOR, 0.08, 0.0)),
        (E.FREE_TRIAL_SIGNUP, np.where(leads.persona == V.COMPETITOR, 0.15, 0.0)),
        (E.CONTACT_SALES, np.where(leads.persona == V.CUSTOMER, 0.06, 0.0)),
        (E.CHAT_CONVERSATION, np.where(leads.persona == V.CUSTOMER, 0.4, 0.0)),
    ):
        who = idx[rng.random(n) < p]
        t = leads.created[who] + rng.random(len(who)) * np.minimum(
            180 * DAY, t1 - leads.created[who]
        )
        t = not_before(rng, business_hours(rng, t, leads.tz[who]), leads.created[who])
        parts.add(who, t, _C[code])
