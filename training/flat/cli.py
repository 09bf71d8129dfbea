"""`leadscore train --flat EXPORT ...`: train on a one-row-per-lead CRM export.

Flags override the YAML config file (`--config`), whose keys are `training.flat.train.FlatConfig`'s
(the trainer's own settings under `train:`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from training.config_files import SettingsError, read_settings, validate_settings

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
Separator = Annotated[
    str | None,
    typer.Option("--sep", help="Flat export: CSV separator, e.g. ';'. Default: detected."),
]
Encoding = Annotated[
    str | None,
    typer.Option(help="Flat export: CSV text encoding, e.g. cp1252. Default: detected."),
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

    try:
        values = read_settings(config_file) if config_file is not None else {}
        values |= {k: v for k, v in flags.items() if v not in (None, [], ())}
        if extra_missing:
            base = tuple(
                values.get("missing_values", FlatConfig.model_fields["missing_values"].default)
            )
            values["missing_values"] = (*base, *(v.strip() for v in extra_missing.split(",")))
        config = validate_settings(
            values, FlatConfig, config_file or "flat export settings", _MISSING_HINTS
        )
    except SettingsError as exc:
        raise typer.BadParameter(str(exc)) from None
    train = config.train
    updates = {"force": train.force or force}
    if tune:
        updates["tune"] = train.tune.model_copy(update={"enabled": True})
    return config.model_copy(update={"train": train.model_copy(update=updates)})


_MISSING_HINTS = {
    "target_column": "no target column: give --target-column, or target_column in --config"
}


def echo_audit(audit: LeakageAudit) -> None:
    """The flagged columns with their evidence, and how to keep one."""
    from training.audit.leakage import KEEP_OPTION

    if not audit.flagged:
        return
    typer.echo(f"leakage audit flagged {len(audit.flagged)} column(s):")
    for c in audit.flagged:
        state = f"KEPT by {KEEP_OPTION}" if c.kept else "left out"
        typer.echo(f"  - {c.column} ({state}): {'; '.join(c.reasons)}")
    # Only audited candidates can be kept: set-aside free text is no feature (refused).
    keepable = [c.column for c in audit.flagged if c.kind != "text" and not c.kept]
    if keepable:
        typer.echo(f'  use one anyway with {KEEP_OPTION} "{keepable[0]}"')


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
    # First, before the measurements they qualify: a forced run's warnings (the minimum-data
    # check's, the time split's own included) and the export's censoring.
    split_warnings = report.time_split.warnings if report.time_split is not None else []
    for warning in (*split_warnings, *report.warnings):
        typer.echo(f"warning: {warning}")
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
