"""Where a scoring model comes from: a directory, or an MLflow registry or run URI.

`load_model` is the one loader of scoring models: the service, batch scoring, notebooks and
promotion all call it with `models:/NAME@ALIAS`, `models:/NAME/VERSION`, `runs:/ID/model` or a
directory (a plain export or an MLflow model that wraps one). MLflow is imported only when a
URI has to be resolved, so scoring from a directory never loads it.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime.artifact import MODEL_FILE, ArtifactError
from runtime.model import ScoringModel

if TYPE_CHECKING:
    import mlflow
    from mlflow.entities.model_registry import ModelVersion

SQLITE_PREFIX = "sqlite:///"
# The key of the artifact directory inside the logged pyfunc model.
ARTIFACT_KEY = "scoring_model"
# A scheme of two or more letters (so a Windows drive letter is not one): models:/, runs:/, s3://
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_PROGRESS_BAR_ENV = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
_TRACKING_ENV = "MLFLOW_TRACKING_URI"


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
        database = self.database()
        return None if database is None else (database.resolve().parent / "mlartifacts").as_uri()

    def database(self) -> Path | None:
        """The file of a local SQLite store; None for a tracking server."""
        if self.tracking_uri.startswith(SQLITE_PREFIX):
            return Path(self.tracking_uri.removeprefix(SQLITE_PREFIX))
        return None

    def require_store(self) -> None:
        """Refuse to read a local store that does not exist: MLflow would create an empty one
        (a 1 MB mlflow.db) in whatever directory the command ran."""
        database = self.database()
        if database is not None and not database.exists():
            raise LookupError(
                f"no MLflow registry at {database.resolve()} ({_TRACKING_ENV}="
                f"{self.tracking_uri}): train one with `leadscore quickstart` or `leadscore "
                "train`, point MLFLOW_TRACKING_URI at yours, or pass --model DIR"
            )

    def model_uri(self, alias_or_version: str | int) -> str:
        """`models:/<name>@alias` or `models:/<name>/<version>`."""
        if isinstance(alias_or_version, int) or str(alias_or_version).isdigit():
            return f"models:/{self.model_name}/{alias_or_version}"
        return f"models:/{self.model_name}@{alias_or_version}"


@dataclass(frozen=True)
class ModelSource:
    """Which model was loaded: its registered name, version and alias, and the exact URI."""

    name: str
    version: str | None
    alias: str | None
    uri: str


@contextmanager
def tracking(settings: RegistrySettings) -> Iterator[mlflow.MlflowClient]:
    """Point MLflow's fluent API at the configured store for the block; yield a client.

    MLflow keeps the URI in a global and copies it into MLFLOW_TRACKING_URI; afterwards the
    global is unset and the variable restored, so the caller's MLflow setup is as it was.
    """
    import mlflow

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
    settings.require_store()
    import mlflow
    from mlflow.exceptions import MlflowException

    with tracking(settings), tempfile.TemporaryDirectory() as tmp:
        try:
            downloaded = mlflow.artifacts.download_artifacts(artifact_uri=text, dst_path=tmp)
        except MlflowException as exc:
            raise LookupError(
                f"cannot load {text} from {settings.tracking_uri}: {exc.message} "
                "(see `leadscore models list` for the versions and aliases there)"
            ) from exc
        try:
            return _load_dir(Path(downloaded))
        except ArtifactError as exc:
            # Name the model as the user did, not the temporary folder it was downloaded to.
            raise ArtifactError(str(exc).replace(str(Path(downloaded)), text)) from None


def _load_dir(directory: Path) -> ScoringModel:
    """A plain artifact directory, or an MLflow pyfunc model directory that wraps one."""
    if (directory / MODEL_FILE).exists() or not (directory / "MLmodel").exists():
        return ScoringModel.load(directory)
    # MLmodel is YAML: reading it needs no MLflow.
    flavors = yaml.safe_load((directory / "MLmodel").read_text()).get("flavors", {})
    flavor = flavors.get("python_function", {})
    artifact = flavor.get("artifacts", {}).get(ARTIFACT_KEY)
    if artifact is None:
        raise ValueError(f"{directory} is an MLflow model but not a leadscore scoring model")
    return ScoringModel.load(directory / artifact["path"])


def load_source(
    uri: str, settings: RegistrySettings | None = None
) -> tuple[ScoringModel, ModelSource]:
    """The model at `uri` and which model it is (see `resolve_source`)."""
    return load_resolved(resolve_source(uri, settings), settings)


def load_resolved(
    source: ModelSource, settings: RegistrySettings | None = None
) -> tuple[ScoringModel, ModelSource]:
    """The model `resolve_source` named; a model without a version is named by its metadata."""
    settings = settings or RegistrySettings()
    with quiet_mlflow():
        model = load_model(source.uri, settings)
    if source.version is None:
        return model, ModelSource(model.spec.metadata.name, None, None, source.uri)
    return model, source


def resolve_source(uri: str, settings: RegistrySettings | None = None) -> ModelSource:
    """Which model `uri` names, before anything is loaded.

    An alias is resolved to its version, so the version reported is the one loaded even if the
    alias moves meanwhile (loading again resolves it again), and a load that fails can say
    which version failed. A directory or run URI has no version: its name is the model's own.
    """
    settings = settings or RegistrySettings()
    alias_match = _ALIAS_URI.match(uri)
    if alias_match:
        name, alias = alias_match["name"], alias_match["alias"]
        settings.require_store()
        with quiet_mlflow(), tracking(settings) as client:
            version = get_alias(client, name, alias)
        if version is None:
            raise LookupError(
                f"{uri}: no model {name!r} has the alias @{alias} in {settings.tracking_uri}. "
                "Train and promote one (`leadscore quickstart`, or `leadscore models "
                "promote`), or serve a directory with --model models/<name>."
            )
        return ModelSource(name, str(version.version), alias, f"models:/{name}/{version.version}")
    version_match = _VERSION_URI.match(uri)
    if version_match:
        return ModelSource(version_match["name"], version_match["version"], None, uri)
    return ModelSource(Path(uri).name, None, None, uri)


def get_alias(client: mlflow.MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version an alias points at, or None if the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    try:
        aliases = client.get_registered_model(name).aliases
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise
    version = aliases.get(alias)
    return None if version is None else client.get_model_version(name, str(version))
