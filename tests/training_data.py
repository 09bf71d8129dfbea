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

from features.contract.directory import ContractData, read_contract_dir
from features.points import PointsRules
from features.synth.generate import generate
from features.trainingset import TrainingSet, build_training_set
from training.train import TrainConfig, TrainResult, train_model

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
def contract() -> ContractData:
    return read_contract_dir(data_dir())


@cache
def config() -> TrainConfig:
    return TrainConfig()


@cache
def training_set() -> TrainingSet:
    data = contract()
    return build_training_set(data.leads, data.journeys, data.outcomes, config().training_set)


@cache
def trained() -> TrainResult:
    """The model every behavioural test looks at, trained with the points baseline and oracle."""
    data, built = contract(), training_set()
    return train_model(
        built.frame,
        built.pipeline,
        config(),
        rules=PointsRules.default(),
        journeys=data.journeys,
        leads=data.leads,
        oracle=data.oracle,
    )
