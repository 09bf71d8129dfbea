"""Split a training set by time: train on the past, calibrate on later, test on the latest.

Rows are (lead, cut-off) pairs. Each lead goes, with all its rows, to the slice in which its
first cut-off falls, so no lead is on two sides of a boundary. A row's label looks
`horizon` days past its cut-off; a row of an earlier slice whose label window reaches past
the start of the next slice is purged, otherwise the model (or the calibrator) would learn
from outcomes that happen during the time it is later measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.journeys import SECONDS_PER_DAY, to_epoch_seconds


class SplitConfig(BaseModel):
    """Shares of the usable cut-off time span given to each slice, earliest first."""

    train_share: float = Field(0.6, gt=0, lt=1, description="Earliest share: fits the booster.")
    calibration_share: float = Field(
        0.2, gt=0, lt=1, description="Next share: fits the calibrator and tier thresholds."
    )
    test_share: float = Field(
        0.2, gt=0, lt=1, description="Latest share: only measured, nothing is fitted on it."
    )
    valid_share: float = Field(
        0.15,
        gt=0,
        lt=0.5,
        description="Share of the train slice's rows (its latest leads) used for early stopping.",
    )

    @model_validator(mode="after")
    def _shares_add_up(self) -> SplitConfig:
        total = self.train_share + self.calibration_share + self.test_share
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"train, calibration and test shares must add up to 1 (they add up to {total:g})"
            )
        return self


class SliceSummary(BaseModel):
    """Size and time window of one slice."""

    rows: int
    leads: int
    positives: int
    first_cutoff: datetime | None
    last_cutoff: datetime | None


class SplitSummary(BaseModel):
    """Where the boundaries fell and what each slice holds; goes into the report."""

    horizon_days: float
    calibration_start: datetime
    test_start: datetime
    train: SliceSummary
    valid: SliceSummary
    calibration: SliceSummary
    test: SliceSummary
    purged_train_rows: int = Field(
        description="Train rows whose label window reached past the calibration start."
    )
    purged_calibration_rows: int = Field(
        description="Calibration rows whose label window reached past the test start."
    )


@dataclass(frozen=True)
class TimeSplit:
    """Row positions (into the split frame) of each slice, and their summary."""

    train: np.ndarray  # fits the booster
    valid: np.ndarray  # end of the train slice: early stopping and tuning only
    calibration: np.ndarray
    test: np.ndarray
    summary: SplitSummary

    @property
    def train_slice(self) -> np.ndarray:
        """Train and validation rows together: everything before the calibration start."""
        return np.sort(np.concatenate([self.train, self.valid]))


def _stamp(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s", tz="UTC")


def _summarise(frame: pd.DataFrame, positions: np.ndarray) -> SliceSummary:
    part = frame.iloc[positions]
    return SliceSummary(
        rows=len(part),
        leads=int(part[LEAD_ID].nunique()),
        positives=int(part[LABEL].sum()),
        first_cutoff=part[AS_OF].min() if len(part) else None,
        last_cutoff=part[AS_OF].max() if len(part) else None,
    )


def time_split(frame: pd.DataFrame, config: SplitConfig, horizon_days: float) -> TimeSplit:
    """Split `frame` (lead_id, as_of, label, features...) by time; never at random.

    The span from the first to the last lead's first cut-off, less one horizon before each
    of the two boundaries (the purged gaps), is shared out by `config`.
    """
    as_of = to_epoch_seconds(frame[AS_OF])
    lead_codes, lead_uniques = pd.factorize(frame[LEAD_ID])
    # Each lead is placed by its first cut-off, so all its rows land in one slice.
    lead_start = np.full(len(lead_uniques), np.inf)
    np.minimum.at(lead_start, lead_codes, as_of)
    start = lead_start[lead_codes]

    horizon = horizon_days * SECONDS_PER_DAY
    first, last = float(lead_start.min()), float(lead_start.max())
    usable = (last - first) - 2 * horizon
    if usable <= 0:
        raise ValueError(
            f"the leads' first cut-offs span {(last - first) / SECONDS_PER_DAY:.0f} days, too "
            f"little to leave two purge gaps of the {horizon_days:g}-day horizon between train, "
            "calibration and test: use more history or a shorter horizon "
            "(`leadscore features build --horizon-days`)."
        )
    calibration_start = first + config.train_share * usable + horizon
    test_start = calibration_start + config.calibration_share * usable + horizon
    label_end = as_of + horizon

    in_train = start < calibration_start
    in_calibration = (start >= calibration_start) & (start < test_start)
    in_test = start >= test_start
    purged_train = in_train & (label_end > calibration_start)
    purged_calibration = in_calibration & (label_end > test_start)
    train_slice = np.flatnonzero(in_train & ~purged_train)

    train, valid = _hold_out_latest(train_slice, start, config.valid_share)
    calibration = np.flatnonzero(in_calibration & ~purged_calibration)
    test = np.flatnonzero(in_test)
    summary = SplitSummary(
        horizon_days=horizon_days,
        calibration_start=_stamp(calibration_start),
        test_start=_stamp(test_start),
        train=_summarise(frame, train),
        valid=_summarise(frame, valid),
        calibration=_summarise(frame, calibration),
        test=_summarise(frame, test),
        purged_train_rows=int(purged_train.sum()),
        purged_calibration_rows=int(purged_calibration.sum()),
    )
    return TimeSplit(train=train, valid=valid, calibration=calibration, test=test, summary=summary)


def _hold_out_latest(
    positions: np.ndarray, start: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Split positions into (earlier, latest ~share of rows), whole leads by first cut-off.

    No purge gap here: the held-out rows only choose the number of trees (and, with
    tuning, a handful of hyperparameters), and a second horizon-long gap would cost the
    booster a large part of its training data.
    """
    if len(positions) == 0:
        return positions, positions
    starts = np.sort(start[positions])
    boundary = starts[min(int(len(starts) * (1 - share)), len(starts) - 1)]
    latest = start[positions] >= boundary
    return positions[~latest], positions[latest]
