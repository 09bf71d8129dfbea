"""`leadscore data inspect`: profile exports, then write the configuration that trains on them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def inspect(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="One CRM export with a conversion column (for `train --flat`), or a leads "
            "table first and its won-deals (and events) tables after it (for `data validate`)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Configuration to write. Default: flat.yaml, or mapping.yaml."),
    ] = None,
    data_out: Annotated[
        Path, typer.Option(help="Where the written commands put the validated journey data.")
    ] = Path("data/clean"),
    sep: Annotated[
        str | None, typer.Option(help="CSV separator, e.g. ';'. Default: detected.")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="CSV encoding, e.g. cp1252. Default: detected.")
    ] = None,
) -> None:
    """Profile exports (separator, encoding, column kinds, id/outcome/date candidates, date
    layouts, possible leaks) and write a ready-to-edit configuration for training on them."""
    from training.inspection.configs import flat_suggestion, journey_suggestion
    from training.inspection.profile import describe, profile_table

    profiles = [profile_table(f, delimiter=sep, encoding=encoding) for f in files]
    for profile in profiles:
        typer.echo("\n".join(describe(profile)))
    if len(profiles) == 1:
        target = out or Path("flat.yaml")
        suggestion = flat_suggestion(profiles[0], target)
    else:
        target = out or Path("mapping.yaml")
        suggestion = journey_suggestion(profiles, target, data_out)
    suggestion.write(target)
    typer.echo(f"\nwrote {target}; check:")
    for check in suggestion.checks:
        typer.echo(f"  - {check}")
    typer.echo("then run:")
    for command in suggestion.commands:
        typer.echo(f"  {command}")
