"""MLflow tracking and the model registry: log a training run, register its model, load models.

The default store is a SQLite file in the working directory (`sqlite:///mlflow.db`) with
artifacts on local disk beside it (`mlartifacts/`); `MLFLOW_TRACKING_URI` points everything
at a tracking server instead. Versions are named by registry aliases, never stages:
`@challenger` is the newest candidate, `@champion` the model serving uses.

`load_model` is the one loader of scoring models: serving, batch scoring, notebooks and
promotion all call it with a registry URI (`models:/lead-conversion@champion`,
`models:/lead-conversion/3`), a run URI (`runs:/<id>/model`) or a plain directory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode
from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.contract.schema import LEAD_ID
from features.pipeline import AS_OF
from features.trainingset import LABEL, TrainingSetReport
from runtime.artifact import MODEL_FILE, ScoringModel
from training.registry.pyfunc import ARTIFACT_KEY, log_pyfunc
from training.split import SliceSummary, SplitSummary, time_split

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from training.train import TrainConfig, TrainResult

CHAMPION = "champion"
CHALLENGER = "challenger"
SQLITE_PREFIX = "sqlite:///"
EVALUATION_ROWS = "evaluation/test_rows.parquet"
SOURCE_FILE = "source.json"
# Test-slice metrics shown by `models list` (tag name -> metric of the training run).
HEADLINE_METRICS = {
    "roc_auc": "test_roc_auc",
    "ece": "test_ece",
    "log_loss": "test_log_loss",
    "points_roc_auc": "points_roc_auc",
}
# Model version tags: headline test metrics (for `models list` without opening each run) and
# the champion a version replaced (for rollback).
METRIC_TAG = "metric."
PREVIOUS_CHAMPION_TAG = "previous_champion"
# A scheme of two or more letters (so a Windows drive letter is not one): models:/, runs:/, s3://
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
_PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_TRACKING_ENV = "MLFLOW_TRACKING_URI"
# MLflow refuses longer parameter values.
_MAX_PARAM_CHARS = 6000


class RegistrySettings(BaseSettings):
    """Where runs and models go. Environment: MLFLOW_TRACKING_URI, LEADSCORE_EXPERIMENT, ..."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_", populate_by_name=True)

    tracking_uri: str = Field(
        f"{SQLITE_PREFIX}mlflow.db",
        validation_alias=AliasChoices("tracking_uri", _TRACKING_ENV),
        description="MLflow tracking (and registry) store; a relative SQLite path is relative "
        "to the working directory. Point MLFLOW_TRACKING_URI at a tracking server to share it.",
    )
    experiment: str = Field("lead-scoring", description="MLflow experiment of training runs.")
    model_name: str = Field("lead-conversion", description="Registered model name.")
    artifact_location: str | None = Field(
        None,
        description="Artifact root of a new experiment. Default: `mlartifacts/` beside a "
        "local SQLite store; a tracking server's own artifact store otherwise.",
    )

    def default_artifact_location(self) -> str | None:
        """Where a new experiment stores artifacts (None: the tracking server decides)."""
        if self.artifact_location:
            return self.artifact_location
        if self.tracking_uri.startswith(SQLITE_PREFIX):
            database = Path(self.tracking_uri.removeprefix(SQLITE_PREFIX))
            return (database.resolve().parent / "mlartifacts").as_uri()
        return None

    def model_uri(self, alias_or_version: str | int) -> str:
        """`models:/<name>@alias` or `models:/<name>/<version>`."""
        if isinstance(alias_or_version, int) or str(alias_or_version).isdigit():
            return f"models:/{self.model_name}/{alias_or_version}"
        return f"models:/{self.model_name}@{alias_or_version}"


def registry_for(model: ScoringModel) -> RegistrySettings:
    """The store from the environment, with the model's own name as the registered name."""
    return RegistrySettings().model_copy(update={"model_name": model.spec.metadata.name})


class LoggedVersion(BaseModel):
    """A logged training run and the registered model version it produced."""

    run_id: str
    version: int
    model_uri: str
    experiment_id: str


class VersionInfo(BaseModel):
    """One registered version as `models list` shows it."""

    version: int
    aliases: tuple[str, ...]
    created: datetime
    run_id: str | None
    metrics: dict[str, float]
    previous_champion: int | None = None


@contextmanager
def tracking(settings: RegistrySettings) -> Iterator[mlflow.MlflowClient]:
    """Point MLflow's fluent API at the configured store for the block; yield a client.

    MLflow keeps the URI in a global and copies it into MLFLOW_TRACKING_URI; afterwards the
    global is unset and the variable restored, so the caller's MLflow setup is as it was.
    """
    environment = os.environ.get(_TRACKING_ENV)
    mlflow.set_tracking_uri(settings.tracking_uri)
    try:
        yield mlflow.MlflowClient(settings.tracking_uri, settings.tracking_uri)
    finally:
        mlflow.set_tracking_uri(None)  # unset: MLflow reads MLFLOW_TRACKING_URI again
        if environment is not None:
            os.environ[_TRACKING_ENV] = environment


@contextmanager
def quiet_mlflow() -> Iterator[None]:
    """Keep MLflow's INFO logs and download progress bars out of a command's own output."""
    logger = logging.getLogger("mlflow")
    level, bar = logger.level, os.environ.get(_PROGRESS_BAR_ENV)
    logger.setLevel(logging.WARNING)
    os.environ[_PROGRESS_BAR_ENV] = "false"
    try:
        yield
    finally:
        logger.setLevel(level)
        if bar is None:
            os.environ.pop(_PROGRESS_BAR_ENV, None)
        else:
            os.environ[_PROGRESS_BAR_ENV] = bar


def experiment_id(client: mlflow.MlflowClient, settings: RegistrySettings) -> str:
    """The configured experiment's id, created (with its artifact location) if missing."""
    experiment = client.get_experiment_by_name(settings.experiment)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(
        settings.experiment, artifact_location=settings.default_artifact_location()
    )


def flatten_params(values: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """Nested config -> MLflow params `a.b.c` (lists and tuples as JSON)."""
    flat: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= flatten_params(value, f"{name}.")
        else:
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            flat[name] = text[:_MAX_PARAM_CHARS]
    return flat


def log_model_run(
    model: ScoringModel,
    *,
    params: Mapping[str, str],
    metrics: Mapping[str, float],
    headline: Mapping[str, float],
    texts: Mapping[str, str],
    figures: Mapping[str, Figure],
    evaluation_rows: pd.DataFrame | None,
    settings: RegistrySettings,
    example_rows: pd.DataFrame | None = None,
) -> LoggedVersion:
    """Log one trained model as an MLflow run, register it and point `@challenger` at it.

    `texts` are artifact path -> content (reports); `figures` are saved as `plots/<name>.png`;
    `evaluation_rows` (lead_id, as_of, label and the model's features on its test slice) are
    what promotion scores the candidate and the champion on (None: the model has no untouched
    rows, e.g. cross-validated on a flat export, and promotion needs --force); `example_rows`
    (default: the evaluation rows) give the pyfunc input example; `headline` metrics become
    model version tags that `models list` shows.
    """
    with tracking(settings) as client:
        exp_id = experiment_id(client, settings)
        with mlflow.start_run(experiment_id=exp_id) as run:
            mlflow.log_params(params)
            mlflow.log_metrics(dict(metrics))
            mlflow.set_tags(
                {
                    "data_fingerprint": model.spec.metadata.data_fingerprint,
                    "code_version": model.spec.metadata.code_version,
                    "target": model.spec.metadata.target,
                }
            )
            for path, text in texts.items():
                mlflow.log_text(text, path)
            for name, figure in figures.items():
                mlflow.log_figure(figure, f"plots/{name}.png")
            with tempfile.TemporaryDirectory() as tmp:
                if evaluation_rows is not None:
                    rows_file = Path(tmp) / Path(EVALUATION_ROWS).name
                    evaluation_rows.to_parquet(rows_file, index=False)
                    mlflow.log_artifact(str(rows_file), str(Path(EVALUATION_ROWS).parent))
                model_dir = model.save(Path(tmp) / ARTIFACT_KEY)
                example = example_rows if example_rows is not None else evaluation_rows
                info = log_pyfunc(model_dir, model, example)
        registered = mlflow.register_model(info.model_uri, settings.model_name)
        version = int(registered.version)
        for key, value in headline.items():
            client.set_model_version_tag(settings.model_name, version, METRIC_TAG + key, value)
        client.set_registered_model_alias(settings.model_name, CHALLENGER, version)
    return LoggedVersion(
        run_id=run.info.run_id,
        version=version,
        model_uri=settings.model_uri(version),
        experiment_id=exp_id,
    )


def log_training(
    result: TrainResult,
    config: TrainConfig,
    frame: pd.DataFrame,
    training_set: TrainingSetReport | None = None,
    settings: RegistrySettings | None = None,
    extra_texts: Mapping[str, str] | None = None,
) -> LoggedVersion:
    """Log a `train_model` result (trained on `frame`), register it, alias it `@challenger`.

    The run holds the flattened config as params, the test metrics, the report (Markdown and
    JSON), the training set's report, the plots, the pyfunc model and the test-slice rows;
    `extra_texts` (artifact path -> content) adds reports of the caller's own (e.g. the
    flat export's column types and leakage audit).
    """
    settings = settings or RegistrySettings()
    model, report = result.model, result.report
    # The same deterministic split `train_model` made: its test slice is what promotion
    # later scores this model and the champion on.
    split = time_split(frame, config.split, config.training_set.horizon_days)
    columns = [LEAD_ID, AS_OF, LABEL, *model.feature_names]
    evaluation_rows = frame.iloc[split.test][columns].reset_index(drop=True)
    # Same rows (labels aside: a deliberately noisy model may be logged with the true ones).
    ours, measured = (
        s.model_dump(exclude={"positives"}) for s in (split.summary.test, report.split.test)
    )
    if ours != measured:
        raise ValueError(
            f"the frame's test slice ({_describe(split.summary.test)}) is not the one the model "
            f"was measured on ({_describe(report.split.test)}): pass the training set frame and "
            "config that were given to `train_model`."
        )
    params = flatten_params(config.model_dump(mode="json"))
    params |= {
        "best_iteration": str(report.fit.best_iteration),
        "calibrator": report.calibration.calibrator.kind,
        "features": str(len(model.feature_names)),
    }
    metrics = dict(model.spec.metadata.metrics)
    metrics |= {f"{name}_rows": s.rows for name, s in _slices(report.split).items()}
    metrics |= {f"{name}_positives": s.positives for name, s in _slices(report.split).items()}
    texts = {
        "report/report.md": report.markdown(),
        "report/report.json": report.model_dump_json(indent=2),
    }
    if training_set is not None:
        texts |= {
            "training_set/report.md": training_set.markdown(),
            "training_set/report.json": training_set.model_dump_json(indent=2),
        }
    texts |= dict(extra_texts or {})
    return log_model_run(
        model,
        params=params,
        metrics=metrics,
        headline={tag: metrics[key] for tag, key in HEADLINE_METRICS.items() if key in metrics},
        texts=texts,
        figures=result.figures,
        evaluation_rows=evaluation_rows,
        settings=settings,
    )


def _describe(part: SliceSummary) -> str:
    return (
        f"{part.rows:,} rows of {part.leads:,} leads, "
        f"cut-offs {part.first_cutoff} to {part.last_cutoff}"
    )


def _slices(split: SplitSummary) -> dict[str, SliceSummary]:
    return {
        "train": split.train,
        "valid": split.valid,
        "calibration": split.calibration,
        "test": split.test,
    }


def load_model(uri_or_path: str | Path, settings: RegistrySettings | None = None) -> ScoringModel:
    """A scoring model from a registry/run URI or a directory (plain or an MLflow model)."""
    settings = settings or RegistrySettings()
    text = str(uri_or_path)
    local = Path(text)
    if local.is_dir():
        return _load_dir(local)
    if not _URI.match(text):
        raise FileNotFoundError(
            f"no model at {text}: give models:/NAME@ALIAS, models:/NAME/VERSION, "
            "runs:/RUN_ID/model or a directory written by `leadscore models export`."
        )
    with tracking(settings), tempfile.TemporaryDirectory() as tmp:
        try:
            downloaded = mlflow.artifacts.download_artifacts(artifact_uri=text, dst_path=tmp)
        except MlflowException as exc:
            raise LookupError(
                f"cannot load {text} from {settings.tracking_uri}: {exc.message} "
                "(see `leadscore models list` for the versions and aliases there)"
            ) from exc
        return _load_dir(Path(downloaded))


def _load_dir(directory: Path) -> ScoringModel:
    """A plain artifact directory, or an MLflow pyfunc model directory that wraps one."""
    if (directory / MODEL_FILE).exists() or not (directory / "MLmodel").exists():
        return ScoringModel.load(directory)
    flavor = Model.load(str(directory / "MLmodel")).flavors.get("python_function", {})
    artifact = flavor.get("artifacts", {}).get(ARTIFACT_KEY)
    if artifact is None:
        raise ValueError(f"{directory} is an MLflow model but not a leadscore scoring model")
    return ScoringModel.load(directory / artifact["path"])


def _version_of(model_version: ModelVersion) -> int:
    return int(model_version.version)


def get_alias(client: mlflow.MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at, or None if the alias (or the model) does not exist."""
    try:
        aliases = client.get_registered_model(name).aliases
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    version = aliases.get(alias)
    return None if version is None else client.get_model_version(name, str(version))


def list_versions(settings: RegistrySettings) -> list[VersionInfo]:
    """Every registered version of the model, newest first."""
    with tracking(settings) as client:
        found = client.search_model_versions(f"name = '{settings.model_name}'")
        # Search results leave aliases out; the registered model has them all.
        aliases = client.get_registered_model(settings.model_name).aliases if found else {}
    rows = []
    for v in sorted(found, key=_version_of, reverse=True):
        previous = v.tags.get(PREVIOUS_CHAMPION_TAG)
        rows.append(
            VersionInfo(
                version=_version_of(v),
                aliases=tuple(sorted(a for a, n in aliases.items() if int(n) == int(v.version))),
                created=datetime.fromtimestamp(v.creation_timestamp / 1000, tz=UTC),
                run_id=v.run_id,
                metrics={
                    k.removeprefix(METRIC_TAG): float(value)
                    for k, value in v.tags.items()
                    if k.startswith(METRIC_TAG)
                },
                previous_champion=int(previous) if previous else None,
            )
        )
    return rows


def download_evaluation_rows(run_id: str, settings: RegistrySettings) -> pd.DataFrame:
    """The test-slice rows (with labels and features) logged with a training run."""
    with tracking(settings), tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=EVALUATION_ROWS, dst_path=tmp
        )
        return pd.read_parquet(path)


def export_model(uri: str, out: Path, settings: RegistrySettings) -> Path:
    """Write a model as a plain directory (for deployments without MLflow), with its source."""
    model = load_model(uri, settings)
    model.save(out)
    source = {
        "uri": uri,
        "tracking_uri": settings.tracking_uri,
        "exported_at": datetime.now(UTC).isoformat(),
        "trained_at": model.spec.metadata.trained_at.isoformat(),
        "data_fingerprint": model.spec.metadata.data_fingerprint,
    }
    (out / SOURCE_FILE).write_text(json.dumps(source, indent=2))
    return out
