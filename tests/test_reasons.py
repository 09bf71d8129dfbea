"""Reasons in plain words: phrasing of feature values, grouping and the top-k choice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.attributes import OTHER_CATEGORY, AttributeSpec, AttributeTransform
from features.behaviour import BEHAVIOUR_FEATURES
from runtime.reasons import ReasonWriter, column_label

ATTRIBUTES = AttributeTransform(
    specs=(
        AttributeSpec(name="seniority", source="job_title", kind="seniority"),
        AttributeSpec(name="department", source="job_title", kind="department"),
        AttributeSpec(name="email_kind", source="email", kind="email_kind"),
        AttributeSpec(name="employee_count", source="employee_count", kind="numeric"),
        AttributeSpec(name="Lead Source", source="Lead Source", kind="categorical"),
        AttributeSpec(name="gdpr_consent", source="gdpr_consent", kind="boolean"),
    )
)
NAMES = BEHAVIOUR_FEATURES + ATTRIBUTES.names
WRITER = ReasonWriter(NAMES, ATTRIBUTES)


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("days_since_last_demo_request", 2.1, "Requested a demo 2 days ago"),
        ("days_since_last_demo_request", math.nan, "No demo request yet"),
        ("days_since_last_pricing_page_view", 0.5, "Viewed the pricing page 12 hours ago"),
        ("n_pricing_page_view_30d", 3.0, "Viewed the pricing page 3 times in the last 30 days"),
        ("n_demo_request_7d", 1.0, "Requested a demo once in the last 7 days"),
        ("n_demo_request_7d", 0.0, "No demo request in the last 7 days"),
        ("n_webinar_attendance_total", 2.0, "Attended a webinar twice in total"),
        ("days_since_last_intent", math.nan, "No buying-intent action yet"),
        ("n_events_total", 1.0, "1 tracked activity in total"),
        ("email_click_rate", 0.25, "Clicked links in 25% of opened emails"),
        ("decayed_negative_hl30d", 0.0, "No signals of non-intent yet"),
        ("seniority", "student", "Job title: student"),
        ("seniority", "vp", "Job title: VP"),
        ("seniority", None, "No job title"),
        ("department", "it", "Department: IT"),
        ("email_kind", "competitor", "Email domain of a competitor"),
        ("email_kind", "free", "Personal email address (free mail provider)"),
        ("employee_count", 1200.0, "Employee count: 1,200"),
        ("employee_count", 12.5, "Employee count: 12.5"),
        ("employee_count", None, "Employee count: not filled in"),
        ("Lead Source", "Partner Referral", "Lead Source: Partner Referral"),
        ("Lead Source", OTHER_CATEGORY, "Lead Source: a rare value"),
        ("gdpr_consent", 1.0, "Gdpr consent: yes"),
    ],
)
def test_feature_values_in_plain_words(feature, value, text):
    assert WRITER.text(feature, value) == text


def test_every_behaviour_feature_has_words_for_missing_zero_and_typical_values():
    for name in BEHAVIOUR_FEATURES:
        texts = {WRITER.text(name, v) for v in (math.nan, 0.0, 3.4, 400.0)}
        assert all(t and "{" not in t and "nan" not in t.lower() for t in texts), (name, texts)


def test_column_labels_keep_the_columns_own_words():
    assert column_label("annual_revenue") == "Annual revenue"
    assert column_label("Revenue, USD") == "Revenue, USD"


def _values(**overrides) -> list:
    values = {name: 0.0 for name in BEHAVIOUR_FEATURES} | {
        "seniority": "student",
        "department": "other",
        "email_kind": "corporate",
        "employee_count": 50.0,
        "Lead Source": "Webinar",
        "gdpr_consent": 1.0,
    }
    values |= overrides
    return [values[name] for name in NAMES]


def _contributions(**by_feature: float) -> np.ndarray:
    out = np.zeros(len(NAMES))
    for name, value in by_feature.items():
        out[NAMES.index(name)] = value
    return out


def test_one_event_type_is_one_reason_phrased_by_its_strongest_feature():
    contributions = _contributions(
        days_since_last_demo_request=0.9,
        n_demo_request_30d=0.3,
        n_demo_request_total=-0.1,
        seniority=-0.5,
        n_pricing_page_view_30d=0.2,
    )
    values = _values(days_since_last_demo_request=2.1, n_demo_request_30d=1.0)
    reasons = WRITER.reasons(contributions, values)
    assert [r.text for r in reasons] == [
        "Requested a demo 2 days ago",
        "No pricing page view in the last 30 days",
        "Job title: student",
    ]
    demo = reasons[0]
    assert demo.feature == "days_since_last_demo_request"
    assert demo.direction == "positive"
    assert demo.contribution == pytest.approx(1.1)  # the group's sum
    assert reasons[-1].direction == "negative"


def test_top_counts_are_configurable_and_zero_effects_are_no_reasons():
    contributions = _contributions(
        n_demo_request_30d=0.5,
        n_contact_sales_30d=0.4,
        n_free_trial_signup_30d=0.3,
        employee_count=-0.2,
        seniority=-0.6,
        email_kind=-0.1,
    )
    reasons = WRITER.reasons(contributions, _values(), n_positive=2, n_negative=1)
    assert [(r.feature, r.direction) for r in reasons] == [
        ("n_demo_request_30d", "positive"),
        ("n_contact_sales_30d", "positive"),
        ("seniority", "negative"),
    ]
    assert WRITER.reasons(np.zeros(len(NAMES)), _values()) == []
