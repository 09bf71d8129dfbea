"""`leadscore data ...` and `leadscore features ...` commands."""

from __future__ import annotations

import typer

data_app = typer.Typer(
    help="Create and check lead data: synthetic journeys, validation.", no_args_is_help=True
)
features_app = typer.Typer(
    help="Build point-in-time training sets from leads, events and outcomes.", no_args_is_help=True
)
