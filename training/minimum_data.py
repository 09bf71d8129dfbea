"""The minimum-data check: refuse to train (or to claim a measurement) on too little data."""

from __future__ import annotations

from training.split import SplitSummary


class InsufficientDataError(ValueError):
    """Too few conversions to train or to measure; the message says what is missing."""


def check_minimum_data(
    summary: SplitSummary,
    *,
    min_train_positives: int,
    min_calibration_positives: int,
    min_test_positives: int,
    force: bool,
) -> list[str]:
    """Problems with the slices' sizes; raises unless `force`, then returns them as warnings."""
    needs = (
        (
            "train",
            summary.train.positives + summary.valid.positives,
            min_train_positives,
            "to learn from",
        ),
        (
            "calibration",
            summary.calibration.positives,
            min_calibration_positives,
            "to calibrate probabilities and place tier thresholds",
        ),
        ("test", summary.test.positives, min_test_positives, "to measure the model"),
    )
    problems = [
        f"the {name} slice has {have} conversions; at least {need} are needed {why}"
        for name, have, need, why in needs
        if have < need
    ]
    if summary.valid.positives == 0:
        problems.append(
            "the latest part of the train slice (used for early stopping) has no conversions"
        )
    if problems and not force:
        raise InsufficientDataError(
            "Not enough data to train and measure a model honestly: "
            + "; ".join(problems)
            + ". Add history (more leads or a longer period), use a shorter horizon or an "
            "earlier target milestone (e.g. --target sql when building the training set), "
            "or pass --force to train anyway: the report will then carry this warning."
        )
    return [f"forced despite too little data: {p}" for p in problems]
