"""A signal that exists only after the train window must not reach the model measured on the
test slice (the procedure fitted on the rows labelled before it)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract.schema import AS_OF, LABEL
from tests import training_data
from training.audit.leakage import AuditConfig
from training.split import time_split
from training.train import train_model

# A feature that is 0 for every synthetic lead (no "other" events are generated), so
# overwriting it plants a signal without changing anything else.
PLANTED = "n_other_total"


def plant(frame: pd.DataFrame, known_from: pd.Timestamp, horizon_days: float) -> pd.DataFrame:
    """The feature equals the label for rows whose label window ends after `known_from`."""
    planted = frame.copy()
    after = planted[AS_OF] + pd.Timedelta(days=horizon_days) > known_from
    planted[PLANTED] = np.where(after, planted[LABEL], 0).astype(np.float32)
    return planted


def planted_gain(result) -> float:
    booster = result.measured.booster
    gains = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
    return float(gains[PLANTED])


def test_a_future_only_signal_is_invisible_to_the_model():
    built, config = training_data.training_set(), training_data.config()
    assert (built.frame[PLANTED] == 0).all()
    horizon = config.training_set.horizon_days
    start = time_split(built.frame, config.split, horizon).summary.test_start
    clean = training_data.trained()
    # The journey model leans on no column out of line, and the audit flags nothing.
    assert clean.report.audit.dominance is None and not clean.report.audit.flagged

    leaky = train_model(plant(built.frame, pd.Timestamp(start), horizon), built.pipeline, config)
    assert planted_gain(leaky) == 0.0
    assert leaky.report.test.roc_auc < 0.95
    assert abs(leaky.report.test.roc_auc - clean.report.test.roc_auc) < 0.02

    # Control: the same signal planted in every row is learnt, and looks near perfect on
    # test, so the assertions above are not vacuous.
    always = plant(built.frame, built.frame[AS_OF].min() - pd.Timedelta(days=horizon), horizon)
    # The leakage audit stops training on a feature that copies the label unless it is kept.
    keep = config.model_copy(update={"audit": AuditConfig(keep=(PLANTED,))})
    peeking = train_model(always, built.pipeline, keep)
    assert planted_gain(peeking) > 0.0
    assert peeking.report.test.roc_auc > 0.95
    # It takes most of the gain, yet as a behaviour feature (computed point in time, none can
    # be left out alone) it is no dominance candidate: the audit's separation rule covers it.
    assert peeking.report.feature_importance[0].feature == PLANTED
    assert peeking.report.audit.dominance is None
