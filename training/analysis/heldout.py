"""The rows a model is judged on, rebuilt from a data directory with the model's own settings.

Analyses and the learned points table need (lead, cut-off) rows with labels, the model's
features and the raw lead attributes. They are rebuilt from the contract tables with the
training set settings stored in the model, so on the data the model was trained on they are
exactly its training rows. Rows of leads whose first cut-off falls on or after the start of
the model's test window, and after every cut-off it learned from, are *held out*: neither
the booster nor the calibrator nor the tier thresholds saw them. For the model the report's
test figures belong to (`TrainResult.measured`) they are exactly the test slice; a served
model, refitted on every labelled row, has none in its own training data, only in newer data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract.directory import ContractData
from features.contract.schema import AS_OF, LABEL, LEAD_ID, Milestone
from features.journeys import to_epoch_seconds
from features.trainingset import TrainingSetConfig, data_end_of, label_rows, make_cutoffs
from runtime.model import ScoringModel


@dataclass(frozen=True)
class ModelRows:
    """Labelled (lead, cut-off) rows with the model's features, aligned on one index."""

    rows: pd.DataFrame  # lead_id, as_of, label
    features: pd.DataFrame  # the model's features of each row
    held_out: np.ndarray  # bool per row: the model never saw it (out of time)

    def take(self, mask: np.ndarray) -> ModelRows:
        """The rows where `mask` is true, re-indexed from 0."""
        keep = np.flatnonzero(mask)
        return ModelRows(
            rows=self.rows.iloc[keep].reset_index(drop=True),
            features=self.features.iloc[keep].reset_index(drop=True),
            held_out=self.held_out[keep],
        )

    @property
    def y(self) -> np.ndarray:
        return self.rows[LABEL].to_numpy(dtype=np.int8)


def training_set_config(model: ScoringModel) -> TrainingSetConfig:
    """The training set settings the model was trained with (target and horizon at least)."""
    metadata = model.spec.metadata
    stored = metadata.params.get("config", {})
    if isinstance(stored, dict) and "training_set" in stored:
        return TrainingSetConfig.model_validate(stored["training_set"])
    return TrainingSetConfig(target=Milestone(metadata.target), horizon_days=metadata.horizon_days)


def model_rows(contract: ContractData, model: ScoringModel) -> ModelRows:
    """Rows, labels and features of `contract` as the model's training set would make them."""
    if model.spec.metadata.test_window is None:
        raise ValueError(
            "the model records no test window, so its held-out rows are unknown: retrain it "
            "with `leadscore train` (which stores the window in the model)."
        )
    config = training_set_config(model)
    data_end = (
        pd.Timestamp(config.data_end).tz_convert("UTC")
        if config.data_end
        else data_end_of(contract.leads, contract.journeys, contract.outcomes)
    )
    candidates = make_cutoffs(contract.leads, config.cutoffs, data_end)
    rows, _ = label_rows(
        candidates,
        contract.leads,
        contract.outcomes,
        config.target,
        config.horizon_days,
        data_end,
    )
    rows = rows[[LEAD_ID, AS_OF, LABEL]]
    features = model.pipeline.frame(contract.leads, contract.journeys, rows)
    # A lead belongs, with all its rows, to the slice of its first cut-off (as in the split).
    first_cutoff = rows.groupby(LEAD_ID)[AS_OF].transform("min")
    return ModelRows(rows=rows, features=features, held_out=unseen(model, first_cutoff))


def held_out_from(model: ScoringModel) -> pd.Timestamp:
    """The first cut-off no part of the model saw: its test window's start, or later when its
    train window reaches past that (a served model refitted on every labelled row)."""
    metadata = model.spec.metadata
    start = pd.Timestamp(metadata.test_window[0]).tz_convert("UTC")
    if metadata.train_window is not None and metadata.train_window[1] >= start:
        return pd.Timestamp(metadata.train_window[1]).tz_convert("UTC") + pd.Timedelta(1, "us")
    return start


def unseen(model: ScoringModel, first_cutoff: pd.Series) -> np.ndarray:
    """Whether a lead first cut off at each `first_cutoff` is held out from `model`."""
    return to_epoch_seconds(first_cutoff) >= held_out_from(model).timestamp()
