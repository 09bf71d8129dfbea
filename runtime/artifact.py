"""The packaged scoring artifact: features -> encoded row -> booster -> probability -> tier.

What training measures, serving answers and notebooks plot all go through one `ScoringModel`.
On disk it is a directory: `booster.txt` (LightGBM's own text format, no pickle) and
`model.json` (feature pipeline, categories, calibrator, tiers, metadata).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.journeys import Journeys
from features.pipeline import FeaturePipeline
from runtime.trees import Explanation, ReasonsMethod, TreeEnsemble, shap_explanation

BOOSTER_FILE = "booster.txt"
MODEL_FILE = "model.json"
FORMAT_VERSION = 1


class Calibrator(BaseModel):
    """Maps the booster's raw log-odds to a calibrated probability."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["isotonic", "sigmoid", "identity"]
    # isotonic: piecewise-linear through (x, y); sigmoid: 1 / (1 + exp(-(a * raw + b))).
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 1.0
    b: float = 0.0

    def apply(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=np.float64)
        if self.kind == "isotonic":
            return np.interp(raw, self.x, self.y)
        return 1.0 / (1.0 + np.exp(-(self.a * raw + self.b)))


class Tiers(BaseModel):
    """Probability thresholds of the tiers, best tier first; the last tier has no threshold."""

    model_config = ConfigDict(frozen=True)

    names: tuple[str, ...] = ("sql", "mql", "nurture")
    thresholds: tuple[float, ...] = Field(
        description="Lower probability bound of each tier but the last, decreasing."
    )
    policy: dict[str, str] = Field(
        default_factory=dict, description="The business rule each threshold was chosen from."
    )

    def assign(self, probability: np.ndarray) -> np.ndarray:
        """Tier name of each probability."""
        # thresholds decrease; count how many a probability fails to reach.
        index = np.searchsorted(
            -np.asarray(self.thresholds), -np.asarray(probability), side="right"
        )
        return np.asarray(self.names, dtype=object)[index]


class ModelMetadata(BaseModel):
    """What a data scientist and an operator need to know about a model."""

    name: str = "lead-conversion"
    target: str
    horizon_days: float
    trained_at: datetime
    train_window: tuple[datetime, datetime] | None = None
    calibration_window: tuple[datetime, datetime] | None = None
    test_window: tuple[datetime, datetime] | None = None
    data_fingerprint: str = ""
    code_version: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, object] = Field(default_factory=dict)
    id_column: str = Field(
        "lead_id", description="The column that named each lead in the training data."
    )
    # Probabilities of the calibration slice at each percentile: the 0-100 score is a
    # lead's percentile among recent leads, a scale with a meaning, not `round(p * 100)`.
    score_percentiles: tuple[float, ...] = ()


class ArtifactSpec(BaseModel):
    """Everything in `model.json`."""

    format_version: int = FORMAT_VERSION
    pipeline: FeaturePipeline
    categories: dict[str, tuple[str, ...]] = Field(
        description="Categories of each text feature seen in training; others count as missing."
    )
    calibrator: Calibrator
    tiers: Tiers
    metadata: ModelMetadata


class FeatureEncoder:
    """Features -> the booster's numeric matrix: numbers as they are, categories as codes.

    Training encodes its slices with this before any booster exists; `ScoringModel`
    encodes with the same object, so both see the same matrix.
    """

    def __init__(self, pipeline: FeaturePipeline, categories: Mapping[str, Iterable[str]]) -> None:
        self.feature_names: tuple[str, ...] = pipeline.feature_names
        self._n_behaviour = len(pipeline.behaviour_names)
        self._codes = {
            name: {value: float(i) for i, value in enumerate(values)}
            for name, values in categories.items()
        }
        self.categorical_features = tuple(self._codes)

    def encode_frame(self, features: pd.DataFrame) -> np.ndarray:
        """Feature frame (as made by `FeaturePipeline.frame`) -> float64 matrix in model order.

        A category not in the model's list (unseen or too rare in training) is missing.
        """
        matrix = np.empty((len(features), len(self.feature_names)), dtype=np.float64)
        for j, name in enumerate(self.feature_names):
            column = features[name]
            if name not in self._codes:
                matrix[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
                continue
            codes = self._codes[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                # Look up each distinct category once; code -1 (missing) reads the NaN at the end.
                lookup = np.array([codes.get(c, np.nan) for c in column.cat.categories] + [np.nan])
                matrix[:, j] = lookup[column.cat.codes.to_numpy()]
            else:
                matrix[:, j] = column.astype(object).map(codes).astype(np.float64).to_numpy()
        return matrix

    def encode_one(
        self, behaviour: np.ndarray, attributes: Mapping[str, float | str | None]
    ) -> np.ndarray:
        """One lead's behaviour row and attribute values -> a (1, n_features) matrix."""
        row = np.empty((1, len(self.feature_names)), dtype=np.float64)
        row[0, : self._n_behaviour] = behaviour
        for j, name in enumerate(self.feature_names[self._n_behaviour :], self._n_behaviour):
            value = attributes.get(name)
            if name in self._codes:
                row[0, j] = self._codes[name].get(value, np.nan)
            else:
                row[0, j] = np.nan if value is None else float(value)
        return row


class ScoringModel:
    """A trained, calibrated lead scorer. Build it with `training.train`, load it with `load`."""

    def __init__(self, spec: ArtifactSpec, booster: lgb.Booster) -> None:
        self.spec = spec
        self.booster = booster
        self.encoder = FeatureEncoder(spec.pipeline, spec.categories)
        self.feature_names: tuple[str, ...] = self.encoder.feature_names
        self.categorical_features = self.encoder.categorical_features

    # -- encoding: features -> the booster's numeric matrix -------------------------------
    def encode_frame(self, features: pd.DataFrame) -> np.ndarray:
        """Feature frame (as made by `FeaturePipeline.frame`) -> float64 matrix in model order."""
        return self.encoder.encode_frame(features)

    def encode_one(
        self, behaviour: np.ndarray, attributes: Mapping[str, float | str | None]
    ) -> np.ndarray:
        """One lead's behaviour row and attribute values -> a (1, n_features) matrix."""
        return self.encoder.encode_one(behaviour, attributes)

    # -- prediction ----------------------------------------------------------------------
    def raw_score(self, matrix: np.ndarray) -> np.ndarray:
        """The booster's log-odds (before calibration)."""
        return self.booster.predict(
            matrix, raw_score=True, num_threads=1 if len(matrix) < 512 else 0
        )

    def probability(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated probability that the lead reaches the target within the horizon."""
        return self.spec.calibrator.apply(self.raw_score(matrix))

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

    def tier(self, probability: np.ndarray) -> np.ndarray:
        return self.spec.tiers.assign(probability)

    # -- reasons -------------------------------------------------------------------------
    def explain(self, matrix: np.ndarray, method: ReasonsMethod = "path") -> Explanation:
        """Raw log-odds and per-feature contributions (in log-odds) of encoded rows.

        `path`: one compiled pass over the trees, the same raw score as `raw_score` and
        microseconds per row; `shap`: LightGBM's exact TreeSHAP, milliseconds per row.
        """
        if method == "shap":
            return shap_explanation(self.booster, matrix)
        return self.trees.explain(matrix)

    @cached_property
    def trees(self) -> TreeEnsemble:
        """The booster flattened for `explain`: built on first use, kept with the model."""
        return TreeEnsemble.from_booster(self.booster)

    # -- the two entry points ------------------------------------------------------------
    def features_frame(
        self, leads: pd.DataFrame, journeys: Journeys | None, rows: pd.DataFrame
    ) -> pd.DataFrame:
        """Features of (lead_id, as_of) rows through the model's own pipeline."""
        return self.spec.pipeline.frame(leads, journeys, rows)

    def features_one(
        self, lead: Mapping[str, object], events: Iterable[tuple[datetime, str]], as_of: datetime
    ) -> np.ndarray:
        """One lead's encoded feature row as of `as_of` (the service's path)."""
        behaviour, attributes = self.spec.pipeline.one(lead, events, as_of)
        return self.encode_one(behaviour, attributes)

    def score_frame(
        self, leads: pd.DataFrame, journeys: Journeys | None, rows: pd.DataFrame
    ) -> pd.DataFrame:
        """Probability, 0-100 score and tier of many (lead_id, as_of) rows (batch scoring)."""
        matrix = self.encode_frame(self.features_frame(leads, journeys, rows))
        probability = self.probability(matrix)
        return pd.DataFrame(
            {
                "probability": probability,
                "score": self.score_0_100(probability),
                "tier": self.tier(probability),
            },
            index=rows.index,
        )

    # -- persistence ---------------------------------------------------------------------
    def save(self, directory: Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        (directory / MODEL_FILE).write_text(self.spec.model_dump_json(indent=2))
        return directory

    @classmethod
    def load(cls, directory: Path) -> ScoringModel:
        directory = Path(directory)
        spec_file = directory / MODEL_FILE
        if not spec_file.exists():
            raise FileNotFoundError(
                f"no scoring model in {directory} (expected {MODEL_FILE} and {BOOSTER_FILE}); "
                "train one with `leadscore train` or `leadscore quickstart`."
            )
        spec = ArtifactSpec.model_validate_json(spec_file.read_text())
        if spec.format_version != FORMAT_VERSION:
            raise ValueError(
                f"{directory} holds artifact format {spec.format_version}; this code reads "
                f"format {FORMAT_VERSION}. Retrain, or install the version that wrote it."
            )
        booster = lgb.Booster(model_file=str(directory / BOOSTER_FILE))
        return cls(spec, booster)
