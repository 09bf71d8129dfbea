"""MLflow tracking and the model registry: log a training run, register its model, list versions.

The default store is a SQLite file in the working directory (`sqlite:///mlflow.db`) with
artifacts on local disk beside it (`mlartifacts/`); `MLFLOW_TRACKING_URI` points everything
at a tracking server instead. Versions are named by registry aliases, never stages:
`@challenger` is the newest candidate, `@champion` the model serving uses.

Loading a model is `runtime.source.load_model`'s job.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from pydantic import BaseModel

from features.contract.schema import AS_OF, LABEL, LEAD_ID
from features.trainingset import TrainingSetReport
from runtime.model import ScoringModel
from runtime.source import (
    ARTIFACT_KEY,
    RegistrySettings,
    load_model,
    tracking,
)
from training.registry.pyfunc import log_pyfunc
from training.split import SliceSummary, SplitSummary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from training.train import TrainConfig, TrainResult

CHAMPION = "champion"
CHALLENGER = "challenger"
EVALUATION_ROWS = "evaluation/test_rows.parquet"
# In the evaluation rows: the probability of the model the test figures belong to.
MEASURED_PROBABILITY = "measured_probability"
# That model itself, beside the served one in the run's artifacts.
MEASURED_MODEL = "measured_model"
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
    measured: ScoringModel | None = None,
) -> LoggedVersion:
    """Log one trained model as an MLflow run, register it and point `@challenger` at it.

    `texts` are artifact path -> content (reports); `figures` are saved as `plots/<name>.png`;
    `evaluation_rows` (lead_id, as_of, label and the model's features on its test slice) are
    what promotion scores the candidate and the champion on (None: the model has no untouched
    rows, e.g. cross-validated on a flat export, and promotion needs --force); `headline`
    metrics become model version tags that `models list` shows. `measured`, the model the
    test figures belong to, is logged as the plain directory `measured_model`
    (`runs:/RUN_ID/measured_model`), for analyses on the training data itself.
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
                if measured is not None:
                    mlflow.log_artifacts(
                        str(measured.save(Path(tmp) / MEASURED_MODEL)), MEASURED_MODEL
                    )
                model_dir = model.save(Path(tmp) / ARTIFACT_KEY)
                info = log_pyfunc(model_dir, Path(tmp) / "code")
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
    # The split's positions index the frame it was made of (labels aside: a deliberately
    # noisy model may be logged with the true ones); any other frame has other rows there.
    split_rows = sum(s.rows for s in _slices(report.split).values())
    split_rows += report.split.purged_train_rows + report.split.purged_calibration_rows
    if len(frame) != split_rows:
        raise ValueError(
            f"the frame has {len(frame):,} rows, the model was split and measured on "
            f"{split_rows:,}: pass the training set frame that was given to `train_model`."
        )
    # The test slice the model was measured on: promotion later compares this model's
    # probabilities there with the champion's.
    columns = [LEAD_ID, AS_OF, LABEL, *model.feature_names]
    evaluation_rows = frame.iloc[result.split.test][columns].reset_index(drop=True)
    if result.measured is not None:
        # The served model learned from these rows too: its figures are those of the same
        # procedure fitted before them.
        evaluation_rows[MEASURED_PROBABILITY] = result.measured.predict_features(
            evaluation_rows
        ).probability
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
        measured=result.measured,
    )


def _slices(split: SplitSummary) -> dict[str, SliceSummary]:
    return {
        "train": split.train,
        "valid": split.valid,
        "calibration": split.calibration,
        "test": split.test,
    }


def _version_of(model_version: ModelVersion) -> int:
    return int(model_version.version)


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
