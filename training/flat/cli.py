"""`leadscore train --flat EXPORT ...`: train on a one-row-per-lead CRM export.

Flags override the YAML config file (`--config`), whose keys are `training.flat.train.FlatConfig`'s
(the trainer's own settings under `train:`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:
    from training.audit.leakage import LeakageAudit
    from training.flat.train import FlatConfig

IdColumn = Annotated[
    str | None,
    typer.Option(
        help="Flat export: the column that names each lead once (default: a unique column "
        "named like 'id', else the rows are numbered row_1, row_2, ...)."
    ),
]
TargetColumn = Annotated[
    str | None, typer.Option(help="Flat export: the column that says whether the lead converted.")
]
PositiveValue = Annotated[
    str | None,
    typer.Option(
        help="Flat export: the target value meaning converted (default: recognised for "
        "yes/no, y/n, true/false, won/lost, converted/not converted, 1/0)."
    ),
]
DateColumn = Annotated[
    str | None,
    typer.Option(
        help="Flat export: when each lead was created. With it: a time split (train on older "
        "leads, test on the latest); without it: stratified cross-validation."
    ),
]
Exclude = Annotated[
    list[str] | None,
    typer.Option(help="Flat export: a column never to use (repeat the option for more)."),
]
# Named after its parameter, `keep_column`: --keep-column, the audit's KEEP_OPTION (not
# imported here: the audit module loads pandas, which `leadscore --help` must not wait for).
KeepColumn = Annotated[
    list[str] | None,
    typer.Option(help="A column the leakage audit flagged, to use anyway (repeatable)."),
]
MissingValues = Annotated[
    str | None,
    typer.Option(
        help="Flat export: more values meaning 'not filled', comma separated (added to empty, "
        "Select, N/A, NA, None, Null, Unknown, -, nan).",
    ),
]
FlatConfigFile = Annotated[
    Path | None,
    typer.Option("--config", help="Flat export: YAML with the same settings (flags override it)."),
]


def flat_config(
    config_file: Path | None,
    flags: dict[str, Any],
    extra_missing: str | None,
    *,
    force: bool = False,
    tune: bool = False,
) -> FlatConfig:
    """The run's `FlatConfig`: the YAML file's settings, then the flags given on top."""
    from training.flat.train import FlatConfig

    values: dict[str, Any] = {}
    if config_file is not None:
        values = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
        if not isinstance(values, dict):
            raise typer.BadParameter(f"{config_file} must hold a mapping of settings")
    values |= {k: v for k, v in flags.items() if v not in (None, [], ())}
    if extra_missing:
        base = tuple(
            values.get("missing_values", FlatConfig.model_fields["missing_values"].default)
        )
        values["missing_values"] = (*base, *(v.strip() for v in extra_missing.split(",")))
    try:
        config = FlatConfig.model_validate(values)
    except ValidationError as exc:
        where = config_file or "flat export settings"
        raise typer.BadParameter(f"{where}: {settings_errors(exc, FlatConfig)}") from exc
    train = config.train
    updates = {"force": train.force or force}
    if tune:
        updates["tune"] = train.tune.model_copy(update={"enabled": True})
    return config.model_copy(update={"train": train.model_copy(update=updates)})


def settings_errors(exc: ValidationError, model: type[BaseModel]) -> str:
    """The validation errors on one line; an unknown key is named with the keys it could be."""
    problems = []
    for error in exc.errors():
        loc = ".".join(map(str, error["loc"]))
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {loc!r}{_known_keys(model, error['loc'][:-1])}")
        elif error["type"] == "missing" and loc == "target_column":
            problems.append("no target column: give --target-column, or target_column in --config")
        else:
            problems.append(f"{loc}: {error['msg']}")
    return "; ".join(problems)


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """ " (known: a, b, ...)": the keys of the section at `loc` (e.g. ("train", "split"))."""
    section: object = model
    for key in loc:
        field = section.model_fields.get(key) if isinstance(key, str) else None
        section = field.annotation if field else None
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            return ""  # inside a list or a union: no single set of keys to list
    return f" (known: {', '.join(section.model_fields)})"


def echo_audit(audit: LeakageAudit) -> None:
    """The flagged columns with their evidence, and how to keep one."""
    from training.audit.leakage import KEEP_OPTION

    if not audit.flagged:
        return
    typer.echo(f"leakage audit flagged {len(audit.flagged)} column(s):")
    for c in audit.flagged:
        state = f"KEPT by {KEEP_OPTION}" if c.kept else "left out"
        typer.echo(f"  - {c.column} ({state}): {'; '.join(c.reasons)}")
    typer.echo(f'  use one anyway with {KEEP_OPTION} "{audit.flagged[0].column}"')


def run_flat(
    export: Path,
    config: FlatConfig,
    *,
    out: Path,
    model_out: Path | None,
    register: bool,
) -> None:
    """Train on the export, print what the audit found and how the model measured, write the
    report (and the model directory), and register the model."""
    from training.flat.train import log_flat, train_flat

    typer.echo(f"training on {export} ...")
    result = train_flat(export, config)
    report, audit = result.report, result.report.audit
    for note in report.notes:
        typer.echo(note)
    typer.echo(
        f"{report.rows:,} leads, {report.positives:,} converted; "
        f"{len(audit.columns)} candidate features, {len(audit.used_columns)} used"
    )
    echo_audit(audit)
    if report.cross_validation is not None:
        m = report.cross_validation.metrics
        how = f"{len(report.cross_validation.folds)}-fold cross-validation"
    else:
        m = report.time_split.test
        how = "time split, latest slice"
    typer.echo(
        f"{how}: ROC AUC {m.roc_auc:.4f}, PR AUC {m.pr_auc:.4f}, log loss {m.log_loss:.4f}, "
        f"ECE {m.ece:.4f}"
    )
    if audit.metrics_all_columns is not None:
        typer.echo(
            f"with the flagged columns it would claim ROC AUC "
            f"{audit.metrics_all_columns['roc_auc']:.4f}: not what new leads would get"
        )
    result.write(out)
    typer.echo(f"report: {out / 'report.md'} (plots beside it)")
    if model_out is not None:
        typer.echo(f"model:  {result.model.save(model_out)}")
    if register:
        from runtime.source import quiet_mlflow
        from training.registry.tracking import registry_for

        settings = registry_for(result.model)
        with quiet_mlflow():
            logged = log_flat(result, config, settings)
        typer.echo(
            f"registered {settings.model_name} version {logged.version} (@challenger) in "
            f"{settings.tracking_uri}"
        )
        if report.cross_validation is not None:
            typer.echo(
                "promote it with `leadscore models promote --force` after reading the report: "
                "cross-validation left no untouched rows to compare it with the champion on"
            )
        else:
            typer.echo("promote it with `leadscore models promote`")
