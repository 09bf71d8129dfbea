"""Split a training set by time: train on the past, calibrate on later, test on the latest.

Rows are (lead, cut-off) pairs. Each lead goes, with all its rows, to the slice in which its
first cut-off falls, so no lead is on two sides of a boundary. A row's label looks
`horizon` days past its cut-off; a row of an earlier slice whose label window reaches past
the start of the next slice is purged, otherwise the model (or the calibrator) would learn
from outcomes that happen during the time it is later measured on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.journeys import SECONDS_PER_DAY, to_epoch_seconds


class SplitConfig(BaseModel):
    """Where the slices start: shares of the usable cut-off time span, earliest first, or
    explicit dates (`calibration_start`, `test_start`), which then override the shares."""

    model_config = ConfigDict(extra="forbid")

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

    calibration_start: datetime | None = Field(
        None,
        description="Leads first cut off from this date on are calibration (or test) rows; "
        "set with test_start.",
    )
    test_start: datetime | None = Field(
        None, description="Leads first cut off from this date on are test rows."
    )

    @field_validator("calibration_start", "test_start")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _shares_add_up(self) -> SplitConfig:
        total = self.train_share + self.calibration_share + self.test_share
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"train, calibration and test shares must add up to 1 (they add up to {total:g})"
            )
        dates = (self.calibration_start, self.test_start)
        if (dates[0] is None) != (dates[1] is None):
            raise ValueError("set both calibration_start and test_start, or neither")
        if dates[0] is not None and not dates[0] < dates[1]:
            raise ValueError("calibration_start must come before test_start")
        return self

    def describe(self) -> str:
        """The boundaries as a reader would set them in `split:` of a config."""
        if self.calibration_start is not None:
            return (
                f"calibration_start {self.calibration_start:%Y-%m-%d}, "
                f"test_start {self.test_start:%Y-%m-%d}"
            )
        return (
            f"train_share {self.train_share:g}, calibration_share {self.calibration_share:g}, "
            f"test_share {self.test_share:g}"
        )


class SliceSummary(BaseModel):
    """Size and time window of one slice."""

    rows: int
    leads: int
    positives: int
    first_cutoff: datetime | None
    last_cutoff: datetime | None

    def describe(self, name: str) -> str:
        """'train 2024-01-03 - 2024-09-30: 5,120 rows, 12 conversions'."""
        if not self.rows:
            return f"{name}: empty"
        return (
            f"{name} {self.first_cutoff:%Y-%m-%d} - {self.last_cutoff:%Y-%m-%d}: "
            f"{self.rows:,} rows, {self.positives:,} conversions"
        )


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

    def describe(self) -> str:
        """Each slice's dates and counts on one line, as errors and the console show them."""
        train = self.train.model_copy(
            update={
                "rows": self.train.rows + self.valid.rows,
                "positives": self.train.positives + self.valid.positives,
                "first_cutoff": self.train.first_cutoff or self.valid.first_cutoff,
                "last_cutoff": self.valid.last_cutoff or self.train.last_cutoff,
            }
        )
        return "; ".join(
            [
                train.describe("train"),
                self.calibration.describe("calibration"),
                self.test.describe("test"),
            ]
        ) + (
            f" ({self.purged_train_rows + self.purged_calibration_rows:,} rows purged in the "
            f"two {self.horizon_days:g}-day gaps)"
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
    of the two boundaries (the purged gaps), is shared out by `config` (or cut at its dates).
    """
    as_of, start = lead_timeline(frame)
    horizon = horizon_days * SECONDS_PER_DAY
    calibration_start, test_start = _boundaries(start, config, horizon_days)
    label_end = as_of + horizon

    slices = _Slices.cut(start, label_end, calibration_start, test_start)
    train, valid = hold_out_latest(np.flatnonzero(slices.train), start, config.valid_share)
    calibration = np.flatnonzero(slices.calibration)
    test = np.flatnonzero(slices.test)
    summary = SplitSummary(
        horizon_days=horizon_days,
        calibration_start=_stamp(calibration_start),
        test_start=_stamp(test_start),
        train=_summarise(frame, train),
        valid=_summarise(frame, valid),
        calibration=_summarise(frame, calibration),
        test=_summarise(frame, test),
        purged_train_rows=int(slices.purged_train.sum()),
        purged_calibration_rows=int(slices.purged_calibration.sum()),
    )
    return TimeSplit(train=train, valid=valid, calibration=calibration, test=test, summary=summary)


@dataclass(frozen=True)
class _Slices:
    """Row masks of each slice for given boundaries; purged rows are in no slice."""

    train: np.ndarray
    calibration: np.ndarray
    test: np.ndarray
    purged_train: np.ndarray
    purged_calibration: np.ndarray

    @classmethod
    def cut(
        cls, start: np.ndarray, label_end: np.ndarray, calibration_start: float, test_start: float
    ) -> _Slices:
        in_train = start < calibration_start
        in_calibration = (start >= calibration_start) & (start < test_start)
        purged_train = in_train & (label_end > calibration_start)
        purged_calibration = in_calibration & (label_end > test_start)
        return cls(
            train=in_train & ~purged_train,
            calibration=in_calibration & ~purged_calibration,
            test=start >= test_start,
            purged_train=purged_train,
            purged_calibration=purged_calibration,
        )


def lead_timeline(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's cut-off and its lead's first cut-off (epoch seconds): a lead is placed by
    its first cut-off, so all its rows land in one slice."""
    as_of = to_epoch_seconds(frame[AS_OF])
    lead_codes, lead_uniques = pd.factorize(frame[LEAD_ID])
    lead_start = np.full(len(lead_uniques), np.inf)
    np.minimum.at(lead_start, lead_codes, as_of)
    return as_of, lead_start[lead_codes]


def _boundaries(start: np.ndarray, config: SplitConfig, horizon_days: float) -> tuple[float, float]:
    """Calibration and test start (epoch seconds) from the config's dates or shares."""
    if config.calibration_start is not None:
        return config.calibration_start.timestamp(), config.test_start.timestamp()
    horizon = horizon_days * SECONDS_PER_DAY
    first, last = float(start.min()), float(start.max())
    usable = (last - first) - 2 * horizon
    if usable <= 0:
        raise ValueError(
            f"the leads' first cut-offs span {(last - first) / SECONDS_PER_DAY:.0f} days, too "
            f"little to leave two purge gaps of the {horizon_days:g}-day horizon between train, "
            "calibration and test: use more history or a shorter horizon "
            "(`leadscore features build --horizon-days`)."
        )
    calibration_start = first + config.train_share * usable + horizon
    return calibration_start, calibration_start + config.calibration_share * usable + horizon


# Shares tried when looking for a split that leaves every slice enough conversions.
_SHARE_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def feasible_split(
    frame: pd.DataFrame, horizon_days: float, needs: tuple[int, int, int]
) -> tuple[SplitConfig, tuple[int, int, int]] | None:
    """The split by shares that leaves train, calibration and test at least `needs`
    conversions with the most room to spare (the best worst ratio of have to need), and the
    conversions it leaves; None if no share setting does.

    The purge gaps stay one horizon long: shortening them would let a slice learn from the
    outcomes of the next one.
    """
    as_of, start = lead_timeline(frame)
    label = frame[LABEL].to_numpy()
    horizon = horizon_days * SECONDS_PER_DAY
    label_end = as_of + horizon
    best: tuple[float, SplitConfig, tuple[int, int, int]] | None = None
    for train_share in _SHARE_GRID:
        for calibration_share in _SHARE_GRID:
            test_share = round(1 - train_share - calibration_share, 2)
            if test_share < 0.05:
                continue
            config = SplitConfig(
                train_share=train_share,
                calibration_share=calibration_share,
                test_share=test_share,
            )
            try:
                calibration_start, test_start = _boundaries(start, config, horizon_days)
            except ValueError:
                return None  # too short a span for any shares
            slices = _Slices.cut(start, label_end, calibration_start, test_start)
            have = tuple(
                int(label[rows].sum()) for rows in (slices.train, slices.calibration, slices.test)
            )
            worst = min(h / n for h, n in zip(have, needs, strict=True))
            if worst >= 1 and (best is None or worst > best[0]):
                best = (worst, config, have)
    return None if best is None else (best[1], best[2])


def hold_out_latest(
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
