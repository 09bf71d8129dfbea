"""The training procedure: one function from labelled rows to a calibrated, tiered booster.

The same procedure is measured (fitted on the rows labelled before each backtest origin,
tested on the months after) and served (fitted on every labelled row), so no labelled month
is wasted on the served model and what is measured is how it was made:

1. hold out the latest leads (`split.valid_share` of the rows, whole leads by first cut-off);
2. learn the booster on the rest, from the chosen warm start (recent rows weighing more, if
   chosen), stopping early on the held-out leads; then refit on all rows, the tree count
   scaled by how many more rows there are;
3. calibrate on the held-out leads' out-of-time scores (the early-stopped booster never saw
   them), and choose the tier thresholds on the same calibrated scores.

No purge gap separates the held-out leads from the others: they are different leads, and a
gap would cost the booster the most recent months, the ones most like tomorrow's leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.journeys import SECONDS_PER_DAY
from features.pipeline import FeaturePipeline
from runtime.artifact import ArtifactSpec, ModelMetadata, Tiers
from runtime.model import ScoringModel
from training.calibrate import CalibrationFit, fit_calibrator
from training.learn import LearnedBooster, Recipe, learn_booster
from training.split import hold_out_latest, lead_timeline
from training.tiers import choose_thresholds, week_of

if TYPE_CHECKING:
    from training.train import TrainConfig


@dataclass(frozen=True)
class Calibrated:
    """The calibrator fitted on held-out rows, with those rows' scores."""

    fit: CalibrationFit
    raw: np.ndarray  # the booster's log-odds of the calibration rows
    probability: np.ndarray  # the same, calibrated
    matrix: np.ndarray  # the encoded calibration rows (the package's round-trip check)


@dataclass(frozen=True)
class Fitted:
    """One run of the procedure: the booster, its calibrator and tiers, and the rows each
    was fitted on."""

    pipeline: FeaturePipeline
    learned: LearnedBooster
    calibrated: Calibrated
    tiers: Tiers
    rows: pd.DataFrame  # every row the booster was refitted on
    held_out: pd.DataFrame  # the latest leads: early stopping, calibration and tiers

    def scoring_model(self, metadata: ModelMetadata) -> ScoringModel:
        """The runtime model of this fit, unsaved (the backtest scores through it; served
        models are packaged with a save/load round trip instead)."""
        spec = ArtifactSpec(
            pipeline=self.pipeline,
            categories=self.learned.categories,
            calibrator=self.calibrated.fit.calibrator,
            tiers=self.tiers,
            metadata=metadata,
        )
        return ScoringModel(spec, self.learned.booster)


def labelled_before(frame: pd.DataFrame, origin: float, horizon_days: float) -> np.ndarray:
    """Positions of the rows a procedure at `origin` (epoch seconds) may learn from: leads
    first cut off before it, whose label window has closed by then."""
    as_of, start = lead_timeline(frame)
    label_end = as_of + horizon_days * SECONDS_PER_DAY
    return np.flatnonzero((start < origin) & (label_end <= origin))


def fit_procedure(
    rows: pd.DataFrame, pipeline: FeaturePipeline, config: TrainConfig, recipe: Recipe | None
) -> Fitted:
    """Learn, calibrate and tier a booster on `rows` (all labelled), as described above."""
    _, start = lead_timeline(rows)
    fit_rows, held_rows = hold_out_latest(np.arange(len(rows)), start, config.split.valid_share)
    held_out = rows.iloc[held_rows]
    learned = learn_booster(
        rows.iloc[fit_rows], pipeline, config, stop_rows=held_out, refit=True, recipe=recipe
    )
    assert learned.held_out is not None  # early stopping always keeps its booster
    calibrated = calibrate(learned, learned.held_out, held_out, config)
    tiers = choose_tiers(calibrated, held_out, config)
    return Fitted(
        pipeline=pipeline,
        learned=learned,
        calibrated=calibrated,
        tiers=tiers,
        rows=rows,
        held_out=held_out,
    )


def calibrate(
    learned: LearnedBooster, scorer: lgb.Booster, rows: pd.DataFrame, config: TrainConfig
) -> Calibrated:
    """Choose and fit the calibrator on `rows` scored by `scorer` (a booster that never saw
    them; folds grouped by lead)."""
    matrix = learned.encoder.encode_frame(rows)
    raw = scorer.predict(matrix, raw_score=True)
    fit = fit_calibrator(
        raw, _labels(rows), groups=rows[LEAD_ID].to_numpy(), folds=config.calibration_folds
    )
    return Calibrated(fit=fit, raw=raw, probability=fit.calibrator.apply(raw), matrix=matrix)


def choose_tiers(calibrated: Calibrated, rows: pd.DataFrame, config: TrainConfig) -> Tiers:
    """Tier thresholds meeting the tier rules on the calibrated rows, week by week."""
    return choose_thresholds(
        calibrated.probability, _labels(rows), week_of(rows[AS_OF]), config.tiers
    )


def _labels(rows: pd.DataFrame) -> np.ndarray:
    return rows[LABEL].to_numpy(dtype=np.int8)
