"""`leadscore models ...`: list registered versions, promote, roll back, export.

MLflow is imported inside the commands: it costs seconds, and every other `leadscore`
command would pay for it at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from runtime.source import RegistrySettings
    from training.registry.promotion import PromotionResult
    from training.registry.tracking import VersionInfo

ModelName = Annotated[
    str | None,
    typer.Option(
        "--name",
        envvar="LEADSCORE_MODEL_NAME",
        help="Registered model name (as given to `leadscore train --name`); default "
        "lead-conversion.",
    ),
]

models_app = typer.Typer(
    help="Registered models (MLflow registry aliases): list, promote, roll back, export. "
    "The store is MLFLOW_TRACKING_URI, default sqlite:///mlflow.db in the working directory.",
    no_args_is_help=True,
)


def format_versions(versions: list[VersionInfo]) -> str:
    """A plain-text table: version, aliases, created time and headline test metrics."""
    header = (
        f"{'version':>7}  {'aliases':<22} {'created (UTC)':<16} "
        f"{'ROC AUC':>8} {'ECE':>7} {'log loss':>8}  run"
    )
    lines = [header]
    for v in versions:
        m = v.metrics
        cells = [f"{m[k]:.4f}" if k in m else "–" for k in ("roc_auc", "ece", "log_loss")]
        aliases = ", ".join(f"@{a}" for a in v.aliases) or "–"
        lines.append(
            f"{v.version:>7}  {aliases:<22} {v.created:%Y-%m-%d %H:%M} "
            f"{cells[0]:>8} {cells[1]:>7} {cells[2]:>8}  {v.run_id or '–'}"
        )
    return "\n".join(lines)


@models_app.command("list")
def list_command(name: ModelName = None) -> None:
    """Show every version of the registered model with its aliases and test metrics."""
    from runtime.source import quiet_mlflow
    from training.registry.tracking import list_versions

    settings = _registry(name)
    with quiet_mlflow():
        versions = list_versions(settings)
    if not versions:
        typer.echo(
            f"no versions of {settings.model_name} in {settings.tracking_uri}: train one with "
            "`leadscore train` or `leadscore quickstart`."
        )
        return
    typer.echo(f"{settings.model_name} in {settings.tracking_uri}")
    typer.echo(format_versions(versions))


def _registry(name: str | None) -> RegistrySettings:
    """The store from the environment, which must exist (these commands only read it); `name`
    (from --name) as the registered model."""
    from runtime.source import RegistrySettings

    settings = RegistrySettings(model_name=name) if name else RegistrySettings()
    settings.require_store()
    return settings


def _report(result: PromotionResult) -> None:
    typer.echo(result.summary())
    if not result.promoted and result.champion_after != result.candidate:
        typer.echo("Use --force to promote it anyway.")
        raise typer.Exit(1)


@models_app.command("promote")
def promote_command(
    version: Annotated[
        int | None, typer.Option(help="Version to promote; default: the @challenger.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Promote even if it does not beat the champion.")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Contract data directory the candidate was trained on; needed only when the "
            "champion computes its features differently."
        ),
    ] = None,
    name: ModelName = None,
) -> None:
    """Move @champion to a version if it beats the champion on the same recent test rows.

    Both models score the candidate's own test slice; the higher ROC AUC wins (log loss breaks
    a tie). The first model becomes champion. Roll back with `leadscore models rollback`, or
    `leadscore models promote --version OLD --force`.
    """
    from runtime.source import quiet_mlflow
    from training.registry.promotion import promote

    contract = None
    if data is not None:
        from features.contract.directory import read_contract_dir

        contract = read_contract_dir(data)
    with quiet_mlflow():
        result = promote(_registry(name), version, force=force, data=contract)
    _report(result)


@models_app.command("rollback")
def rollback_command(name: ModelName = None) -> None:
    """Point @champion back at the version the current champion replaced."""
    from runtime.source import quiet_mlflow
    from training.registry.promotion import rollback

    with quiet_mlflow():
        result = rollback(_registry(name))
    typer.echo(result.summary())


@models_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option(help="Directory to write, e.g. models/lead-conversion.")],
    uri: Annotated[
        str | None,
        typer.Option(
            help="Model to export: models:/NAME@ALIAS, models:/NAME/VERSION or runs:/ID/model; "
            "default: the @champion."
        ),
    ] = None,
    name: ModelName = None,
) -> None:
    """Write a model as a plain directory, for deployments without MLflow."""
    from runtime.source import quiet_mlflow
    from training.registry.tracking import CHAMPION, export_model

    settings = _registry(name)
    uri = uri or settings.model_uri(CHAMPION)
    with quiet_mlflow():
        path = export_model(uri, out, settings)
    typer.echo(f"wrote {uri} to {path} (serve it with the path instead of a models:/ URI)")
