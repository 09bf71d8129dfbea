"""What a scoring artifact holds besides the booster: the `model.json` of its directory.

On disk an artifact is a directory: `booster.txt` (LightGBM's own text format, no pickle),
`model.json` (feature pipeline, categories, calibrator, tiers, metadata) and `checksums.json`
(the sha256 of both, written last: see `runtime.integrity`). `ScoringModel.save` writes it and
`ScoringModel.load` verifies and reads it; every way loading one fails is an `ArtifactError`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.pipeline import FeaturePipeline

BOOSTER_FILE = "booster.txt"
MODEL_FILE = "model.json"
CHECKSUMS_FILE = "checksums.json"
FORMAT_VERSION = 1
# What to do about a damaged artifact: write it again from the registry, or train a new one.
REEXPORT = "re-export it with `leadscore models export`, or retrain"


class ArtifactError(ValueError):
    """An artifact directory that cannot be loaded as it is: a file missing, damaged, or not
    from the same model as the others. The message is one line: the file, what is wrong with
    it, the directory and what to do."""

    @classmethod
    def in_file(cls, directory: Path, file: str, problem: str) -> ArtifactError:
        """The error for `file` of `directory`; `problem` completes "<file> in <directory> ..."."""
        return cls(f"{file} in {directory} {problem}; {REEXPORT}.")


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
    # The same scales of fit and engagement (see `runtime.model`): their log-odds at each
    # percentile of the calibration slice. Empty in artifacts packaged before they existed:
    # such models answer fit, engagement and grade as null (retrain to get them), and a model
    # without behaviour features has no engagement.
    fit_percentiles: tuple[float, ...] = ()
    engagement_percentiles: tuple[float, ...] = ()
    reference_age_days: float = Field(
        0.0,
        description="Fit reads a lead's attributes with the journey of a lead this many days "
        "old and without events: the median lead age of the calibration slice.",
    )


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


def parse_spec(data: bytes, directory: Path) -> ArtifactSpec:
    """The `model.json` of `directory` from its bytes, checked for this code's format."""
    try:
        spec = ArtifactSpec.model_validate_json(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ArtifactError.in_file(
            directory,
            MODEL_FILE,
            f"is not a valid model description ({where + ': ' if where else ''}{error['msg']})",
        ) from exc
    if spec.format_version != FORMAT_VERSION:
        raise ArtifactError(
            f"{directory} holds artifact format {spec.format_version}; this code reads "
            f"format {FORMAT_VERSION}. Retrain, or install the version that wrote it."
        )
    return spec


def no_model(directory: Path) -> FileNotFoundError:
    """A directory that holds no artifact at all: a wrong path rather than a damaged model."""
    return FileNotFoundError(
        f"no scoring model in {directory} (expected {MODEL_FILE} and {BOOSTER_FILE}); "
        "train one with `leadscore train` or `leadscore quickstart`."
    )
