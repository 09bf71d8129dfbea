"""The runtime scoring model: one object, loaded from an artifact directory, that computes
features, predicts, calibrates, assigns the tier and explains.

Everything that scores (the service, `leadscore score`, the training report, promotion, the
notebooks, the MLflow pyfunc) calls one of its `predict_*` methods, and they all end in
`predict_raw`: the only place the calibrator, the 0-100 scale and the tier thresholds are
applied. It imports neither training code nor MLflow.
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

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """probability, score and tier as a frame."""
        return pd.DataFrame(
            {"probability": self.probability, "score": self.score, "tier": self.tier},
            index=index,
        )


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
        """Encoded rows (`encoder`'s matrix); `explain` adds per-feature contributions."""
        if explain is None:
            return self.predict_raw(self.raw_score(matrix))
        explained = self.explain(matrix, explain)
        # The walker's raw score is the booster's own (see runtime.trees): no second pass.
        return self.predict_raw(explained.raw, explained.contributions)

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
        ref = np.asarray(self.spec.metadata.score_percentiles)
        if not ref.size:
            return np.round(np.asarray(probability) * 100)
        probability = np.asarray(probability, dtype=np.float64)
        pct = np.linspace(0, 100, ref.size)
        # A calibrated model has plateaus (many leads share one probability): a lead on a
        # plateau gets the middle of the percentiles it spans, not the top.
        upper = np.interp(probability, ref, pct)
        lower = -np.interp(-probability, -ref[::-1], -pct[::-1])
        return ((upper + lower) / 2).round()

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
