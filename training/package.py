"""Package a learned booster as the scoring artifact, saved and loaded again before use.

Journey and flat-export training both package here, and everything after packaging measures
the reloaded artifact: what is measured is what a later load serves.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from features.pipeline import FeaturePipeline
from runtime.artifact import ArtifactSpec, Calibrator, ModelMetadata, Tiers
from runtime.model import ScoringModel, percentile_scale
from training.evaluate import Metrics
from training.learn import LearnedBooster


def score_percentiles(probability: np.ndarray) -> tuple[float, ...]:
    """The probabilities at each percentile: the scale of the model's 0-100 score."""
    return percentile_scale(probability)


def metric_values(metrics: Metrics, prefix: str) -> dict[str, float]:
    """The measured figures as `<prefix>_<name>` metadata metrics (the base rate is data, not
    a measurement of the model)."""
    return {
        f"{prefix}_{k}": v
        for k, v in metrics.model_dump().items()
        if isinstance(v, float) and k != "base_rate"
    }


def package_model(
    pipeline: FeaturePipeline,
    learned: LearnedBooster,
    calibrator: Calibrator,
    tiers: Tiers,
    metadata: ModelMetadata,
    calibration_matrix: np.ndarray,
) -> ScoringModel:
    """The artifact of `learned`, saved and loaded; refused if the loaded one predicts the
    encoded `calibration_matrix` differently.

    The calibration rows, whose probabilities scale the 0-100 score (`score_percentiles` of
    `metadata`), scale fit and engagement too (`ScoringModel.with_subscore_scales`)."""
    spec = ArtifactSpec(
        pipeline=pipeline,
        categories=learned.categories,
        calibrator=calibrator,
        tiers=tiers,
        metadata=metadata,
    )
    model = ScoringModel(spec, learned.booster).with_subscore_scales(calibration_matrix)
    with tempfile.TemporaryDirectory(prefix="leadscore-artifact-") as tmp:
        loaded = ScoringModel.load(model.save(Path(tmp) / "model"))
    matrix = calibration_matrix
    if not np.array_equal(model.raw_score(matrix), loaded.raw_score(matrix)):
        raise RuntimeError(
            "the saved and reloaded model predict differently; this is a bug in the artifact "
            "format: please report it with the training set's report."
        )
    return loaded


def with_metadata(model: ScoringModel, **updates: object) -> ScoringModel:
    """The same model with metadata fields replaced (e.g. metrics measured after packaging)."""
    metadata = model.spec.metadata.model_copy(update=updates)
    return ScoringModel(model.spec.model_copy(update={"metadata": metadata}), model.booster)
