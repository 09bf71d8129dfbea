"""The runtime scoring model: one object, loaded from an artifact directory, that computes
features, predicts, calibrates, assigns the tier and explains.

Everything that scores (the service, `leadscore score`, the training report, promotion, the
notebooks, the MLflow pyfunc) calls one of its `predict_*` methods, and they all end in
`predict_raw`: the only place the calibrator, the 0-100 scale and the tier thresholds are
applied. It imports neither training code nor MLflow.

Besides the score, `predict_matrix` answers sales' two questions apart (MadKudu's and
Pardot's fit and engagement), from the model itself and on the same encoded rows:

- **fit** (is this the kind of company we sell to?): the booster's log-odds with the
  behaviour features replaced by those of a lead with no events at a fixed reference age,
  so it reads the attributes only;
- **engagement** (are they active now?): the log-odds with the attribute features missing,
  so it reads the journey only (events and lead age); None for models without behaviour
  features (flat CRM exports).

Each is a 0-100 percentile among the calibration slice's leads, like the score, and the
**grade** puts them together as sales tools do: fit letter A-D and engagement digit 1-4
("A1": best fit, most engaged; the letter alone without engagement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from features.catalogue import CATALOGUE
from features.journeys import Journeys
from features.pipeline import FeaturePipeline, LeadFeatures, LeadRecord
from runtime.artifact import BOOSTER_FILE, MODEL_FILE, ArtifactError, ArtifactSpec, parse_spec
from runtime.encoder import FeatureEncoder
from runtime.integrity import booster_text, read_verified, write_artifact
from runtime.methods import ReasonsMethod
from runtime.reasons import Reason, ReasonWriter
from runtime.trees import Explanation, TreeEnsemble, shap_explanation

if TYPE_CHECKING:
    import lightgbm as lgb

# Rows whose reasons are phrased at a time: bounds the object array of feature values.
_REASON_CHUNK = 10_000
# Rows whose fit and engagement are computed at a time: bounds the copies of the matrix.
_SUBSCORE_CHUNK = 50_000
# Up to this many rows the compiled tree walk computes a raw score (microseconds), beyond
# it LightGBM does (its threads win, but each call costs ~20 us whatever the rows).
_WALK_ROWS = 64
# Grades: the lowest fit (engagement) of each letter (digit) but the last, best first.
GRADE_CUTS = (75, 50, 25)
FIT_GRADES = ("A", "B", "C", "D")
ENGAGEMENT_GRADES = ("1", "2", "3", "4")
# The behaviour feature holding the lead's age, set to the reference age for fit.
_LEAD_AGE = next(feature.name for feature in CATALOGUE if feature.kind == "lead_age")


class DatedLead(LeadRecord, Protocol):
    """A lead record with its creation time (None: unknown, for attribute-only models)."""

    created_at: datetime | None


@dataclass(frozen=True)
class Reasons:
    """How many reasons to give per lead, and how to compute the contributions behind them."""

    positive: int = 3
    negative: int = 3
    method: ReasonsMethod = ReasonsMethod.PATH


@dataclass(frozen=True)
class Prediction:
    """What the model says about each row: arrays aligned with the rows asked about."""

    raw: np.ndarray  # the booster's log-odds, before calibration
    probability: np.ndarray  # calibrated probability of the target within the horizon
    score: np.ndarray  # 0-100: percentile among the calibration slice's leads
    tier: np.ndarray  # tier names (object array)
    contributions: np.ndarray | None = None  # rows x features, in log-odds (when explained)
    reasons: list[list[Reason]] | None = None  # top reasons per row (when asked for)
    # Lead records only: what their input needed worked around (late events, unknown types).
    inputs: LeadFeatures | None = None
    # 0-100 percentiles (see the module's docstring); None when the model has no scale for
    # them (packaged before they existed; engagement: no behaviour features) or the rows
    # came as raw scores (`predict_raw`).
    fit: np.ndarray | None = None
    engagement: np.ndarray | None = None
    grade: np.ndarray | None = None  # "A1".."D4" (object array); the letter alone w/o engagement

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """probability, score, tier, fit, engagement and grade as a frame."""
        return pd.DataFrame(
            {
                "probability": self.probability,
                "score": self.score,
                "tier": self.tier,
                **self.subscore_columns(),
            },
            index=index,
        )

    def subscore_columns(self) -> dict[str, list | np.ndarray]:
        """fit and engagement (int64, or None in every row when absent) and grade (str or
        None): the columns of every table of scores (batch files, the pyfunc's answer)."""
        n = len(self.raw)
        return {
            "fit": _int_or_none(self.fit, n),
            "engagement": _int_or_none(self.engagement, n),
            "grade": [None] * n if self.grade is None else self.grade,
        }


class ScoringModel:
    """A trained, calibrated lead scorer. Training builds it; `load` reads an exported one."""

    def __init__(self, spec: ArtifactSpec, booster: lgb.Booster) -> None:
        self.spec = spec
        self.booster = booster
        self.encoder = FeatureEncoder(spec.pipeline, spec.categories)
        self.feature_names: tuple[str, ...] = self.encoder.feature_names
        self.categorical_features = self.encoder.categorical_features

    @property
    def pipeline(self) -> FeaturePipeline:
        return self.spec.pipeline

    # -- the predict family: inputs of every shape, one ending ---------------------------
    def predict_leads(
        self, leads: Sequence[DatedLead], as_of: Sequence[datetime], reasons: Reasons | None
    ) -> Prediction:
        """Lead records (`runtime.leads.LeadIn`, as the HTTP API takes them), each as of its
        own time. Leads without `created_at` suit only models that do not read journeys."""
        created = [lead.created_at for lead in leads]
        features = self.pipeline.leads(
            leads,
            np.array([t.timestamp() for t in as_of]),
            np.array([t.timestamp() if t is not None else np.nan for t in created]),
        )
        matrix = self.encoder.encode_leads(features.behaviour, features.attributes)
        prediction = self.predict_matrix(matrix, None if reasons is None else reasons.method)
        texts = None
        if reasons is not None and (reasons.positive or reasons.negative):
            values = [
                [*behaviour, *(values[name] for name in self.pipeline.attributes.names)]
                for behaviour, values in zip(
                    features.behaviour.tolist(), features.attributes, strict=True
                )
            ]
            texts = self.reason_writer.reasons_of_rows(
                prediction.contributions, values, reasons.positive, reasons.negative
            )
        return replace(prediction, reasons=texts, inputs=features)

    def predict_rows(
        self,
        leads: pd.DataFrame,
        journeys: Journeys | None,
        rows: pd.DataFrame,
        reasons: Reasons | None = None,
    ) -> Prediction:
        """(lead_id, as_of) rows of contract tables: batch scoring and reports."""
        return self.predict_features(self.pipeline.frame(leads, journeys, rows), reasons)

    def predict_features(
        self, features: pd.DataFrame, reasons: Reasons | None = None
    ) -> Prediction:
        """Rows whose features are computed already (a training set, logged test rows)."""
        missing = [name for name in self.feature_names if name not in features]
        if missing:
            raise ValueError(
                f"the rows lack {len(missing)} of the model's {len(self.feature_names)} "
                f"features, e.g. {missing[:5]}: compute them with the model's own pipeline."
            )
        prediction = self.predict_matrix(
            self.encoder.encode_frame(features), None if reasons is None else reasons.method
        )
        if reasons is None or not (reasons.positive or reasons.negative):
            return prediction
        texts: list[list[Reason]] = []
        for start in range(0, len(features), _REASON_CHUNK):
            stop = start + _REASON_CHUNK
            values = features.iloc[start:stop][list(self.feature_names)].to_numpy(dtype=object)
            texts += self.reason_writer.reasons_of_rows(
                prediction.contributions[start:stop], values, reasons.positive, reasons.negative
            )
        return replace(prediction, reasons=texts)

    def predict_matrix(
        self, matrix: np.ndarray, explain: ReasonsMethod | None = None
    ) -> Prediction:
        """Encoded rows (`encoder`'s matrix); `explain` adds per-feature contributions.

        Adds fit, engagement and grade when the model has their scales."""
        if explain is None:
            prediction = self.predict_raw(self.raw_score(matrix))
        else:
            explained = self.explain(matrix, explain)
            # The walker's raw score is the booster's own (see runtime.trees): no second pass.
            prediction = self.predict_raw(explained.raw, explained.contributions)
        return self._with_subscores(prediction, matrix)

    def predict_raw(self, raw: np.ndarray, contributions: np.ndarray | None = None) -> Prediction:
        """Log-odds -> calibrated probability, 0-100 score and tier: the one place they are
        applied, so every caller gets the same answer for the same raw score."""
        raw = np.asarray(raw, dtype=np.float64)
        probability = self.spec.calibrator.apply(raw)
        return Prediction(
            raw=raw,
            probability=probability,
            score=self.score_0_100(probability),
            tier=self.spec.tiers.assign(probability),
            contributions=contributions,
        )

    # -- fit and engagement --------------------------------------------------------------
    def _with_subscores(self, prediction: Prediction, matrix: np.ndarray) -> Prediction:
        fit_scale, engagement_scale = self._scales["fit"], self._scales["engagement"]
        if fit_scale is None:
            return prediction  # packaged before fit and engagement: none to give
        fit_raw, engagement_raw = self.subscore_raw(matrix, prediction.raw)
        fit = fit_scale.percentiles(fit_raw)
        engagement = None
        if engagement_raw is not None and engagement_scale is not None:
            engagement = engagement_scale.percentiles(engagement_raw)
        return replace(prediction, fit=fit, engagement=engagement, grade=grades(fit, engagement))

    @cached_property
    def _scales(self) -> dict[str, PercentileScale | None]:
        """The 0-100 scales of the metadata as arrays, built once (None: not in the model)."""
        meta = self.spec.metadata
        return {
            name: PercentileScale(values) if values else None
            for name, values in (
                ("score", meta.score_percentiles),
                ("fit", meta.fit_percentiles),
                ("engagement", meta.engagement_percentiles),
            )
        }

    def subscore_raw(
        self, matrix: np.ndarray, raw: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Log-odds of fit and engagement of encoded rows (`raw`: their full raw score, if
        known): the booster's raw score with the behaviour features replaced by the reference
        journey (no events, `reference_age_days` old), then with the attributes missing.
        Engagement is None for a model without behaviour features, whose fit is its score."""
        n_behaviour = len(self.pipeline.behaviour_names)
        if not n_behaviour:
            return (self.raw_score(matrix) if raw is None else raw), None
        fit = np.empty(len(matrix), dtype=np.float64)
        engagement = np.empty(len(matrix), dtype=np.float64)
        reference = self._reference_journey
        for start in range(0, len(matrix), _SUBSCORE_CHUNK):
            rows = matrix[start : start + _SUBSCORE_CHUNK]
            both = np.concatenate([rows, rows])
            both[: len(rows), :n_behaviour] = reference
            both[len(rows) :, n_behaviour:] = np.nan
            out = self._raw_of(both)
            fit[start : start + len(rows)] = out[: len(rows)]
            engagement[start : start + len(rows)] = out[len(rows) :]
        return fit, engagement

    @cached_property
    def _reference_journey(self) -> np.ndarray:
        """The behaviour row of a lead with no events, `reference_age_days` after it was
        created: what fit reads in place of the lead's own journey."""
        age = self.spec.metadata.reference_age_days * 86_400.0
        nobody = _NoEvents(attributes={}, events=[])
        return self.pipeline.leads([nobody], np.array([age]), np.zeros(1)).behaviour[0]

    def with_subscore_scales(self, matrix: np.ndarray) -> ScoringModel:
        """This model with the 0-100 scales of fit and engagement measured on the encoded
        reference rows `matrix` (training: the calibration slice, as `score_percentiles`):
        the reference age is their median lead age, each scale their log-odds at each
        percentile. Training's packaging calls it; so do tests that build a model by hand."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if not len(matrix):
            raise ValueError("fit and engagement need reference rows to scale: got none")
        update: dict[str, object] = {}
        if self.pipeline.use_behaviour:
            ages = matrix[:, self.feature_names.index(_LEAD_AGE)]
            if np.isfinite(ages).any():
                update["reference_age_days"] = float(np.nanmedian(ages))
        scaled = self._with_metadata(**update)
        fit, engagement = scaled.subscore_raw(matrix)
        update["fit_percentiles"] = percentile_scale(fit)
        if engagement is not None:
            update["engagement_percentiles"] = percentile_scale(engagement)
        return self._with_metadata(**update)

    def _with_metadata(self, **updates: object) -> ScoringModel:
        metadata = self.spec.metadata.model_copy(update=updates)
        return ScoringModel(self.spec.model_copy(update={"metadata": metadata}), self.booster)

    def _raw_of(self, matrix: np.ndarray) -> np.ndarray:
        """Raw scores by the cheaper means for this many rows (both give the same values)."""
        if len(matrix) <= _WALK_ROWS:
            return self.trees.explain(matrix).raw
        return self.raw_score(matrix)

    # -- the parts -----------------------------------------------------------------------
    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        """The booster's log-odds (before calibration)."""
        return self.booster.predict(
            matrix, raw_score=True, num_threads=1 if len(matrix) < 512 else 0
        )

    def explain(
        self, matrix: np.ndarray, method: ReasonsMethod = ReasonsMethod.PATH
    ) -> Explanation:
        """Raw log-odds and per-feature contributions (in log-odds) of encoded rows.

        `path`: one compiled pass over the trees, the same raw score as `raw_score` and
        microseconds per row; `shap`: LightGBM's exact TreeSHAP, milliseconds per row.
        """
        if method == ReasonsMethod.SHAP:
            return shap_explanation(self.booster, matrix)
        return self.trees.explain(matrix)

    @cached_property
    def trees(self) -> TreeEnsemble:
        """The booster flattened for `explain`: built on first use, kept with the model."""
        return TreeEnsemble.from_booster(self.booster)

    @cached_property
    def reason_writer(self) -> ReasonWriter:
        """Phrases this model's features: built on first use, kept with the model."""
        return ReasonWriter(self.feature_names, self.pipeline.attributes)

    def score_0_100(self, probability: np.ndarray) -> np.ndarray:
        """Percentile of each probability among the calibration slice's leads (0-100)."""
        scale = self._scales["score"]
        if scale is None:
            return np.round(np.asarray(probability) * 100)
        return scale.percentiles(probability)

    # -- persistence ---------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        """Write the artifact directory: booster, `model.json`, then the checksums of both.

        The one writer of artifacts (training's export, the registry, the pyfunc): what it
        writes is what `load` verifies.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = {
            BOOSTER_FILE: self.booster.model_to_string().encode("utf-8"),
            MODEL_FILE: self.spec.model_dump_json(indent=2).encode("utf-8"),
        }
        write_artifact(directory, files)
        return directory

    @classmethod
    def load(cls, directory: Path) -> ScoringModel:
        """The model saved in `directory`, refused with an `ArtifactError` unless its files
        match their checksums, the booster is whole and both files describe the same model:
        LightGBM aborts the process on a damaged booster, so it sees only verified text."""
        # LightGBM is imported on first load, not with the module: importing the service (or
        # the CLI) does not load it, nor the scikit-learn it pulls in when installed.
        import lightgbm as lgb

        directory = Path(directory)
        files = read_verified(directory)
        spec = parse_spec(files[MODEL_FILE], directory)
        features = FeatureEncoder(spec.pipeline, spec.categories).feature_names
        text = booster_text(files[BOOSTER_FILE], features, directory)
        try:
            booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            reason = " ".join(str(exc).split())  # the error is one line
            raise ArtifactError.in_file(
                directory, BOOSTER_FILE, f"is refused by LightGBM ({reason})"
            ) from exc
        return cls(spec, booster)


@dataclass(frozen=True)
class _NoEvents:
    """The reference lead of fit: no attributes and no events."""

    attributes: dict
    events: list


class PercentileScale:
    """A 0-100 scale: reference values at each percentile (`reference[k]`: the value at
    percentile 100 * k / (len - 1)), kept as the arrays `np.interp` reads."""

    def __init__(self, reference: Sequence[float]) -> None:
        self.reference = np.asarray(reference, dtype=np.float64)
        self.percentile = np.linspace(0, 100, self.reference.size)
        self._reference_down = np.ascontiguousarray(-self.reference[::-1])
        self._percentile_down = np.ascontiguousarray(-self.percentile[::-1])

    def percentiles(self, values: np.ndarray) -> np.ndarray:
        """Percentile (0-100, rounded) of each value among the reference values."""
        values = np.asarray(values, dtype=np.float64)
        # Scores have plateaus (many leads share one value): a lead on a plateau gets the
        # middle of the percentiles it spans, not the top.
        upper = np.interp(values, self.reference, self.percentile)
        lower = -np.interp(-values, self._reference_down, self._percentile_down)
        return ((upper + lower) / 2).round()


def percentile_0_100(values: np.ndarray, reference: Sequence[float]) -> np.ndarray:
    """Percentile (0-100, rounded) of each value among reference values at each percentile."""
    return PercentileScale(reference).percentiles(values)


# Every grade, by fit letter (rows) and engagement digit (columns); the letters alone last.
_GRADES = np.array([[f + e for e in ENGAGEMENT_GRADES] + [f] for f in FIT_GRADES], dtype=object)
_CUTS_DOWN = -np.asarray(GRADE_CUTS, dtype=np.float64)


def grades(fit: np.ndarray, engagement: np.ndarray | None) -> np.ndarray:
    """The grade of each row, "A1" to "D4": the fit letter (A >= 75, B >= 50, C >= 25, else D)
    and the engagement digit (1 >= 75, ..., 4); the letter alone without engagement."""
    letter = _grade_index(fit)
    if engagement is None:
        return _GRADES[letter, len(ENGAGEMENT_GRADES)]
    return _GRADES[letter, _grade_index(engagement)]


def _grade_index(values: np.ndarray) -> np.ndarray:
    # Cuts decrease; count how many a value fails to reach (a value at a cut reaches it).
    return np.searchsorted(_CUTS_DOWN, -np.asarray(values, dtype=np.float64), side="left")


def percentile_scale(values: np.ndarray) -> tuple[float, ...]:
    """The values at each percentile (101 of them): the scale `percentile_0_100` reads."""
    return tuple(float(q) for q in np.quantile(values, np.linspace(0, 1, 101)))


def _int_or_none(values: np.ndarray | None, n: int) -> np.ndarray | list[None]:
    return [None] * n if values is None else np.asarray(values).astype(np.int64)
