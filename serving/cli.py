"""`leadscore serve` (the HTTP service under uvicorn), `leadscore score` (batch scoring of a
table or of the journey store), `leadscore store load` (a contract directory into the store)
and `leadscore webhooks list|redeliver` (the tier-change webhooks kept in the store).
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from runtime.methods import ReasonsMethod
from serving.settings import DEFAULT_MODEL_URI
from serving.store.settings import DEFAULT_STORE_URL, STORE_URL_VARIABLE, without_password

if TYPE_CHECKING:
    import pandas as pd

    from runtime.leads import LeadIn
    from runtime.model import ScoringModel
    from runtime.source import ModelSource
    from serving.store.store import JourneyStore
    from serving.webhooks.outbox import Outbox

# Leads scored, and their scores recorded, together; ids read from the store at a time (each
# read scans every stored id up to the page: fewer, longer pages cost less); and the events
# read per lead, newest first, as the service reads a stored journey
# (LEADSCORE_MAX_EVENTS_PER_LEAD's default).
STORE_BATCH_LEADS = 1_000
STORE_ID_PAGE = 20_000
STORE_MAX_EVENTS = 5_000

store_app = typer.Typer(
    help="The journey store the service scores from: leads, their events, score history.",
    no_args_is_help=True,
)
webhooks_app = typer.Typer(
    help="Tier-change webhooks, as kept in the journey store: subscriptions and deliveries.",
    no_args_is_help=True,
)
Store = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The journey store: sqlite:///FILE or postgresql://USER:PASSWORD@HOST/DB. Default: "
        f"{STORE_URL_VARIABLE}, else {DEFAULT_STORE_URL}.",
    ),
]


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
    store: Annotated[
        str | None,
        typer.Option(
            help="Journey store: sqlite:///FILE, postgresql://USER@HOST/DB, or none. Default: "
            f"LEADSCORE_STORE_URL, else {DEFAULT_STORE_URL}."
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
    if store is not None:
        os.environ[STORE_URL_VARIABLE] = store
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
    typer.echo(
        f"serving {settings.model_uri} on http://{host}:{port} ({settings.mode} mode), "
        f"journey store {without_password(settings.store_url)}"
    )
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
        Path | None,
        typer.Option(
            help="Leads table (Parquet file/directory or CSV): an id column, the attributes "
            "the model was trained on and, for a model that reads journeys, created_at. A "
            "CRM export as the model was trained on it will do. Or --from-store."
        ),
    ] = None,
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
    out: Annotated[
        Path | None,
        typer.Option(
            help="Scores to write: .parquet or .csv. Default: scores.parquet; with --from-store "
            "none (the scores are recorded in the store's history either way)."
        ),
    ] = None,
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
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Score every lead of the journey store (as `leadscore store load` or the "
            "service stored them) instead of a table, and record each score in its history.",
        ),
    ] = False,
    store: Store = None,
) -> None:
    """Score a table of leads, or the journey store's, with the same model and code as the
    service."""
    from features.contract.schema import CREATED_AT, LEAD_ID
    from runtime.source import load_source
    from serving.batch import read_journeys, read_leads, score_leads

    started = time.perf_counter()
    if from_store:
        given = {"--leads": leads, "--events": events, "--id-column": id_column}
        clash = [name for name, value in given.items() if value is not None]
        clash += ["--strict"] if strict else []
        if clash:
            raise typer.BadParameter(
                f"--from-store scores the stored leads, not a table: leave out {', '.join(clash)}",
                param_hint="--from-store",
            )
    elif store is not None:
        raise typer.BadParameter("--store names the store --from-store reads: add --from-store")
    elif leads is None:
        raise typer.BadParameter("give the leads to score: --leads FILE, or --from-store")
    when = _utc(as_of or datetime.now(UTC))
    if from_store:
        opened = open_store(store, must_exist=True)  # before the model: it fails sooner
        try:
            scoring_model, source = load_source(model)
            _score_store(
                scoring_model,
                source,
                opened,
                when,
                out,
                hint_as_of=as_of is None,
                reasons=reasons,
                method=reasons_method,
                started=started,
            )
        finally:
            opened.close()
        return
    scoring_model, source = load_source(model)
    out = out or Path("scores.parquet")
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
    if as_of is None and uses_journeys:
        _hint_as_of(lead_table[CREATED_AT].max(), when, scoring_model.spec.metadata.horizon_days)
    scores = score_leads(
        scoring_model, lead_table, journeys, when, reasons=reasons, method=reasons_method
    )
    _write_scores(scores, out)
    tiers = scores["tier"].value_counts().to_dict()
    typer.echo(f"{_scored(len(scores), when, source, started)}: {tiers} -> {out}")


def _score_store(
    model: ScoringModel,
    source: ModelSource,
    store: JourneyStore,
    when: datetime,
    out: Path | None,
    *,
    hint_as_of: bool,
    reasons: bool,
    method: ReasonsMethod,
    started: float,
) -> None:
    """Score every stored lead in batches, record each score in its history (trigger
    "batch") with the webhook deliveries of the tier changes (scored as of now only), and
    write them to `out` if given, as `leadscore score` writes a table's."""
    import pandas as pd

    from serving.store.inputs import stored_inputs
    from serving.store.webhooks import WebhookStore
    from serving.webhooks.outbox import Outbox

    # Scored as of now (no --as-of): a tier change is news for the webhooks; as of another
    # time, it is a backfill, recorded without notifying anyone.
    outbox = Outbox(WebhookStore(store.engine)) if hint_as_of else None

    total = store.count_leads()
    if not total:
        raise ValueError(
            f"the journey store {store.description} holds no leads: load some with "
            "`leadscore store load --data DIR`, or name another store with --store"
        )
    uses_journeys = model.spec.pipeline.use_behaviour
    unused = set(model.spec.pipeline.attributes.sources)  # sources no scored lead has
    frames, tiers, unscorable, shortened = [], Counter(), [], 0
    newest: datetime | None = None
    with _progress({"leads": total}) as advance:
        for ids in _batches(store.lead_ids(STORE_ID_PAGE), STORE_BATCH_LEADS):
            leads = []
            for stored in stored_inputs(store, ids, when, max_events=STORE_MAX_EVENTS):
                lead = stored.lead
                # The service refuses such a lead too: a journey model needs its age.
                if lead.created_at is None and (uses_journeys or not lead.attributes):
                    unscorable.append(lead.lead_id)
                    continue
                leads.append(lead)
                shortened += stored.left_out > 0
                unused -= {name for name, value in lead.attributes.items() if value is not None}
                if lead.created_at and (newest is None or lead.created_at > newest):
                    newest = lead.created_at
            if leads:
                scores = _score_and_record(
                    model, source, store, leads, when, reasons, method, outbox
                )
                tiers.update(scores["tier"])
                if out is not None:
                    frames.append(scores)
            advance("leads", len(ids))
    scored = sum(tiers.values())
    if unscorable:
        why = (
            "no created_at (this model reads journeys, and time since creation is one of its "
            "features)"
            if uses_journeys
            else "no record (only events)"
        )
        what = f"{len(unscorable):,} of {total:,} stored leads not scored: {why}"
        advice = "store their records with created_at (`leadscore store load`)"
        if not scored:
            raise ValueError(f"{what}, e.g. {unscorable[:5]}; {advice}")
        typer.echo(f"warning: {what}, e.g. {unscorable[:5]}; {advice}", err=True)
    if shortened:
        typer.echo(
            f"note: {shortened:,} leads have more than {STORE_MAX_EVENTS:,} stored events before "
            f"{when.isoformat()}: their newest {STORE_MAX_EVENTS:,} were scored, as the service "
            "scores them",
            err=True,
        )
    if unused:
        typer.echo(
            f"warning: no scored lead has a value for {sorted(unused)}, which the model uses: "
            "all were scored as if those values were unknown; store them (names as in training)",
            err=True,
        )
    if hint_as_of and uses_journeys:
        _hint_as_of(newest, when, model.spec.metadata.horizon_days)
    written = ""
    if out is not None:
        _write_scores(pd.concat(frames, ignore_index=True), out)
        written = f" -> {out}"
    typer.echo(
        f"{_scored(scored, when, source, started)}: {dict(tiers.most_common())}{written}; "
        f"recorded in the score history of {store.description}"
    )


def _batches(pages: Iterator[list[str]], size: int) -> Iterator[list[str]]:
    for page in pages:
        for start in range(0, len(page), size):
            yield page[start : start + size]


def _score_and_record(
    model: ScoringModel,
    source: ModelSource,
    store: JourneyStore,
    leads: list[LeadIn],
    when: datetime,
    reasons: bool,
    method: ReasonsMethod,
    outbox: Outbox | None,
) -> pd.DataFrame:
    """Score stored leads as `leadscore score` scores a table's, and append each score to
    the lead's history, with the deliveries `outbox` makes of the tier changes."""
    import pandas as pd

    from features.contract.schema import LEAD_ID
    from serving.batch import score_records
    from serving.store.store import ScoreRecord

    scores = score_records(model, leads, when, reasons=reasons, method=method)
    scored_at = datetime.now(UTC)
    model_ref = {"name": source.name, "version": source.version, "alias": source.alias}
    answers = [
        {
            "lead_id": row[LEAD_ID],
            "probability": float(row["probability"]),
            "score": int(row["score"]),
            "tier": row["tier"],
            "fit": None if pd.isna(row["fit"]) else int(row["fit"]),
            "engagement": None if pd.isna(row["engagement"]) else int(row["engagement"]),
            "grade": None if pd.isna(row["grade"]) else str(row["grade"]),
            "reasons": row["reasons"] if reasons else [],
            "model": model_ref,
            "as_of": when,
            "scored_at": scored_at,
        }
        for row in scores.to_dict("records")
    ]
    records = [
        ScoreRecord(
            lead_id=a["lead_id"],
            scored_at=scored_at,
            as_of=when,
            probability=a["probability"],
            score=a["score"],
            tier=a["tier"],
            model_name=source.name,
            model_version=source.version,
            trigger="batch",
            fit=a["fit"],
            engagement=a["engagement"],
            grade=a["grade"],
        )
        for a in answers
    ]
    store.record_scores(
        records, outbox.for_answers(answers, "batch", scored_at) if outbox else None
    )
    return scores


def _scored(n: int, when: datetime, source: ModelSource, started: float) -> str:
    return (
        f"scored {n:,} leads as of {when.isoformat()} with {source.name} version "
        f"{source.version or '-'} ({source.uri}) in {time.perf_counter() - started:.1f}s"
    )


def _write_scores(scores: pd.DataFrame, out: Path) -> None:
    """The scores as `leadscore score` writes them: reasons as JSON text in a CSV file."""
    import orjson

    if out.suffix.lower() == ".csv" and "reasons" in scores:
        scores = scores.assign(reasons=[orjson.dumps(r).decode() for r in scores["reasons"]])
    _write_atomically(scores, out)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@store_app.command("load")
def load(
    data: Annotated[
        Path,
        typer.Option(
            help="Contract data directory: leads.parquet, and optionally events/ or "
            "events.parquet (as `leadscore data synth --out` and `data validate --out` write "
            "it, and `leadscore train --data` reads it), or the same tables as leads.csv and "
            "events.csv in any separator and encoding. Outcomes are not stored."
        ),
    ],
    store: Store = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="YAML mapping the tables' column names, event types and timestamp layouts "
            "onto the contract, as for `leadscore data validate --mapping`."
        ),
    ] = None,
    mode: Annotated[
        Literal["strict", "quarantine"],
        typer.Option(
            help="strict: store nothing if any row is malformed (the error names it). "
            "quarantine: set malformed rows aside with a reason, store the rest."
        ),
    ] = "strict",
    quarantine_dir: Annotated[
        Path,
        typer.Option(help="Where quarantine mode writes <table>.csv of the rows set aside."),
    ] = Path("quarantine"),
) -> None:
    """Load a contract directory into the journey store (loading again stores nothing twice).

    Every lead's created_at and attributes, and every event. Malformed rows are found as
    `leadscore data validate` finds them: they fail the load before anything is stored, or
    with --mode quarantine are set aside with their reasons; none is dropped silently."""
    from features.contract.mapping import ExportMapping
    from serving.batch import contract_tables, load_into_store

    started = time.perf_counter()
    check_store_url(store, must_exist=False)  # a wrong URL fails before the tables are read
    export_mapping = None
    if mapping is not None:
        if not mapping.is_file():
            raise typer.BadParameter(f"{mapping}: no such file", param_hint="--mapping")
        export_mapping = ExportMapping.from_yaml(mapping)
    try:
        tables = contract_tables(data, export_mapping, mode)
    except FileNotFoundError as exc:
        raise typer.BadParameter(str(exc), param_hint="--data") from None
    for note in tables.notes:
        typer.echo(f"note: {note}")
    for problem in tables.problems:
        typer.echo(f"quarantined: {problem}")
    for name in tables.sources if mode == "quarantine" else ():
        path = quarantine_dir / f"{name}.csv"
        if name not in tables.quarantined:
            path.unlink(missing_ok=True)  # a stale file from an earlier load would mislead
            continue
        quarantine_dir.mkdir(parents=True, exist_ok=True)
        tables.quarantined[name].to_csv(path, index=False)
        typer.echo(f"quarantined {name} rows, with a 'reason' column: {path}")
    opened = open_store(store, must_exist=False)
    try:
        with _progress({"leads": len(tables.leads), "events": len(tables.events)}) as advance:
            counts = load_into_store(opened, tables, advance=advance)
    finally:
        opened.close()
    events = f"{counts.events:,} events"
    if counts.events:
        old = counts.events - counts.new_events
        events += f" ({counts.new_events:,} new, {old:,} already stored)"
    typer.echo(
        f"stored {counts.leads:,} leads ({counts.new_leads:,} new) and {events} in "
        f"{opened.description} ({time.perf_counter() - started:.1f}s)"
    )


@webhooks_app.command("list")
def list_webhooks(store: Store = None) -> None:
    """List the subscriptions and their deliveries: pending, delivered, parked.

    One line per subscription: its id, URL, transitions and how many of its deliveries are
    in each state. Secrets are not shown."""
    from serving.store.webhooks import WebhookStore

    opened = open_store(store, must_exist=True)
    try:
        webhooks = WebhookStore(opened.engine)
        subscriptions, counts = webhooks.subscriptions(), webhooks.counts()
    finally:
        opened.close()
    if not subscriptions:
        typer.echo(
            f"no webhooks in {opened.description}: subscribe with POST /v1/webhooks (admin key)"
        )
        return
    typer.echo(f"{len(subscriptions):,} webhook(s) in {opened.description}:")
    for s in subscriptions:
        n = counts.get(s.webhook_id, {})
        about = f" ({s.description})" if s.description else ""
        typer.echo(
            f"{s.webhook_id}  {s.url}{about}  [{', '.join(s.transitions)}]  "
            f"pending {n.get('pending', 0):,}, delivered {n.get('delivered', 0):,}, "
            f"parked {n.get('parked', 0):,}"
        )


@webhooks_app.command("redeliver")
def redeliver(
    webhook: Annotated[
        str | None,
        typer.Option(help="Only this subscription's parked deliveries (ids: webhooks list)."),
    ] = None,
    delivery: Annotated[
        list[str] | None,
        typer.Option(
            help="Only this parked delivery (its id, as in the Leadscore-Delivery header); "
            "repeat for several."
        ),
    ] = None,
    store: Store = None,
) -> None:
    """Send parked deliveries again: every one, one subscription's, or those named.

    They are queued in the store from a first attempt; running services send them within a
    second (they poll the store), so no service need be reachable from here."""
    from serving.store.webhooks import WebhookStore

    named = list(dict.fromkeys(delivery or ()))
    opened = open_store(store, must_exist=True)
    try:
        webhooks = WebhookStore(opened.engine)
        if webhook is not None and all(s.webhook_id != webhook for s in webhooks.subscriptions()):
            raise typer.BadParameter(
                f"no webhook {webhook!r} in {opened.description}: `leadscore webhooks list` "
                "shows them",
                param_hint="--webhook",
            )
        queued = webhooks.redeliver(datetime.now(UTC), webhook, named)
    finally:
        opened.close()
    line = f"queued {queued:,} parked {'delivery' if queued == 1 else 'deliveries'} of "
    if named:
        line += f"the {len(named):,} named"
        line += f" (of webhook {webhook})" if webhook else ""
        if queued < len(named):
            line += f" ({len(named) - queued:,} not parked, or unknown)"
    else:
        line += f"webhook {webhook}" if webhook else "every webhook"
    typer.echo(f"{line} in {opened.description}")


def open_store(explicit: str | None, *, must_exist: bool) -> JourneyStore:
    """The journey store `--store` (else LEADSCORE_STORE_URL, else the default) names, opened
    and migrated; what is wrong with it is one line naming where the URL came from.

    `must_exist`: a SQLite file that is not there is an error (reading commands create no
    empty store); otherwise its directory is made."""
    import sqlalchemy as sa

    from serving.store.store import JourneyStore

    url, shown, where = check_store_url(explicit, must_exist=must_exist)
    database = sa.engine.make_url(url).database
    if url.startswith("sqlite") and database not in (None, "", ":memory:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    try:
        return JourneyStore.open(url)
    except (sa.exc.SQLAlchemyError, ImportError, OSError) as exc:
        first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"cannot open the journey store {shown} (from {where}): {first}; check the URL, "
            "and that the database runs and this user may create tables in it"
        ) from exc


def check_store_url(explicit: str | None, *, must_exist: bool) -> tuple[str, str, str]:
    """The store's URL, as shown (no password), and where it came from; a URL the store
    cannot use (or, with `must_exist`, a SQLite file that is not there) is an error. Cheap:
    commands check it before reading their inputs, and write nothing if it is wrong."""
    from serving.store.engine import parse_store_url
    from serving.store.settings import store_url

    url = store_url(explicit)
    where = (
        "--store"
        if explicit
        else STORE_URL_VARIABLE
        if os.environ.get(STORE_URL_VARIABLE)
        else f"the default store ({STORE_URL_VARIABLE} is not set)"
    )
    try:
        parsed = parse_store_url(url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=where) from None
    shown = parsed.render_as_string(hide_password=True)
    missing = parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file()
    if must_exist and missing and parsed.database not in (None, "", ":memory:"):
        raise typer.BadParameter(
            f"no journey store at {parsed.database}: load leads into it first with `leadscore "
            f"store load --data DIR`, or name the store with --store or {STORE_URL_VARIABLE}",
            param_hint=where,
        )
    return url, shown, where


@contextmanager
def _progress(totals: dict[str, int]) -> Iterator[Callable[[str, int], None]]:
    """A progress bar per name on a terminal (stderr), nothing elsewhere; yields
    `advance(name, done)`."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    columns = (
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, disable=not console.is_terminal) as progress:
        tasks = {name: progress.add_task(name, total=total) for name, total in totals.items()}
        yield lambda name, done: progress.advance(tasks[name], done)


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


def _hint_as_of(newest: datetime | None, now: datetime, horizon_days: float) -> None:
    """One line when even the newest lead is older than the model's horizon: scored as of now,
    old leads read as long gone cold ("created 9 years ago"), which is rarely what was meant."""
    import pandas as pd

    if newest is None or pd.isna(newest):
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
