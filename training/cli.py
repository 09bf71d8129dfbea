"""`leadscore train`: train, calibrate and evaluate a model against the hand-weighted points."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar

import typer

from features.cli import SchedulerOption
from training.config_files import SettingsError, load_settings
from training.flat.cli import (
    DateColumn,
    Encoding,
    Exclude,
    IdColumn,
    KeepColumn,
    MissingValues,
    PositiveValue,
    Separator,
    TargetColumn,
    echo_audit,
    flat_config,
    run_flat,
)

if TYPE_CHECKING:
    import pandas as pd
    from distributed import Client

    from features.points import PointsRules
    from features.trainingset import TrainingSet, TrainingSetReport
    from training.registry.tracking import LoggedVersion
    from training.train import TrainConfig, TrainResult

T = TypeVar("T")


def load_config(path: Path | None) -> TrainConfig:
    """A `TrainConfig` from YAML (any subset of its fields), or the defaults."""
    from training.train import TrainConfig

    if path is None:
        return TrainConfig()
    try:
        return load_settings(path, TrainConfig)
    except SettingsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None


def train(
    training_set: Annotated[
        Path | None,
        typer.Option(
            help="Training set Parquet from `leadscore features build` (its feature pipeline is "
            "in the file; target and horizon are read from the .report.json beside it)."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            help="Contract data directory (leads.parquet, events/, outcomes.parquet, as written "
            "by `leadscore data synth` or `data validate --out`). Without --training-set the "
            "training set is built from it; either way it feeds the hand-weighted baseline "
            "and, if it holds oracle.parquet, the oracle. With --engine dask also an "
            "object-store URL (s3://bucket/contract)."
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            help="Points rules YAML for the hand-weighted baseline; default: the shipped rules "
            "(written for the synthetic demo business)."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option(help="Directory for report.md, report.json and the PNG figures.")
    ] = Path("reports/train"),
    export: Annotated[
        Path | None,
        typer.Option(help="Also save the scoring artifact to this directory, e.g. models/NAME."),
    ] = None,
    mlflow: Annotated[
        bool,
        typer.Option(
            "--mlflow/--no-mlflow",
            help="Log the run to MLflow and register the model as @challenger (store: "
            "MLFLOW_TRACKING_URI, default sqlite:///mlflow.db in the working directory).",
        ),
    ] = True,
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML with any TrainConfig fields (split shares, booster, tier rules, minimum "
            "data, seed, training_set for --data); the flags below override it. With --flat: "
            "training.flat.train.FlatConfig fields (the columns, keep_columns, audit, and the "
            "trainer's settings under `train:`)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Train even if the data fails the minimum-data check; the report says so.",
        ),
    ] = False,
    auto_split: Annotated[
        bool,
        typer.Option(
            "--auto-split",  # training.minimum_data.AUTO_SPLIT_OPTION (the help test pins it)
            help="If the split leaves a slice too few conversions, use the split by shares "
            "that leaves every slice enough (the purge gaps stay one horizon), and say so.",
        ),
    ] = False,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune",
            help="Search booster hyperparameters (Optuna) on the train slice's latest leads.",
        ),
    ] = False,
    tune_trials: Annotated[
        int | None, typer.Option(min=1, help="Parameter sets to try with --tune (default 20).")
    ] = None,
    learning_curve: Annotated[
        str | None,
        typer.Option(
            help="Lead counts, e.g. 5000,10000,20000: the report adds the learning curve, "
            "model against points on the test slice as if the team had only that many leads.",
        ),
    ] = None,
    flat: Annotated[
        Path | None,
        typer.Option(
            help="A one-row-per-lead CRM export (CSV/Parquet) with a conversion column, instead "
            "of journeys: its columns are typed and audited for leakage. Needs --target-column "
            "(or target_column in --config); the id column is found by name, else rows are "
            "numbered."
        ),
    ] = None,
    id_column: IdColumn = None,
    target_column: TargetColumn = None,
    positive_value: PositiveValue = None,
    date_column: DateColumn = None,
    exclude: Exclude = None,
    keep_column: KeepColumn = None,
    missing_values: MissingValues = None,
    sep: Separator = None,
    encoding: Encoding = None,
    name: Annotated[
        str | None,
        typer.Option(
            envvar="LEADSCORE_MODEL_NAME",
            help="Model name in the report, the artifact and the MLflow registry (e.g. "
            "crm-conversion beside the journey model). Default: the config file's `name`, "
            "else lead-conversion.",
        ),
    ] = None,
    engine: Annotated[
        Literal["local", "dask"] | None,
        typer.Option(
            help="local: this process. dask: build the training set (with --data) and train "
            "the booster (lightgbm.dask) on a Dask cluster: --scheduler, else a local cluster "
            "of --workers processes. Default: the config's `engine`, else local."
        ),
    ] = None,
    scheduler: SchedulerOption = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="With --engine dask and no --scheduler: local worker processes."),
    ] = None,
) -> None:
    """Train a calibrated model with MQL/SQL tiers; test it on the latest leads vs. points."""
    if flat is not None:
        flags = {
            "csv_delimiter": sep,
            "encoding": encoding,
            "id_column": id_column,
            "target_column": target_column,
            "positive_value": positive_value,
            "date_column": date_column,
            "exclude": exclude,
            "keep_columns": keep_column,
        }
        settings = flat_config(config, flags, missing_values, force=force, tune=tune)
        if name:
            settings = settings.model_copy(
                update={"train": settings.train.model_copy(update={"name": name})}
            )
        run_flat(flat, settings, out=out, model_out=export, register=mlflow)
        return
    # Imported here: LightGBM, scikit-learn and matplotlib take seconds to load, and other
    # `leadscore` commands (and --help) should not wait for them.
    from features.points import PointsRules, RulesError

    if training_set is None and data is None:
        raise typer.BadParameter("give --training-set FILE, --data DIR, or both")
    started = time.perf_counter()
    settings = load_config(config)
    updates = {
        "force": settings.force or force,
        "auto_split": settings.auto_split or auto_split,
        "name": name or settings.name,
    }
    if tune or tune_trials:
        tune_updates = {"enabled": True} | ({"trials": tune_trials} if tune_trials else {})
        updates["tune"] = settings.tune.model_copy(update=tune_updates)
    if keep_column:
        updates["audit"] = settings.audit.model_copy(update={"keep": tuple(keep_column)})
    if learning_curve:
        updates["backtest"] = settings.backtest.model_copy(
            update={"learning_curve": _lead_counts(learning_curve)}
        )
    engine_flags = {"engine": engine, "scheduler": scheduler, "workers": workers}
    updates["engine"] = settings.engine.model_copy(
        update={k: v for k, v in engine_flags.items() if v is not None}
    )
    settings = settings.model_copy(update=updates)
    try:
        points_rules = PointsRules.from_yaml(rules) if rules else PointsRules.default()
    except RulesError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rules") from None

    if settings.engine.engine == "dask":
        result, settings, built = _train_on_cluster(
            training_set, data, settings, points_rules, out, started
        )
    elif training_set is None:
        result, settings, built = _train_from_data(Path(data), settings, points_rules, started)
    else:
        result, settings, built = _train_on_file(
            training_set, Path(data) if data else None, settings, points_rules, started
        )
    if result.report.audit is not None:
        echo_audit(result.report.audit)
    logged = publish(
        result,
        out=out,
        export=export,
        registry=(settings, built.frame, built.report) if mlflow else None,
    )
    typer.echo("")
    typer.echo(result.report.headline())
    for note in result.report.comparison_notes + result.report.warnings:
        typer.echo(f"- {note}")
    typer.echo(f"\nreport: {out / 'report.md'} (and report.json, PNG figures)")
    if export:
        typer.echo(f"model: {export}")
    if logged:
        typer.echo(
            f"registered: {logged.model_uri} (@challenger), run {logged.run_id}; "
            "promote it with `leadscore models promote`"
        )
    _say(started, "done")


def publish(
    result: TrainResult,
    *,
    out: Path,
    export: Path | None,
    registry: tuple[TrainConfig, pd.DataFrame, TrainingSetReport] | None = None,
) -> LoggedVersion | None:
    """The one place a trained result leaves `leadscore train`: the report, the export and,
    given (config, training frame, training-set report), the MLflow run and registry version.
    """
    result.write(out)
    if export:
        result.model.save(export)
    if registry is None:
        return None
    from runtime.source import quiet_mlflow
    from training.registry.tracking import log_training, registry_for

    with quiet_mlflow():
        return log_training(result, *registry, settings=registry_for(result.model))


class _Timed:
    """`train_from_directory`'s stages as `leadscore train` lines: time so far, what was made."""

    def __init__(self, started: float) -> None:
        self.started = started

    def run(self, name: str, step: Callable[[], T], detail: Callable[[T], str]) -> T:
        _say(self.started, f"{name} ...")
        result = step()
        _say(self.started, detail(result))
        return result


def _train_from_data(
    data: Path, config: TrainConfig, rules: PointsRules, started: float
) -> tuple[TrainResult, TrainConfig, TrainingSet]:
    """Build the training set of a contract directory and train on it."""
    from training.train import train_from_directory

    try:
        trained = train_from_directory(data, config, rules=rules, progress=_Timed(started))
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    return trained.result, config, trained.training_set


def _train_on_cluster(
    training_set: Path | None,
    data: str | None,
    config: TrainConfig,
    rules: PointsRules,
    out: Path,
    started: float,
) -> tuple[TrainResult, TrainConfig, TrainingSet]:
    """Train with the booster on a Dask cluster; with --data (and no --training-set) the
    training set is built there first, into OUT/training_set.parquet/. The hand-weighted
    points need every journey in this process, so they are compared only on one machine."""
    from features.distributed import build_training_set_dask
    from features.engine import dask_client
    from training.distributed import on_cluster
    from training.warm_start import WarmStart

    if config.warm_start.candidates != (WarmStart.NONE,):
        # lightgbm.dask cannot continue from a warm start's trees.
        _say(
            started,
            "warm starts train on one machine only: on the cluster the booster starts from none",
        )
        config = config.model_copy(
            update={
                "warm_start": config.warm_start.model_copy(update={"candidates": (WarmStart.NONE,)})
            }
        )
    with dask_client(config.engine) as client, on_cluster(client):
        if training_set is None:
            training_set = out / "training_set.parquet"
            _say(started, f"build the training set on {_cluster_name(client)} ...")
            build_training_set_dask(
                data,
                str(training_set),
                config.training_set,
                client,
                leads_per_partition=config.engine.leads_per_partition,
            )
        _say(started, f"train the booster on {_cluster_name(client)}")
        return _train_on_file(training_set, None, config, rules, started)


def _cluster_name(client: Client) -> str:
    workers = len(client.scheduler_info()["workers"])
    return f"the Dask cluster at {client.scheduler.address} ({workers} workers)"


def _train_on_file(
    training_set: Path, data: Path | None, config: TrainConfig, rules: PointsRules, started: float
) -> tuple[TrainResult, TrainConfig, TrainingSet]:
    """Train on a training set file, beside the points of the contract data it came from
    (if given); the config takes the target and horizon its labels were built for."""
    from features.contract.directory import read_contract_dir
    from features.contract.schema import LABEL, Milestone
    from features.trainingset import TrainingSet, TrainingSetReport, read_training_set
    from training.train import train_model

    contract = None
    if data is not None:
        try:
            contract = read_contract_dir(data)
        except FileNotFoundError as exc:
            raise typer.BadParameter(str(exc), param_hint="--data") from None
    if not training_set.exists():
        raise typer.BadParameter(
            f"{training_set} does not exist; build it with `leadscore features build`.",
            param_hint="--training-set",
        )
    frame, pipeline = read_training_set(training_set)
    report_path = training_set.with_suffix(".report.json")
    if not report_path.exists():
        raise typer.BadParameter(
            f"{report_path} is missing: it says which target and horizon the labels mean. "
            "Rebuild the training set with `leadscore features build`.",
            param_hint="--training-set",
        )
    report = TrainingSetReport.model_validate_json(report_path.read_text())
    # The labels mean what the training set was built for, whatever the config says.
    labels = {"target": Milestone(report.target), "horizon_days": report.horizon_days}
    config = config.model_copy(
        update={"training_set": config.training_set.model_copy(update=labels)}
    )
    _say(started, f"training on {len(frame):,} rows ({int(frame[LABEL].sum()):,} conversions)")
    result = train_model(
        frame,
        pipeline,
        config,
        rules=rules if contract else None,
        journeys=contract.journeys if contract else None,
        leads=contract.leads if contract else None,
        outcomes=contract.outcomes if contract else None,
        oracle=contract.oracle if contract else None,
    )
    _say(started, "trained and evaluated")
    return result, config, TrainingSet(frame=frame, pipeline=pipeline, report=report)


def _lead_counts(text: str) -> tuple[int, ...]:
    """`5000,10000` -> (5000, 10000); a bad list is a usage error naming the option."""
    try:
        counts = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise typer.BadParameter(
            f"{text!r} is not a list of lead counts: write e.g. 5000,10000,20000",
            param_hint="--learning-curve",
        )
    return counts


def _say(started: float, message: str) -> None:
    typer.echo(f"[{time.perf_counter() - started:6.1f}s] {message}")
