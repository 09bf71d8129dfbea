"""`leadscore quickstart`: the whole job end to end on synthetic data, in a few minutes.

Synthesise -> validate -> build the point-in-time training set -> train (with the
hand-weighted points and the oracle on the same test rows) -> write the report, log and
register in MLflow (through `leadscore train`'s own `publish`) -> promote. Every stage
prints its name and time as it finishes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

T = TypeVar("T")

# Sized so the whole run stays under 3 minutes on 2 cores: the training stage backtests the
# procedure about ten times (training.backtest), about 2 of those minutes on an idle machine.
DEFAULT_LEADS = 40_000
SYNTH_START = datetime(2024, 1, 1, tzinfo=UTC)
STAGES = 6


class _Progress:
    """Numbered stage lines with wall times."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.stage = 0

    def run(self, name: str, step: Callable[[], T], detail: Callable[[T], str]) -> T:
        """Announce a stage, run it, then print its time and what it made."""
        self.stage += 1
        typer.echo(f"[{self.stage}/{STAGES}] {name}")
        began = time.perf_counter()
        result = step()
        typer.echo(f"      {time.perf_counter() - began:5.1f}s  {detail(result)}")
        return result

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def quickstart(
    leads: Annotated[
        int, typer.Option(min=1000, help="Synthetic leads to generate.")
    ] = DEFAULT_LEADS,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic data.")] = 42,
    workdir: Annotated[
        Path, typer.Option(help="Where the data and the report go (git-ignored).")
    ] = Path("data/quickstart"),
) -> None:
    """Run the whole job on synthetic data: synthesise, validate, build the training set, train,
    compare with hand-weighted points, register in MLflow and promote to @champion."""
    from features.contract.directory import EVENTS_NAME, LEADS_FILE, OUTCOMES_FILE
    from features.contract.validate import load_contract
    from features.synth.generate import generate
    from features.trainingset import TrainingSetConfig
    from runtime.source import RegistrySettings, quiet_mlflow
    from training.cli import publish
    from training.registry.promotion import promote
    from training.train import TrainConfig, train_from_directory

    settings = RegistrySettings()
    data_dir, report_dir = workdir / "synth", workdir / "report"
    progress = _Progress()
    synth = progress.run(
        f"synthesise {leads:,} leads",
        lambda: generate(data_dir, leads, seed, SYNTH_START),
        lambda s: f"{s.n_events:,} events, closed-won rate {s.closed_won_rate:.1%} -> {data_dir}",
    )
    progress.run(
        "validate",
        lambda: load_contract(
            data_dir / LEADS_FILE, data_dir / EVENTS_NAME, data_dir / OUTCOMES_FILE
        ),
        lambda v: v.report.summary().splitlines()[0],
    )
    config = TrainConfig(
        name=settings.model_name,
        training_set=TrainingSetConfig(competitor_domains=tuple(synth.competitor_domains)),
    )
    # Two stages: build the training set, then train beside the points and the oracle.
    trained = train_from_directory(data_dir, config, progress=progress)
    result = trained.result
    logged = progress.run(
        "write the report, log the run and register the model in MLflow",
        lambda: publish(
            result,
            out=report_dir,
            export=None,
            registry=(config, trained.training_set.frame, trained.training_set.report),
        ),
        lambda lv: f"{report_dir}; {settings.model_name} version {lv.version} (@challenger)",
    )
    with quiet_mlflow():
        promotion = progress.run(
            "promote",
            lambda: promote(settings, logged.version),
            lambda p: "now @champion" if p.promoted else "not promoted",
        )
    typer.echo("")
    typer.echo(result.report.headline())
    typer.echo("")
    typer.echo(promotion.summary())
    typer.echo("")
    typer.echo(f"finished in {progress.elapsed:.0f}s")
    typer.echo(f"report:    {report_dir / 'report.md'} (plots beside it)")
    typer.echo(f"model:     {settings.model_uri('champion')} in {settings.tracking_uri}")
    if settings.tracking_uri.startswith("sqlite:///"):
        typer.echo(f"MLflow UI: mlflow ui --backend-store-uri {settings.tracking_uri}")
    else:
        typer.echo(f"MLflow UI: {settings.tracking_uri}")
    typer.echo("next:      leadscore models list")
