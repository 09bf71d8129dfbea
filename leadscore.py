"""`leadscore`: the command-line tool, one sub-command group per stage.

Errors are one line on stderr, never a traceback: `error: ...` (exit 2) for what the user can
fix, which commands say by raising (see `_Commands`), and `internal error: ...` (exit 1) for
bugs. LEADSCORE_DEBUG=1 lets every exception through with its traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer
from typer.core import TyperGroup

from features.cli import data_app, features_app
from serving.cli import score, serve, store_app, webhooks_app
from training.analysis.cli import rules_app
from training.cli import train
from training.inspection.cli import inspect
from training.quickstart import quickstart
from training.registry.cli import models_app

DEBUG_ENV = "LEADSCORE_DEBUG"
# Exception classes defined in these packages are raised for the user to read.
_OWN_PACKAGES = frozenset({"features", "runtime", "serving", "training"})


def _debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def _say(message: str) -> None:
    # One line whatever the message: a report or a pydantic error may span several.
    lines = (line.strip() for line in message.splitlines())
    typer.echo("; ".join(line for line in lines if line), err=True)


def _for_the_user(error: Exception) -> bool:
    """Our own errors, and ValueError/LookupError (their messages say what to change). KeyError
    and IndexError are lookups inside the code, i.e. bugs."""
    if isinstance(error, KeyError | IndexError):
        return False
    own = type(error).__module__.partition(".")[0] in _OWN_PACKAGES
    return own or isinstance(error, ValueError | LookupError)


class _Commands(TyperGroup):
    """Every command runs inside this group's `invoke`: an error meant for the user becomes one
    line and exit code 2, here rather than in each command, and under `CliRunner` too."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except typer.BadParameter as exc:
            _say(f"error: {exc.format_message()}")
        except Exception as exc:
            if _debugging() or not _for_the_user(exc):
                raise
            _say(f"error: {exc}")
        raise typer.Exit(2)


class _Leadscore(typer.Typer):
    """The last resort of the installed `leadscore` script: whatever escapes a command is one
    line, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if _debugging():
                raise
            if isinstance(exc, OSError):  # a missing file, a permission, a full disk
                _say(f"error: {exc}")
                sys.exit(2)
            _say(
                f"internal error: {type(exc).__name__}: {exc} — rerun with {DEBUG_ENV}=1 for "
                "the traceback"
            )
            sys.exit(1)


app = _Leadscore(
    name="leadscore",
    help="Predictive lead scoring: synthesise or validate data, build point-in-time features, "
    "train calibrated models, serve and score leads.",
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
data_app.command("inspect")(inspect)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.command("train")(train)
app.add_typer(models_app, name="models")
app.command("quickstart")(quickstart)
app.command("serve")(serve)
app.command("score")(score)
app.add_typer(store_app, name="store")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(rules_app, name="rules")

if __name__ == "__main__":
    sys.exit(app())
