"""`leadscore`: the command-line tool, one sub-command group per stage."""

from __future__ import annotations

import typer

from features.cli import data_app, features_app
from serving.cli import score, serve
from training.analysis.cli import rules_app
from training.cli import train
from training.quickstart import quickstart
from training.registry.cli import models_app

app = typer.Typer(
    name="leadscore",
    help="Predictive lead scoring: synthesise or validate data, build point-in-time features, "
    "train calibrated models, serve and score leads.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.command("train")(train)
app.add_typer(models_app, name="models")
app.command("quickstart")(quickstart)
app.command("serve")(serve)
app.command("score")(score)
app.add_typer(rules_app, name="rules")

if __name__ == "__main__":
    app()
