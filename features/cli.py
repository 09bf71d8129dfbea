"""`leadscore data ...` and `leadscore features ...` commands."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from features.contract.schema import LEAD_ID, Milestone
from features.contract.validation_report import ValidationReport

if TYPE_CHECKING:
    from features.engine import EngineConfig
    from features.trainingset import TrainingSetConfig, TrainingSetReport

data_app = typer.Typer(
    help="Create and check lead data: synthetic journeys, validation.", no_args_is_help=True
)
features_app = typer.Typer(
    help="Build point-in-time training sets from leads, events and outcomes.", no_args_is_help=True
)


EngineOption = Annotated[
    Literal["local", "dask"],
    typer.Option(
        help="local: this process. dask: a Dask cluster (--scheduler, else a local cluster of "
        "--workers processes); each lead's events stay on one worker."
    ),
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="With --engine dask: address of an existing scheduler, tcp://HOST:8786."),
]
WorkersOption = Annotated[
    int, typer.Option(min=1, help="With --engine dask and no --scheduler: local worker processes.")
]


@features_app.command("build")
def build(
    data: Annotated[
        str | None,
        typer.Option(
            help="Directory of clean contract Parquet tables (leads.parquet, events/ or "
            "events.parquet, outcomes.parquet), from `data synth` or `data validate --out`; "
            "with --engine dask also an object-store URL (s3://bucket/leads, gs://...)."
        ),
    ] = None,
    leads: Annotated[
        Path | None, typer.Option(help="Raw leads table (CSV/Parquet); validated first.")
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(help="Raw events table (CSV/Parquet); validated first. Optional."),
    ] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="Raw outcomes table (CSV/Parquet); validated first.")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="YAML mapping your export's columns and values.")
    ] = None,
    out: Annotated[
        str,
        typer.Option(
            help="Training set Parquet to write (with --engine dask: a directory of Parquet "
            "parts, or a URL); reports are written beside it."
        ),
    ] = "data/training_set.parquet",
    cutoffs: Annotated[
        str,
        typer.Option(
            help="Cut-off policy: `offsets:1,7,30` (days after creation), `periodic:30` (a "
            "snapshot every 30 days while open) or `table:FILE` (lead_id, as_of rows)."
        ),
    ] = "offsets:1,7,30",
    target: Annotated[
        Milestone, typer.Option(help="Milestone that counts as a conversion.")
    ] = Milestone.CLOSED_WON,
    horizon_days: Annotated[
        float, typer.Option(help="Label = target reached within this many days after the cut-off.")
    ] = 90.0,
    data_end: Annotated[
        datetime | None,
        typer.Option(help="End of the data (UTC); default: the latest timestamp in it."),
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Lead attribute column to leave out (repeatable).")
    ] = None,
    competitor_domain: Annotated[
        list[str] | None,
        typer.Option(help="Email domain of a competitor (repeatable); such leads get a flag."),
    ] = None,
    engine: EngineOption = "local",
    scheduler: SchedulerOption = None,
    workers: WorkersOption = 2,
) -> None:
    """Build a point-in-time training set: features strictly before each cut-off, labels after."""
    # Heavy imports inside the command: `leadscore --help` stays fast.
    from features.contract.directory import ContractData, read_contract_dir
    from features.engine import EngineConfig
    from features.journeys import Journeys
    from features.trainingset import CutoffPolicy, TrainingSetConfig, write_training_set

    started = time.perf_counter()
    config = TrainingSetConfig(
        cutoffs=CutoffPolicy.parse(cutoffs),
        target=target,
        horizon_days=horizon_days,
        data_end=data_end.replace(tzinfo=data_end.tzinfo or UTC) if data_end else None,
        exclude_columns=tuple(exclude or ()),
        competitor_domains=tuple(competitor_domain or ()),
    )
    if engine == "dask":
        if data is None:
            raise typer.BadParameter(
                "--engine dask reads a contract directory: give --data DIR (or URL); turn raw "
                "exports into one with `leadscore data validate ... --out DIR`",
                param_hint="--data",
            )
        report = _build_on_dask(
            data, out, config, EngineConfig(engine=engine, scheduler=scheduler, workers=workers)
        )
        _say_built(report, out, started)
        return
    if data is not None:
        contract = read_contract_dir(Path(data))
    elif leads and outcomes:
        from features.contract.validate import load_contract

        result = load_contract(leads, events, outcomes, mapping=mapping, mode="strict")
        contract = ContractData(
            leads=result.leads,
            journeys=Journeys.from_frame(result.events, result.leads[LEAD_ID]),
            outcomes=result.outcomes,
        )
    else:
        raise typer.BadParameter("give --data DIR, or --leads and --outcomes (and --events)")
    with _progress_bar("leads") as progress:
        report = write_training_set(
            contract.leads,
            contract.journeys,
            contract.outcomes,
            config,
            Path(out),
            progress=progress,
        )
    _say_built(report, out, started)


def _build_on_dask(
    data: str, out: str, config: TrainingSetConfig, engine: EngineConfig
) -> TrainingSetReport:
    """The Dask build, with a progress bar of lead partitions on a terminal."""
    from features.distributed import build_training_set_dask
    from features.engine import dask_client

    with dask_client(engine) as client, _progress_bar("partitions") as progress:
        built = build_training_set_dask(
            data,
            out,
            config,
            client,
            leads_per_partition=engine.leads_per_partition,
            progress=progress,
        )
    return built.report


@contextmanager
def _progress_bar(unit: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on a terminal (stderr), nothing elsewhere; yields `update(done, total)`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        task = progress.add_task(unit, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def _say_built(report: TrainingSetReport, out: str, started: float) -> None:
    typer.echo(
        f"{report.rows:,} rows from {report.leads:,} leads, label rate {report.label_rate:.2%}; "
        f"excluded {report.excluded_already_reached:,} already converted/closed and "
        f"{report.excluded_censored:,} censored rows; {len(report.features)} features; "
        f"{time.perf_counter() - started:.1f}s"
    )
    typer.echo(f"wrote {out} and {PurePosixPath(out).with_suffix('.report.md')}")


@data_app.command("synth")
def synth_command(
    out: Annotated[
        Path,
        typer.Option(
            help="Directory to write leads.parquet, events/part-*.parquet, outcomes.parquet, "
            "oracle.parquet (hidden truth, never a feature) and synth.json into."
        ),
    ] = Path("data/synth"),
    leads: Annotated[
        int, typer.Option(min=1, help="Number of leads to generate (about 50 events each).")
    ] = 10_000,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed and options give byte-identical files.")
    ] = 42,
    start: Annotated[
        datetime,
        typer.Option(formats=["%Y-%m-%d"], help="First day of the generated period (UTC)."),
    ] = datetime(2024, 1, 1),
    months: Annotated[int, typer.Option(min=1, help="Length of the period in months.")] = 18,
    chunk_size: Annotated[
        int,
        typer.Option(
            min=1,
            help="Leads generated per chunk (one events Parquet part each); bounds memory. "
            "Part of the seed: a different chunk size gives different (equally valid) data.",
        ),
    ] = 100_000,
) -> None:
    """Generate realistic synthetic B2B leads, journeys and funnel outcomes."""
    from features.synth.generate import generate

    started = time.perf_counter()
    summary = generate(out, leads, seed, start.replace(tzinfo=UTC), months, chunk_size)
    typer.echo(
        f"{summary.n_leads:,} leads, {summary.n_events:,} events "
        f"({summary.n_events / summary.n_leads:.1f} per lead), {summary.n_outcomes:,} milestones, "
        f"closed-won rate {summary.closed_won_rate:.1%}, "
        f"{summary.start:%Y-%m-%d} to {summary.end:%Y-%m-%d}; "
        f"{time.perf_counter() - started:.1f}s"
    )
    typer.echo(f"wrote {out}/ (oracle.parquet is the hidden truth: never use it as a feature)")


@data_app.command("validate")
def validate_command(
    leads: Annotated[Path, typer.Option(help="Leads table: CSV file, Parquet file or directory.")],
    outcomes: Annotated[
        Path, typer.Option(help="Outcomes (milestones) table: CSV file, Parquet file or directory.")
    ],
    events: Annotated[
        Path | None,
        typer.Option(
            help="Events (journey) table: CSV file, Parquet file or directory. Without it the "
            "events are empty, and a model learns from attributes and timing only."
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="YAML mapping your export's column names, event types, milestone names and "
            "timestamp format onto the contract (see "
            "features/contract/examples/mapping_example.yaml). "
            "Default: the files already use the contract's names."
        ),
    ] = None,
    mode: Annotated[
        Literal["strict", "quarantine"],
        typer.Option(
            help="strict: fail (exit code 1) if any row has an error. quarantine: set bad rows "
            "aside with a reason and keep the rest; the report counts them.",
        ),
    ] = "strict",
    quarantine_dir: Annotated[
        Path,
        typer.Option(help="Where quarantine mode writes <table>.csv of bad rows, with reasons."),
    ] = Path("quarantine"),
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write the full report here: Markdown if the name ends in .md, else JSON."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write the clean tables as leads/events/outcomes.parquet into this directory "
            "(input for `leadscore features build --data`)."
        ),
    ] = None,
) -> None:
    """Check leads, events and outcomes against the data contract and report every problem."""
    from features.contract.mapping import ExportMapping
    from features.contract.validate import DataValidationError, load_contract

    export_mapping = ExportMapping.from_yaml(mapping) if mapping else ExportMapping()
    try:
        result = load_contract(
            leads, events, outcomes, export_mapping, mode=mode, quarantine_dir=quarantine_dir
        )
    except DataValidationError as exc:
        # The report is the command's output; the failure is one line, with its own exit code.
        _write_report(exc.report, report)
        typer.echo(exc.report.summary())
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    _write_report(result.report, report)
    typer.echo(result.report.summary())
    if out is not None:
        paths = result.write_clean(out)
        typer.echo(f"clean tables: {', '.join(str(p) for p in paths.values())}")


def _write_report(report: ValidationReport, path: Path | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = report.to_markdown() if path.suffix.lower() == ".md" else report.to_json()
    path.write_text(text, encoding="utf-8")
    typer.echo(f"report: {path}")
