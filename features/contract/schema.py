"""The data contract: the three tables every other part of the system reads.

A user's export is mapped onto these names by `features.contract.mapping`; from then on the
code only speaks this vocabulary. Times are timezone-aware UTC everywhere.
"""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    """Canonical journey events. The order is the integer code used by the feature kernel."""

    PRICING_PAGE_VIEW = "pricing_page_view"
    PRODUCT_PAGE_VIEW = "product_page_view"
    DOCS_PAGE_VIEW = "docs_page_view"
    BLOG_PAGE_VIEW = "blog_page_view"
    CAREERS_PAGE_VIEW = "careers_page_view"
    OTHER_PAGE_VIEW = "other_page_view"
    CONTENT_DOWNLOAD = "content_download"
    WEBINAR_REGISTRATION = "webinar_registration"
    WEBINAR_ATTENDANCE = "webinar_attendance"
    NEWSLETTER_SIGNUP = "newsletter_signup"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    FORM_FILL = "form_fill"
    FREE_TRIAL_SIGNUP = "free_trial_signup"
    DEMO_REQUEST = "demo_request"
    CONTACT_SALES = "contact_sales"
    CHAT_CONVERSATION = "chat_conversation"
    UNSUBSCRIBE = "unsubscribe"
    EMAIL_BOUNCE = "email_bounce"
    OTHER = "other"


EVENT_TYPES: tuple[str, ...] = tuple(e.value for e in EventType)
EVENT_CODE: dict[str, int] = {name: i for i, name in enumerate(EVENT_TYPES)}
OTHER_CODE = EVENT_CODE[EventType.OTHER]

# Groups used by features and by the synthetic generator. Intent = shows a wish to buy
# (what makes an SQL); interest = engagement with content (what makes an MQL);
# negative = signals of non-intent.
INTENT_EVENTS = frozenset(
    {
        EventType.PRICING_PAGE_VIEW,
        EventType.FREE_TRIAL_SIGNUP,
        EventType.DEMO_REQUEST,
        EventType.CONTACT_SALES,
    }
)
INTEREST_EVENTS = frozenset(
    {
        EventType.PRODUCT_PAGE_VIEW,
        EventType.BLOG_PAGE_VIEW,
        EventType.CONTENT_DOWNLOAD,
        EventType.WEBINAR_REGISTRATION,
        EventType.WEBINAR_ATTENDANCE,
        EventType.NEWSLETTER_SIGNUP,
        EventType.EMAIL_OPEN,
        EventType.EMAIL_CLICK,
        EventType.FORM_FILL,
        EventType.CHAT_CONVERSATION,
    }
)
NEGATIVE_EVENTS = frozenset(
    {EventType.CAREERS_PAGE_VIEW, EventType.UNSUBSCRIBE, EventType.EMAIL_BOUNCE}
)


class Milestone(StrEnum):
    """Funnel milestones recorded in the outcomes table."""

    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"
    DISQUALIFIED = "disqualified"


MILESTONES: tuple[str, ...] = tuple(m.value for m in Milestone)
# A lead that reached one of these is no longer open: it is not scored after that time.
TERMINAL_MILESTONES = frozenset(
    {Milestone.CLOSED_WON, Milestone.CLOSED_LOST, Milestone.DISQUALIFIED}
)
# Funnel order; a later stage implies the earlier ones were passed.
FUNNEL_ORDER: dict[str, int] = {
    Milestone.MQL: 0,
    Milestone.SAL: 1,
    Milestone.SQL: 2,
    Milestone.OPPORTUNITY: 3,
    Milestone.CLOSED_WON: 4,
    Milestone.CLOSED_LOST: 4,
    Milestone.DISQUALIFIED: 4,
}

# Column names of the three tables.
LEAD_ID = "lead_id"
CREATED_AT = "created_at"
OCCURRED_AT = "occurred_at"
EVENT_TYPE = "event_type"
MILESTONE = "milestone"
AMOUNT = "amount"
# Column names of the rows made from them: a lead as of a cut-off, and its label.
AS_OF = "as_of"
LABEL = "label"

LEAD_REQUIRED = (LEAD_ID, CREATED_AT)
# Well-known lead attributes; any other column of the leads table is an attribute too.
LEAD_ATTRIBUTES = (
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
    "job_title",
    "email",
    "email_domain",
    "lead_source",
    "campaign",
)
EVENT_REQUIRED = (LEAD_ID, OCCURRED_AT, EVENT_TYPE)
EVENT_OPTIONAL = ("page", "campaign", "channel")
OUTCOME_REQUIRED = (LEAD_ID, MILESTONE, OCCURRED_AT)
OUTCOME_OPTIONAL = (AMOUNT,)
