"""What the analyst notebooks analyse: a registered or exported model with its data, or a demo.

Set `LEADSCORE_NB_MODEL` (`models:/lead-conversion@champion`, `runs:/...` or a model
directory) and `LEADSCORE_NB_DATA` (the contract data directory the model was trained on, or
newer data) to analyse your own model. With neither set, the notebooks synthesise a small
data set and train a model on it through the project's own functions, once per work
directory, so they run anywhere (CI runs them this way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.contract.directory import ContractData, read_contract_dir
from features.points import PointsRules
from runtime.artifact import CHECKSUMS_FILE
from runtime.model import ScoringModel

DEMO_START = datetime(2024, 1, 1, tzinfo=UTC)
_DEMO_MARKER = "demo.json"


def project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` (default: the working directory) holding
    `pyproject.toml`; `start` itself if there is none (notebooks run from `notebooks/`)."""
    start = (start or Path.cwd()).resolve()
    return next((p for p in (start, *start.parents) if (p / "pyproject.toml").exists()), start)


class NotebookSettings(BaseSettings):
    """Notebook parameters; each can be set by an environment variable `LEADSCORE_NB_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="LEADSCORE_NB_")

    model: str | None = Field(
        None, description="Model URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/...) or dir."
    )
    data: Path | None = Field(None, description="Contract data directory to analyse it on.")
    rules: Path | None = Field(
        None, description="Hand-weighted points rules (YAML); default: the shipped rules."
    )
    workdir: Path = Field(
        default_factory=lambda: project_dir() / "data" / "notebooks",
        description="Where the demo data and model are made and figures are written.",
    )
    figures: Path | None = Field(
        None, description="Where figures are saved as PNG; default: beside the training report."
    )
    demo_leads: int = Field(20_000, ge=5_000, description="Synthetic leads of the demo.")
    seed: int = Field(42, description="Random seed of the demo data.")


@dataclass(frozen=True)
class NotebookInputs:
    """A model, the data to analyse it on, the old rules and where figures go."""

    model: ScoringModel
    contract: ContractData
    rules: PointsRules
    figures_dir: Path
    source: str  # one sentence on what was loaded, for the notebook to print


def notebook_inputs(settings: NotebookSettings | None = None) -> NotebookInputs:
    """Load the configured model and data, or make (or reuse) the demo ones."""
    settings = settings or NotebookSettings()
    rules = (
        PointsRules.from_yaml(_in_project(settings.rules))
        if settings.rules
        else PointsRules.default()
    )
    if settings.model is None and settings.data is None:
        demo = settings.workdir / "demo"
        train_demo(demo, settings.demo_leads, settings.seed)
        return NotebookInputs(
            model=ScoringModel.load(demo / "model"),
            contract=read_contract_dir(demo / "data"),
            rules=rules,
            figures_dir=settings.figures or demo / "report",
            source=f"demo: {settings.demo_leads:,} synthetic leads (seed {settings.seed}) and a "
            f"model trained on them, in {demo}",
        )
    if settings.model is None or settings.data is None:
        raise ValueError(
            "set both LEADSCORE_NB_MODEL and LEADSCORE_NB_DATA (a model and the data it was "
            "trained on, or newer), or neither for the synthetic demo."
        )
    from runtime.source import SQLITE_PREFIX, RegistrySettings, load_model

    registry = RegistrySettings()
    if registry.tracking_uri.startswith(SQLITE_PREFIX):
        store = _in_project(registry.tracking_uri.removeprefix(SQLITE_PREFIX))
        registry = registry.model_copy(update={"tracking_uri": f"{SQLITE_PREFIX}{store}"})
    return NotebookInputs(
        model=load_model(str(_in_project(settings.model)), registry),
        contract=read_contract_dir(_in_project(settings.data)),
        rules=rules,
        figures_dir=settings.figures or settings.workdir / "figures",
        source=f"model {settings.model} on the data in {settings.data}",
    )


def _in_project(path: str | Path) -> str | Path:
    """`path` itself, unless only the project directory has it (then the path there).

    Jupyter runs a notebook in its own folder (`notebooks/`), while paths such as
    `data/quickstart/synth` or the default `sqlite:///mlflow.db` are relative to the
    project, where `leadscore quickstart` ran. Model URIs are never paths, so stay as given.
    """
    in_project = project_dir() / path
    return in_project if not Path(path).exists() and in_project.exists() else path


def train_demo(directory: Path, leads: int, seed: int) -> Path:
    """Synthesise `leads` leads and train a model on them in `directory`, unless done already.

    Writes `data/` (contract tables), `model/` (the scoring artifact the report's test
    figures belong to: the procedure fitted before the test slice, so the notebooks judge it
    on rows it never saw) and `report/` (the training report with its figures), like
    `leadscore quickstart` without MLflow.
    """
    from features.synth.generate import generate
    from features.trainingset import TrainingSetConfig
    from training.train import TrainConfig, train_from_directory

    directory = Path(directory)
    marker = directory / _DEMO_MARKER
    wanted = {"leads": leads, "seed": seed}
    # The manifest is written last: a model saved by an older version (without one) or by a
    # save that did not finish is trained again.
    done = (directory / "model" / CHECKSUMS_FILE).exists() and marker.exists()
    if done and json.loads(marker.read_text()) == wanted:
        return directory
    summary = generate(directory / "data", leads, seed, DEMO_START)
    config = TrainConfig(
        training_set=TrainingSetConfig(competitor_domains=tuple(summary.competitor_domains))
    )
    result = train_from_directory(directory / "data", config).result
    assert result.measured is not None  # journey training always measures a procedure
    result.measured.save(directory / "model")
    result.write(directory / "report")
    marker.write_text(json.dumps(wanted))
    return directory
