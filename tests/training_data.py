"""Shared synthetic data for the training tests: generated, built and trained once per session.

Plain cached functions rather than fixtures, so each test module imports what it needs.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from features.contract.directory import ContractData
from features.synth.generate import generate
from features.trainingset import TrainingSet
from training.train import TrainConfig, TrainedFromData, TrainResult, train_from_directory

# Big enough for the minimum-data check after the purge gaps (about 250 train-slice, 120
# calibration and 110 test conversions), small enough to build and train in seconds.
N_LEADS = 12_000
SEED = 7


@cache
def data_dir() -> Path:
    """A synthetic contract data directory (removed when the test session ends)."""
    directory = Path(tempfile.mkdtemp(prefix="leadscore-training-tests-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    generate(directory, N_LEADS, SEED, datetime(2024, 1, 1, tzinfo=UTC))
    return directory


@cache
def trained_from_data() -> TrainedFromData:
    """The model every behavioural test looks at, trained with the points baseline and oracle,
    with the contract data and the training set it was trained on."""
    return train_from_directory(data_dir(), config())


@cache
def contract() -> ContractData:
    return trained_from_data().contract


@cache
def config() -> TrainConfig:
    return TrainConfig()


@cache
def training_set() -> TrainingSet:
    return trained_from_data().training_set


@cache
def trained() -> TrainResult:
    return trained_from_data().result
