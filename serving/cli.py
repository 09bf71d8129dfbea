"""`leadscore serve` (the HTTP service under uvicorn) and `leadscore score` (batch scoring)."""

from __future__ import annotations

import ipaddress
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runtime.methods import ReasonsMethod
from serving.settings import DEFAULT_MODEL_URI

if TYPE_CHECKING:
    import pandas as pd

    from runtime.model import ScoringModel


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 for every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model to serve: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model or a "
            f"directory. Default: LEADSCORE_MODEL_URI, else {DEFAULT_MODEL_URI}."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Processes; each loads its own copy of the model.")
    ] = 1,
    mode: Annotated[
        str | None,
        typer.Option(
            help="production (API keys required) or development (keys optional, loopback "
            "only without keys). Default: LEADSCORE_MODE, else production."
        ),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs latency).")] = False,
) -> None:
    """Serve the scoring API (POST /v1/score, /v1/score/batch; docs at /docs)."""
    import uvicorn
    from pydantic import ValidationError

    from serving.settings import ServiceSettings

    # Workers are separate processes that read their settings from the environment.
    if model is not None:
        os.environ["LEADSCORE_MODEL_URI"] = model
    if mode is not None:
        os.environ["LEADSCORE_MODE"] = mode
    try:
        settings = ServiceSettings()
    except ValidationError as exc:
        raise typer.BadParameter(_first_message(exc), param_hint="settings") from exc
    if not settings.auth_required and not _is_loopback(host):
        raise typer.BadParameter(
            f"development mode without API keys listens on loopback only, not {host}: set "
            "LEADSCORE_API_KEYS, or use --host 127.0.0.1.",
            param_hint="--host",
        )
    typer.echo(f"serving {settings.model_uri} on http://{host}:{port} ({settings.mode} mode)")
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop" if _has("uvloop") else "auto",
        http="httptools" if _has("httptools") else "auto",
        access_log=access_log,
        log_level="info",
    )


def score(
    leads: Annotated[
        Path,
        typer.Option(
            help="Leads table (Parquet file/directory or CSV): an id column, the attributes "
            "the model was trained on and, for a model that reads journeys, created_at. A "
            "CRM export as the model was trained on it will do."
        ),
    ],
    id_column: Annotated[
        str | None,
        typer.Option(
            help="The leads table's id column. Default: the one the model was trained with "
            "(lead_id for contract tables)."
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(help="Events table (lead_id, occurred_at, event_type): Parquet or CSV."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Scores to write: .parquet or .csv.")] = Path(
        "scores.parquet"
    ),
    as_of: Annotated[
        datetime | None,
        typer.Option(help="Score as of this time (UTC if no zone is given); default: now."),
    ] = None,
    model: Annotated[
        str,
        typer.Option(help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/ID/model or a dir."),
    ] = DEFAULT_MODEL_URI,
    reasons: Annotated[
        bool, typer.Option(help="Add the reasons column (top positive and negative reasons).")
    ] = False,
    reasons_method: Annotated[
        ReasonsMethod, typer.Option(help="path (fast) or shap (exact TreeSHAP, slower).")
    ] = ReasonsMethod.PATH,
    strict: Annotated[
        bool,
        typer.Option(
            help="Refuse a leads table that lacks (or leaves empty) a column the model uses, "
            "instead of warning and scoring those values as unknown."
        ),
    ] = False,
) -> None:
    """Score a table of leads with the same model and code as the service."""
    import orjson

    from features.contract.schema import LEAD_ID
    from runtime.source import load_source
    from serving.batch import read_journeys, read_leads, score_leads

    started = time.perf_counter()
    scoring_model, source = load_source(model)
    uses_journeys = scoring_model.spec.pipeline.use_behaviour
    model_ids = scoring_model.spec.metadata.id_column
    # A model trained on an export without ids (rows numbered) scores rows the same way.
    number_rows = not uses_journeys and id_column is None and model_ids == LEAD_ID
    read = read_leads(
        leads, id_column or model_ids, created_at=uses_journeys, number_rows=number_rows
    )
    lead_table = read.leads
    if read.numbered:
        typer.echo(f"note: {leads} has no {LEAD_ID} column: rows are numbered row_1, row_2, ...")
    _check_columns(scoring_model, lead_table, leads, strict)
    journeys = None
    if uses_journeys:
        if events is None:
            raise typer.BadParameter("this model uses behaviour features: pass --events")
        journeys = read_journeys(events, lead_table["lead_id"].to_numpy())
    when = as_of or datetime.now(UTC)
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    if as_of is None and uses_journeys:
        _hint_as_of(lead_table, when, scoring_model.spec.metadata.horizon_days)
    scores = score_leads(
        scoring_model, lead_table, journeys, when, reasons=reasons, method=reasons_method
    )
    if out.suffix.lower() == ".csv" and reasons:
        scores["reasons"] = [orjson.dumps(r).decode() for r in scores["reasons"]]
    _write_atomically(scores, out)
    tiers = scores["tier"].value_counts().to_dict()
    typer.echo(
        f"scored {len(scores):,} leads as of {when.isoformat()} with {source.name} "
        f"version {source.version or '-'} ({source.uri}) in {time.perf_counter() - started:.1f}s: "
        f"{tiers} -> {out}"
    )


def _check_columns(model: ScoringModel, table: pd.DataFrame, path: Path, strict: bool) -> None:
    """Warn (or, with --strict, refuse) when the model's columns are missing or all empty."""
    from serving.batch import unusable_columns

    unusable = unusable_columns(model, table)
    if not unusable:
        return
    what = (
        f"{path} lacks or leaves empty {len(unusable)} column(s) the model uses ({unusable}): "
        f"all {len(table):,} leads are scored as if those values were unknown"
    )
    if strict:
        raise ValueError(f"{what}; add the columns (names as in training), or drop --strict")
    typer.echo(f"warning: {what}; add them, or pass --strict to refuse such a file", err=True)


def _hint_as_of(leads: pd.DataFrame, now: datetime, horizon_days: float) -> None:
    """One line when even the newest lead is older than the model's horizon: scored as of now,
    old leads read as long gone cold ("created 9 years ago"), which is rarely what was meant."""
    import pandas as pd

    from features.contract.schema import CREATED_AT

    newest = leads[CREATED_AT].max()
    if pd.isna(newest):
        return
    age_days = (now - newest).days
    if age_days > horizon_days:
        typer.echo(
            f"hint: the newest lead was created {age_days:,} days ago: scoring as of now; pass "
            "--as-of <date> to score them as of when they were fresh",
            err=True,
        )


def _write_atomically(scores: pd.DataFrame, out: Path) -> None:
    """Write CSV or Parquet into a temporary file beside `out`, then rename it: a failed write
    leaves no half-written file, and the rename never crosses a file system."""
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(handle)
    partial = Path(name)
    try:
        if out.suffix.lower() == ".csv":
            scores.to_csv(partial, index=False)
        else:
            scores.to_parquet(partial, index=False)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def _first_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", lambda: [])()
    return errors[0]["msg"].removeprefix("Value error, ") if errors else str(exc)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None
