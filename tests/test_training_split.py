"""The time split: boundaries, purge gaps, whole leads per slice, never by row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.contract.schema import AS_OF, LABEL
from training.split import SplitConfig, time_split

HORIZON = 90.0
DAY = pd.Timedelta(days=1)


def cutoff_frame(n_leads: int = 3000, span_days: int = 540, seed: int = 0) -> pd.DataFrame:
    """Leads created over `span_days`, each with cut-offs 1, 7 and 30 days after creation."""
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, span_days, n_leads), unit="D"
    )
    frame = pd.DataFrame(
        {
            "lead_id": np.repeat([f"L{i}" for i in range(n_leads)], 3),
            AS_OF: np.repeat(created, 3) + np.tile(pd.to_timedelta([1, 7, 30], unit="D"), n_leads),
        }
    )
    frame[LABEL] = (rng.random(len(frame)) < 0.1).astype(np.int8)
    return frame


def test_slices_respect_boundaries_purge_gaps_and_keep_leads_whole():
    frame = cutoff_frame()
    split = time_split(frame, SplitConfig(), HORIZON)
    s = split.summary
    horizon = HORIZON * DAY
    part = {
        name: frame.iloc[getattr(split, name)] for name in ("train", "valid", "calibration", "test")
    }

    # No label window of an earlier slice reaches into the next slice.
    for name in ("train", "valid"):
        assert (part[name][AS_OF] + horizon <= s.calibration_start).all()
    assert (part["calibration"][AS_OF] >= s.calibration_start).all()
    assert (part["calibration"][AS_OF] + horizon <= s.test_start).all()
    assert (part["test"][AS_OF] >= s.test_start).all()

    # A lead is on one side of every boundary, and early stopping uses the latest leads.
    leads = {name: set(p["lead_id"]) for name, p in part.items()}
    names = list(leads)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not leads[a] & leads[b], f"{a} and {b} share leads"
    assert part["valid"][AS_OF].min() >= part["train"].groupby("lead_id")[AS_OF].min().max()

    # Every row is in a slice or counted as purged; the shares of the usable span hold.
    kept = sum(len(p) for p in part.values())
    assert kept + s.purged_train_rows + s.purged_calibration_rows == len(frame)
    assert s.purged_train_rows > 0 and s.purged_calibration_rows > 0
    assert s.valid.rows == pytest.approx(0.15 * (s.train.rows + s.valid.rows), rel=0.1)
    calibration_span = (s.test_start - s.calibration_start) / DAY - HORIZON
    test_span = (frame[AS_OF].max() - s.test_start) / DAY
    assert calibration_span == pytest.approx(test_span, abs=31)  # 20% and 20%, +30-day cut-offs


def test_split_depends_on_time_not_on_row_order():
    frame = cutoff_frame()
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a, b = time_split(frame, SplitConfig(), HORIZON), time_split(shuffled, SplitConfig(), HORIZON)
    for name in ("train", "valid", "calibration", "test"):
        rows_a = frame.iloc[getattr(a, name)][["lead_id", AS_OF]]
        rows_b = shuffled.iloc[getattr(b, name)][["lead_id", AS_OF]]
        pd.testing.assert_frame_equal(
            rows_a.sort_values(["lead_id", AS_OF]).reset_index(drop=True),
            rows_b.sort_values(["lead_id", AS_OF]).reset_index(drop=True),
        )


def test_too_short_a_history_for_the_purge_gaps_is_refused():
    with pytest.raises(ValueError, match="too little to leave two purge gaps"):
        time_split(cutoff_frame(span_days=150), SplitConfig(), HORIZON)


def test_shares_must_add_up():
    with pytest.raises(ValidationError, match="add up to 1"):
        SplitConfig(train_share=0.6, calibration_share=0.3, test_share=0.2)
