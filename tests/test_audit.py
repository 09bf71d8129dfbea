"""The leakage audit on small synthetic frames: leaks are flagged, strong honest signal is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.behaviour import BEHAVIOUR_FEATURES
from features.contract.schema import LABEL, LEAD_ID
from features.pipeline import FeaturePipeline
from training.audit.leakage import (
    KEEP_OPTION,
    AuditConfig,
    LeakageError,
    audit_columns,
    audit_training_set,
    name_words,
)

N = 2_000


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    y = (rng.random(N) < 0.3).astype(np.int8)
    # Honest and strong: converters spend more time on the site (single-feature AUC ~0.85).
    minutes = rng.gamma(2.0, 3.0, N) * np.where(y == 1, 3.0, 1.0)
    # Leaky without a telling name: a field that all but copies the outcome.
    outcome_copy = np.where(rng.random(N) < 0.99, y, 1 - y).astype(str)
    # Leaky by meaning only: a status with no signal of its own in this sample.
    status = rng.choice(["open", "working", "nurturing"], N)
    # Filled in mostly for converters, and then telling: the missingness is the leak.
    filled = rng.random(N) < np.where(y == 1, 0.8, 0.05)
    budget = np.where(filled, rng.normal(np.where(y == 1, 40.0, 30.0), 8.0), np.nan)
    # Honest, missing more for non-converters, weak: one piece of evidence only.
    industry = pd.Series(rng.choice(["saas", "retail", "bank"], N), dtype=object)
    industry[(y == 0) & (rng.random(N) < 0.4)] = None
    features = pd.DataFrame(
        {
            "minutes_on_site": minutes,
            "Field 7": pd.Categorical(outcome_copy),
            "Lead Status": pd.Categorical(status),
            "Budget": budget,
            "industry": industry.astype("category"),
        }
    )
    return features, y


def test_leaks_are_flagged_and_honest_signal_is_not(frame) -> None:
    features, y = frame
    audit = audit_columns(features, y)
    verdicts = {c.column: c.verdict for c in audit.columns}
    assert verdicts["Field 7"] == "flagged"
    assert verdicts["Lead Status"] == "flagged"
    assert verdicts["Budget"] == "flagged"
    assert verdicts["minutes_on_site"] == "ok"
    assert verdicts["industry"] == "watch"
    assert set(audit.left_out) == {"Field 7", "Lead Status", "Budget"}
    by_name = {c.column: c for c in audit.columns}
    assert by_name["minutes_on_site"].auc > 0.8  # strong, and still not flagged
    assert any("separates" in r for r in by_name["Field 7"].reasons)
    assert by_name["Lead Status"].name_words == ("status",)
    assert by_name["Budget"].missing_negative > 0.9 > 0.3 > by_name["Budget"].missing_positive


def test_report_names_the_keep_option_and_the_evidence(frame) -> None:
    features, y = frame
    text = audit_columns(features, y).markdown()
    assert f'{KEEP_OPTION} "' in text
    assert "almost separates the classes" in text
    assert "| `minutes_on_site` | numeric |" in text


def test_keep_option_uses_a_flagged_column_and_says_so(frame) -> None:
    features, y = frame
    audit = audit_columns(features, y, config=AuditConfig(keep=("Field 7",)))
    kept = next(c for c in audit.columns if c.column == "Field 7")
    assert kept.verdict == "flagged" and kept.kept and kept.used
    assert "Field 7" in audit.used_columns
    assert f"kept by `{KEEP_OPTION}`" in audit.markdown()
    with pytest.raises(ValueError, match="not features"):
        audit_columns(features, y, config=AuditConfig(keep=("Field 8",)))


def test_point_in_time_columns_are_only_checked_for_separation(frame) -> None:
    features, y = frame
    audit = audit_columns(features, y, point_in_time=("Budget", "Lead Status", "Field 7"))
    verdicts = {c.column: c.verdict for c in audit.columns}
    assert verdicts["Budget"] == "ok"
    assert verdicts["Lead Status"] == "ok"
    assert verdicts["Field 7"] == "flagged"


def test_groups_keep_a_lead_in_one_fold(frame) -> None:
    _, y = frame
    # Ten rows per lead with the lead's own random id as a category: a per-row fold split
    # would learn each lead's rate from its other rows; a group split cannot.
    lead = np.repeat(np.arange(N // 10), 10)
    y_lead = np.repeat(y[: N // 10], 10)
    ids = pd.DataFrame({"lead_key": pd.Categorical(lead.astype(str))})
    grouped = audit_columns(ids, y_lead, groups=lead)
    ungrouped = audit_columns(ids, y_lead)
    assert grouped.columns[0].auc < 0.6 < 0.9 < ungrouped.columns[0].auc


def test_name_words_read_camel_case_and_ignore_our_behaviour_names() -> None:
    assert set(name_words("LeadQuality")) == {"quality"}
    assert set(name_words("Asymmetrique Profile Score")) == {"asymmetrique", "profile", "score"}
    assert name_words("days_since_last_event") == {}
    assert name_words("Total Time Spent on Website") == {}


def test_a_leaky_behaviour_feature_stops_training_unless_kept() -> None:
    rng = np.random.default_rng(11)
    leads = np.repeat(np.arange(600), 2)  # two cut-offs per lead
    y = np.repeat((rng.random(600) < 0.3).astype(np.int8), 2)
    frame = pd.DataFrame(rng.random((len(y), len(BEHAVIOUR_FEATURES))), columns=BEHAVIOUR_FEATURES)
    # Logged when the deal closed: it copies the outcome.
    frame["n_contact_sales_total"] = y + rng.random(len(y)) * 0.1
    # Honest: most non-converters never requested a demo (missing), converters often did.
    asked = rng.random(len(y)) < np.where(y == 1, 0.7, 0.1)
    frame["days_since_last_demo_request"] = np.where(asked, rng.random(len(y)) * 30, np.nan)
    frame[LEAD_ID] = leads.astype(str)
    frame[LABEL] = y
    pipeline = FeaturePipeline()
    with pytest.raises(LeakageError, match=f'{KEEP_OPTION} "n_contact_sales_total"'):
        audit_training_set(frame, pipeline, AuditConfig())
    audit = audit_training_set(frame, pipeline, AuditConfig(keep=("n_contact_sales_total",)))
    by_name = {c.column: c for c in audit.columns}
    assert by_name["n_contact_sales_total"].kept
    assert by_name["days_since_last_demo_request"].verdict == "ok"
    with pytest.raises(ValueError, match="cannot be left out"):
        pipeline.without(["n_contact_sales_total"])
