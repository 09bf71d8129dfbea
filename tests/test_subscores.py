"""Fit and engagement: sales' two questions apart, from the model itself.

Fit reads only who the lead is (attributes), engagement only what it did (journey), by
construction (see `runtime.model`); each is a 0-100 percentile among the calibration rows,
and the grade is fit's letter with engagement's digit.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import cache

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract.schema import EVENT_TYPES
from features.pipeline import FeaturePipeline
from runtime.artifact import MODEL_FILE, ArtifactSpec, Calibrator, ModelMetadata, Tiers
from runtime.encoder import FeatureEncoder
from runtime.integrity import write_artifact
from runtime.leads import LeadIn, predict_records
from runtime.model import ScoringModel, grades, percentile_0_100, percentile_scale
from serving.app import create_app
from serving.settings import ServiceSettings
from tests import training_data
from tests.serving_fixtures import (
    AS_OF_TIME,
    EMAILS,
    INDUSTRIES,
    PIPELINE,
    TITLES,
    feature_frame,
    lead_payload,
    make_model,
    synthetic_leads,
)
from training.split import hold_out_latest, lead_timeline, time_split


@cache
def model() -> ScoringModel:
    return make_model(seed=4)


def _lead(attributes: dict, events: list[tuple[str, float]], age_days: float, as_of: datetime):
    return LeadIn(
        created_at=as_of - timedelta(days=age_days),
        attributes=attributes,
        events=[
            {"event_type": kind, "occurred_at": as_of - timedelta(days=days_ago)}
            for kind, days_ago in events
        ],
        as_of=as_of,
    )


def _predict(leads: list[LeadIn]):
    return model().predict_leads(leads, [lead.as_of for lead in leads], None)


attributes = st.fixed_dictionaries(
    {
        "job_title": st.sampled_from(TITLES),
        "email": st.sampled_from(EMAILS),
        "industry": st.sampled_from(INDUSTRIES),
        "employee_count": st.one_of(st.none(), st.floats(1, 100_000)),
    }
)
journeys = st.lists(st.tuples(st.sampled_from(EVENT_TYPES), st.floats(0.001, 150)), max_size=30)
ages = st.floats(0.5, 400)
moments = st.datetimes(datetime(2024, 1, 1), datetime(2026, 1, 1), timezones=st.just(UTC))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who=attributes, journey_a=journeys, journey_b=journeys, age_a=ages, age_b=ages, at=moments)
def test_fit_does_not_move_when_only_the_journey_changes(
    who, journey_a, journey_b, age_a, age_b, at
):
    """Other events, another lead age, another as_of: the same fit."""
    later = at + timedelta(days=45)
    prediction = _predict([_lead(who, journey_a, age_a, at), _lead(who, journey_b, age_b, later)])
    assert prediction.fit[0] == prediction.fit[1]
    assert prediction.grade[0][0] == prediction.grade[1][0]  # the letter is fit's


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(who_a=attributes, who_b=attributes, journey=journeys, age=ages, at=moments)
def test_engagement_does_not_move_when_only_the_attributes_change(who_a, who_b, journey, age, at):
    prediction = _predict([_lead(who_a, journey, age, at), _lead(who_b, journey, age, at)])
    assert prediction.engagement[0] == prediction.engagement[1]
    assert prediction.grade[0][1] == prediction.grade[1][1]  # the digit is engagement's


def test_fit_and_engagement_move_with_their_own_inputs():
    """The model learned that VPs buy and students do not, and that demo requests and
    pricing pages come before deals: fit and engagement say so."""
    at = AS_OF_TIME
    quiet = [("blog_page_view", 40.0)]
    keen = [("demo_request", 1.0), ("pricing_page_view", 2.0), ("pricing_page_view", 3.0)]
    vp, student = {"job_title": "VP Marketing"}, {"job_title": "Student"}
    prediction = _predict(
        [_lead(vp, quiet, 60, at), _lead(student, quiet, 60, at), _lead(vp, keen, 60, at)]
    )
    assert prediction.fit[0] > prediction.fit[1]
    assert prediction.engagement[2] > prediction.engagement[0]
    assert prediction.fit[2] == prediction.fit[0]


def test_grades_cut_fit_and_engagement_at_75_50_25():
    fit = np.array([100, 75, 74, 50, 49, 25, 24, 0])
    assert grades(fit, None).tolist() == ["A", "A", "B", "B", "C", "C", "D", "D"]
    assert grades(fit, fit[::-1]).tolist() == ["A4", "A4", "B3", "B3", "C2", "C2", "D1", "D1"]


def test_scales_are_percentiles_of_the_reference_rows_with_ties_in_the_middle():
    fitted = make_model(seed=0)
    leads, events = synthetic_leads(3000, seed=0)  # its training rows, scaled on
    matrix = fitted.encoder.encode_frame(feature_frame(leads, events, AS_OF_TIME))
    meta = fitted.spec.metadata
    assert len(meta.fit_percentiles) == len(meta.engagement_percentiles) == 101
    assert np.all(np.diff(meta.fit_percentiles) >= 0)
    ages = matrix[:, fitted.feature_names.index("days_since_created")]
    assert meta.reference_age_days == pytest.approx(np.median(ages))
    # On the reference rows themselves each is spread over 0-100, a quarter per grade.
    prediction = fitted.predict_matrix(matrix)
    for values in (prediction.fit, prediction.engagement):
        assert values.min() <= 5 and values.max() >= 95
        assert 40 <= values.mean() <= 60
    letters = pd.Series([g[0] for g in prediction.grade]).value_counts(normalize=True)
    assert letters.reindex(list("ABCD")).between(0.15, 0.35).all(), letters
    # A plateau (many rows with one value) maps to the middle of the percentiles it spans.
    ref = np.array([0.0] * 51 + list(np.linspace(0.1, 1, 50)))
    assert percentile_0_100(np.array([0.0, -1.0, 2.0]), ref).tolist() == [25, 0, 100]


def test_training_scales_fit_and_engagement_on_the_calibration_rows():
    result, built, config = (
        training_data.trained(),
        training_data.training_set(),
        training_data.config(),
    )
    trained = result.model
    meta = trained.spec.metadata
    split = time_split(built.frame, config.split, config.training_set.horizon_days)
    # The served model is calibrated on the latest leads of all its rows (the procedure).
    _, start = lead_timeline(built.frame)
    _, held = hold_out_latest(np.arange(len(built.frame)), start, config.split.valid_share)
    calibration = built.frame.iloc[held]
    assert meta.reference_age_days == pytest.approx(calibration["days_since_created"].median())
    fit, engagement = trained.subscore_raw(trained.encoder.encode_frame(calibration))
    assert meta.fit_percentiles == pytest.approx(percentile_scale(fit), abs=1e-12)
    assert meta.engagement_percentiles == pytest.approx(percentile_scale(engagement), abs=1e-12)
    # The test slice: the better the grade, the more deals (the notebook's grid).
    test = built.frame.iloc[split.test]
    prediction = trained.predict_features(test)
    converted = pd.Series(test["label"].to_numpy()).groupby(prediction.fit >= 50).mean()
    assert converted[True] > converted[False]
    converted = pd.Series(test["label"].to_numpy()).groupby(prediction.engagement >= 50).mean()
    assert converted[True] > converted[False]


def test_a_model_packaged_before_fit_and_engagement_loads_and_answers_them_null(tmp_path):
    """An artifact whose model.json has none of the new fields (written by older code) loads,
    scores as before, and answers fit, engagement and grade as null."""
    current = model()
    directory = current.save(tmp_path / "new")
    spec = json.loads((directory / MODEL_FILE).read_text())
    for key in ("fit_percentiles", "engagement_percentiles", "reference_age_days"):
        del spec["metadata"][key]
    old = tmp_path / "old"
    old.mkdir()
    write_artifact(
        old,
        {
            "booster.txt": (directory / "booster.txt").read_bytes(),
            MODEL_FILE: json.dumps(spec).encode(),
        },
    )
    loaded = ScoringModel.load(old)
    assert loaded.spec.metadata.fit_percentiles == ()

    leads, events = synthetic_leads(5, seed=21)
    payloads = [lead_payload(leads, events, i, AS_OF_TIME) for i in range(5)]
    service = ServiceSettings(mode="development", model_uri=str(old))
    with TestClient(create_app(service)) as client:
        answers = client.post("/v1/score/batch", json={"leads": payloads}).json()["results"]
    expected = predict_records(current, payloads)
    assert [a["score"] for a in answers] == expected["score"].tolist()
    assert all(a["fit"] is None and a["engagement"] is None for a in answers)
    assert all(a["grade"] is None for a in answers)
    frame = predict_records(loaded, payloads)
    assert frame["fit"].isna().all() and frame["grade"].isna().all()


def _flat_model() -> ScoringModel:
    """A model of attributes only, as trained on a one-row-per-lead CRM export."""
    pipeline = FeaturePipeline(attributes=PIPELINE.attributes, use_behaviour=False)
    leads, _ = synthetic_leads(2000, seed=8)
    features = pipeline.attributes.frame(leads)
    for name in features:
        if features[name].dtype == object:
            features[name] = features[name].astype("category")
    categories = {
        name: tuple(sorted(str(c) for c in features[name].cat.categories))
        for name in ("seniority", "department", "email_kind", "industry")
    }
    encoder = FeatureEncoder(pipeline, categories)
    matrix = encoder.encode_frame(features)
    rng = np.random.default_rng(8)
    logit = (
        -1.5 + 1.5 * (features["seniority"] == "vp") - 1.5 * (features["seniority"] == "student")
    )
    label = (rng.random(len(features)) < 1 / (1 + np.exp(-logit.astype(float)))).astype(int)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "num_threads": 1},
        lgb.Dataset(
            matrix,
            label,
            categorical_feature=[encoder.feature_names.index(name) for name in categories],
        ),
        num_boost_round=20,
    )
    probability = 1 / (1 + np.exp(-booster.predict(matrix, raw_score=True)))
    spec = ArtifactSpec(
        pipeline=pipeline,
        categories=categories,
        calibrator=Calibrator(kind="sigmoid"),
        tiers=Tiers(thresholds=tuple(np.quantile(probability, [0.9, 0.7]))),
        metadata=ModelMetadata(
            target="converted",
            horizon_days=0,
            trained_at=AS_OF_TIME,
            score_percentiles=percentile_scale(probability),
        ),
    )
    return ScoringModel(spec, booster).with_subscore_scales(matrix)


def test_a_model_without_journey_features_has_fit_no_engagement_and_a_letter_grade(tmp_path):
    flat = _flat_model()
    assert flat.spec.metadata.fit_percentiles and not flat.spec.metadata.engagement_percentiles
    leads, _ = synthetic_leads(30, seed=9)
    payloads = [
        {"lead_id": row["lead_id"], "attributes": {k: row[k] for k in ("job_title", "industry")}}
        for row in leads.replace({np.nan: None}).to_dict("records")
    ]
    frame = predict_records(flat, payloads)
    assert frame["engagement"].isna().all()
    assert set(frame["grade"]) <= set("ABCD")
    # Without a journey fit ranks leads as the score does.
    order = np.argsort(frame["probability"].to_numpy(), kind="stable")
    assert np.all(np.diff(frame["fit"].to_numpy()[order]) >= 0)

    service = ServiceSettings(mode="development", model_uri=str(flat.save(tmp_path / "flat")))
    with TestClient(create_app(service)) as client:
        answer = client.post("/v1/score", json=payloads[0]).json()
    assert answer["engagement"] is None
    assert answer["fit"] == frame["fit"].iloc[0] and answer["grade"] == frame["grade"].iloc[0]
