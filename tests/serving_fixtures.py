"""Small synthetic leads, journeys and a real (tiny) scoring model for the serving tests.

The model goes through the project's own feature pipeline and encoder, so the service, batch
scoring and `ScoringModel.predict_rows` can be compared on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.attributes import AttributeSpec, AttributeTransform
from features.contract.schema import AS_OF, EVENT_TYPES
from features.journeys import Journeys
from features.pipeline import FeaturePipeline
from runtime.artifact import ArtifactSpec, Calibrator, ModelMetadata, Tiers
from runtime.encoder import FeatureEncoder
from runtime.model import ScoringModel
from runtime.source import RegistrySettings
from training.registry.tracking import LoggedVersion, log_model_run

AS_OF_TIME = datetime(2025, 6, 1, tzinfo=UTC)
PIPELINE = FeaturePipeline(
    attributes=AttributeTransform(
        specs=(
            AttributeSpec(name="seniority", source="job_title", kind="seniority"),
            AttributeSpec(name="department", source="job_title", kind="department"),
            AttributeSpec(name="email_kind", source="email", kind="email_kind"),
            AttributeSpec(name="industry", source="industry", kind="categorical"),
            AttributeSpec(name="employee_count", source="employee_count", kind="numeric"),
        ),
        competitor_domains=frozenset({"rival.io"}),
    )
)
TITLES = ("VP Marketing", "Student", "Software Engineer", "CEO", "Marketing Manager", None)
EMAILS = ("a@acme.com", "b@gmail.com", "c@rival.io", "d@uni.edu", None)
INDUSTRIES = ("Software", "Retail", "Finance", None)
_WEIGHTS = np.ones(len(EVENT_TYPES))
_WEIGHTS[EVENT_TYPES.index("email_open")] = 6
_WEIGHTS[EVENT_TYPES.index("blog_page_view")] = 4
_WEIGHTS /= _WEIGHTS.sum()


def synthetic_leads(
    n: int, seed: int, as_of: datetime = AS_OF_TIME
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contract-shaped leads and events; journeys end before `as_of`."""
    rng = np.random.default_rng(seed)
    ids = [f"L{seed}-{i}" for i in range(n)]
    leads = pd.DataFrame(
        {
            "lead_id": ids,
            "created_at": [as_of - timedelta(days=float(d)) for d in rng.uniform(5, 200, n)],
            "job_title": rng.choice(np.array(TITLES, dtype=object), n),
            "email": rng.choice(np.array(EMAILS, dtype=object), n),
            "industry": rng.choice(np.array(INDUSTRIES, dtype=object), n),
            "employee_count": np.where(rng.random(n) < 0.1, np.nan, rng.lognormal(4, 1.5, n)),
        }
    )
    counts = rng.poisson(12, n)
    lead_of = np.repeat(np.arange(n), counts)
    ages = (
        rng.uniform(0, 1, len(lead_of))
        * ((as_of - leads["created_at"]).dt.total_seconds().to_numpy()[lead_of])
    )
    events = pd.DataFrame(
        {
            "lead_id": np.array(ids, dtype=object)[lead_of],
            # Whole milliseconds: what JSON timestamps carry without rounding.
            "occurred_at": (pd.Timestamp(as_of) - pd.to_timedelta(ages, unit="s")).floor("ms"),
            "event_type": rng.choice(np.array(EVENT_TYPES, dtype=object), len(lead_of), p=_WEIGHTS),
        }
    )
    return leads, events


def feature_frame(leads: pd.DataFrame, events: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    journeys = Journeys.from_frame(events, leads["lead_id"])
    rows = pd.DataFrame({"lead_id": leads["lead_id"], AS_OF: pd.Timestamp(as_of)})
    return PIPELINE.frame(leads, journeys, rows)


def make_model(seed: int = 0, n_leads: int = 3000, rounds: int = 60) -> ScoringModel:
    """A small calibrated-enough model: intent actions and seniority drive conversion."""
    leads, events = synthetic_leads(n_leads, seed)
    features = feature_frame(leads, events, AS_OF_TIME)
    logit = (
        -2.5
        + 1.2 * (features["n_demo_request_total"] > 0)
        + 0.4 * features["n_pricing_page_view_90d"].clip(0, 3)
        - 0.8 * (features["n_careers_page_view_total"] > 0)
        + 1.0 * (features["seniority"] == "vp").astype(float)
        - 1.5 * (features["seniority"] == "student").astype(float)
        - 1.0 * (features["email_kind"] == "competitor").astype(float)
    )
    rng = np.random.default_rng(seed + 1)
    label = (rng.random(len(features)) < 1 / (1 + np.exp(-logit))).astype(int)
    categories = {
        name: tuple(sorted(str(c) for c in features[name].cat.categories))
        for name in ("seniority", "department", "email_kind", "industry")
    }
    encoder = FeatureEncoder(PIPELINE, categories)
    matrix = encoder.encode_frame(features)
    categorical = [encoder.feature_names.index(name) for name in categories]
    booster = lgb.train(
        {
            "objective": "binary",
            "num_leaves": 15,
            "learning_rate": 0.1,
            "min_data_in_leaf": 20,
            "verbose": -1,
            "seed": seed,
            "num_threads": 1,
        },
        lgb.Dataset(
            matrix,
            label,
            feature_name=list(encoder.feature_names),
            categorical_feature=categorical,
        ),
        num_boost_round=rounds,
    )
    probability = 1 / (1 + np.exp(-booster.predict(matrix, raw_score=True)))
    spec = ArtifactSpec(
        pipeline=PIPELINE,
        categories=categories,
        calibrator=Calibrator(kind="sigmoid"),
        tiers=Tiers(
            thresholds=tuple(np.quantile(probability, [0.9, 0.7])),
            policy={"sql": "top 10% of leads", "mql": "next 20%"},
        ),
        metadata=ModelMetadata(
            target="closed_won",
            horizon_days=90,
            trained_at=datetime(2025, 6, 2, seed % 24, tzinfo=UTC),
            train_window=(datetime(2024, 11, 1, tzinfo=UTC), AS_OF_TIME),
            metrics={"roc_auc": 0.8},
            score_percentiles=tuple(np.quantile(probability, np.linspace(0, 1, 101))),
        ),
    )
    # Fit and engagement scaled on the training rows, by the function training packages with.
    return ScoringModel(spec, booster).with_subscore_scales(matrix)


def lead_payload(leads: pd.DataFrame, events: pd.DataFrame, i: int, as_of: datetime) -> dict:
    """The JSON body of lead `i` as a CRM would send it."""
    lead = leads.iloc[i]
    mine = events[events["lead_id"] == lead["lead_id"]]
    attributes = {
        k: (None if pd.isna(lead[k]) else lead[k])
        for k in ("job_title", "email", "industry", "employee_count")
    }
    return {
        "lead_id": lead["lead_id"],
        "created_at": lead["created_at"].isoformat(),
        "attributes": attributes,
        "events": [
            {"event_type": k, "occurred_at": t.isoformat()}
            for t, k in zip(mine["occurred_at"], mine["event_type"], strict=True)
        ],
        "as_of": as_of.isoformat(),
    }


def register(model: ScoringModel, settings: RegistrySettings, seed: int = 0) -> LoggedVersion:
    """Log and register a model as a training run would, without a report."""
    return log_model_run(
        model,
        params={"seed": str(seed)},
        metrics={},
        headline={},
        texts={},
        figures={},
        evaluation_rows=None,
        settings=settings,
    )
