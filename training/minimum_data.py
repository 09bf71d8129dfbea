"""The minimum-data check: refuse to train (or to claim a measurement) on too little data, and
say what would work instead of leaving the user to trial and error."""

from __future__ import annotations

from training.split import SplitConfig, SplitSummary

AUTO_SPLIT_OPTION = "--auto-split"


class InsufficientDataError(ValueError):
    """Too few conversions to train or to measure; the message says what is missing."""


def shortfalls(summary: SplitSummary, needs: tuple[int, int, int]) -> list[str]:
    """What each slice lacks, given the conversions (train, calibration, test) it needs."""
    train, calibration, test = needs
    slices = (
        ("train", summary.train.positives + summary.valid.positives, train, "to learn from"),
        (
            "calibration",
            summary.calibration.positives,
            calibration,
            "to calibrate probabilities and place tier thresholds",
        ),
        ("test", summary.test.positives, test, "to measure the model"),
    )
    problems = [
        f"the {name} slice has {have} conversions; at least {need} are needed {why}"
        for name, have, need, why in slices
        if have < need
    ]
    if summary.valid.positives == 0:
        problems.append(
            "the latest part of the train slice (used for early stopping) has no conversions"
        )
    return problems


def split_advice(
    summary: SplitSummary, feasible: tuple[SplitConfig, tuple[int, int, int]] | None
) -> str:
    """What a time split that leaves too few conversions should do instead: the slices' dates
    and counts, and the split that would work, if any."""
    if feasible is not None:
        config, (train, calibration, test) = feasible
        way_out = (
            f"A split that leaves enough: {config.describe()} ({train} / {calibration} / "
            f"{test} conversions): pass {AUTO_SPLIT_OPTION} to use it, or set it under `split:` "
            "in --config"
        )
    else:
        # Worded for every command that splits by time (journeys and dated flat exports).
        way_out = (
            "No split of this data leaves enough in every slice with "
            f"{summary.horizon_days:g}-day purge gaps: add history (more leads or a longer "
            "period), or use a shorter horizon (horizon_days), or an earlier target milestone "
            "when building a journey training set"
        )
    return f"Slices: {summary.describe()}. {way_out}"


def refuse_or_warn(problems: list[str], advice: str, *, force: bool) -> list[str]:
    """Raise `InsufficientDataError` naming the problems and the caller's `advice` (what would
    work); with `force`, return the problems as warnings instead."""
    if force:
        return [f"forced despite too little data: {p}" for p in problems]
    raise InsufficientDataError(
        "Not enough data to train and measure a model honestly: "
        + "; ".join(problems)
        + f". {advice}; or pass --force to train anyway (the console and the report then "
        "carry this warning)."
    )
