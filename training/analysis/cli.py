"""`leadscore rules ...`: turn a learned model into a points table a marketing tool can hold."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

rules_app = typer.Typer(
    help="Points rules for marketing automation: suggest a learned points table.",
    no_args_is_help=True,
)


@rules_app.command("suggest")
def suggest(
    model: Annotated[
        str,
        typer.Option(
            help="Model to translate: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model "
            "or a model directory."
        ),
    ],
    data: Annotated[
        Path,
        typer.Option(
            help="Contract data directory the model was trained on (or newer): the table is "
            "fitted on rows before the model's test window and measured on the rows after."
        ),
    ],
    out: Annotated[Path, typer.Option(help="Rules YAML to write.")] = Path("rules.yaml"),
    rules: Annotated[
        Path | None,
        typer.Option(help="Your current hand-weighted rules to compare with; default: shipped."),
    ] = None,
    points_to_double_odds: Annotated[
        float | None,
        typer.Option(
            min=1.0,
            help="Points that double a lead's odds of converting; default: whatever makes the "
            "table's scores spread like your current rules' scores.",
        ),
    ] = None,
) -> None:
    """Fit a points table (points per action with half-life and cap, per fit attribute value,
    MQL/SQL thresholds) to the model's log-odds, write it in the rules format, and show how
    well it ranks held-out leads next to the model and your current rules."""
    from features.contract.directory import read_contract_dir
    from features.points import PointsRules, RulesError
    from runtime.source import load_model
    from training.analysis.scorecard import ScorecardConfig, suggest_rules

    try:
        old_rules = PointsRules.from_yaml(rules) if rules else PointsRules.default()
    except RulesError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rules") from None
    scoring_model = load_model(model)
    suggested = suggest_rules(
        read_contract_dir(data),
        scoring_model,
        old_rules,
        ScorecardConfig(points_to_double_odds=points_to_double_odds),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(suggested.to_yaml(model_name=model), encoding="utf-8")
    typer.echo(
        f"{len(suggested.rules.actions)} action rules, "
        f"{sum(len(v) for v in suggested.rules.fit.model_dump().values())} fit points; "
        f"MQL at {suggested.rules.thresholds.mql:g}, SQL at {suggested.rules.thresholds.sql:g} "
        f"points -> {out}"
    )
    typer.echo(f"held-out rows: {suggested.held_out_rows:,}")
    width = max(len(row.method) for row in suggested.quality)
    typer.echo(f"{'':<{width}}  ROC AUC  PR AUC  deals in top {suggested.sql_share:.1%}")
    for row in suggested.quality:
        typer.echo(
            f"{row.method:<{width}}  {row.roc_auc:7.3f}  {row.pr_auc:6.3f}  "
            f"{row.deals_captured_at_sql_volume:.1%}"
        )
