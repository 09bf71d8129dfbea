"""Every way a command is fed a bad file, path or model ends in one line on stderr that names
it and says what to do, a non-zero exit, no traceback, and nothing written.

The real `leadscore` runs in a subprocess per case, all cases at once (a process costs a second
or two of imports), each in its own directory holding only its inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.serving_fixtures import make_model, synthetic_leads

EVENTS = b"lead_id,occurred_at,event_type\n"
OUTCOMES = b"lead_id,milestone,occurred_at\n"
NO_REGISTRY = "no MLflow registry at"


@dataclass(frozen=True)
class Case:
    """A command run in a directory holding `files`; `{shared}` in an argument is the directory
    of the good leads, events and model."""

    args: tuple[str, ...]
    files: dict[str, bytes]
    says: tuple[str, ...]  # each is in the error line


def _score(*args: str, says: tuple[str, ...], **files: bytes) -> Case:
    # The shared leads and model unless the case brings its own.
    leads = "leads.csv" if "leads.csv" in files else "{shared}/leads.csv"
    model = () if "--model" in args else ("--model", "{shared}/model")
    command = ("score", "--leads", leads, *model, "--out", "scores.csv", *args)
    return Case(command, files, says)


def _validate(says: tuple[str, ...], **files: bytes) -> Case:
    tables = {"leads": "{shared}/leads.csv", "events": "{shared}/events.csv", "outcomes": "o.csv"}
    tables |= {name.removesuffix(".csv"): name for name in files if name != "o.csv"}
    args = [f"--{table}={path}" for table, path in tables.items()]
    return Case(
        ("data", "validate", *args, "--out", "clean"),
        {"o.csv": OUTCOMES} | files,
        says,
    )


SEMICOLONS = b"lead_id;occurred_at;event_type\nL1-0;2025-01-01;demo_request\n"
# The table reader is shared: its own failures are run through `data validate`, the command
# that loads neither LightGBM nor MLflow (a second per case less).
CASES = {
    "score: binary events file": _score(
        "--events", "events.csv", says=("events.csv", "not a text file"),
        **{"events.csv": b"PK\x03\x04\x00\x00" + SEMICOLONS},
    ),
    "score: events without occurred_at": _score(
        "--events", "events.csv", says=("events.csv", "occurred_at"),
        **{"events.csv": b"lead_id,event_type\nL1-0,demo_request\n"},
    ),
    "score: events of unknown leads": _score(
        "--events", "events.csv", says=("events.csv:3", "'nobody'", "leads table"),
        **{"events.csv": EVENTS + b"L1-0,2025-01-01,email_open\nnobody,2025-01-01,email_open\n"},
    ),
    "score: unparseable time": _score(
        "--events", "events.csv", says=("events.csv:2", "'yesterday'", "ISO 8601"),
        **{"events.csv": EVENTS + b"L1-0,yesterday,email_open\n"},
    ),
    "score: no events file": _score(
        "--events", "events.parquet", says=("events.parquet", "No files found")
    ),
    "score: header-only leads": _score(
        "--events", "{shared}/events.csv", says=("leads.csv", "no rows"),
        **{"leads.csv": b"lead_id,created_at,job_title\n"},
    ),
    "score: no model at the path": _score(
        "--model", "models/missing", says=("models/missing", "leadscore models export")
    ),
    "score: registry model without a registry": _score(
        "--model", "models:/lead-conversion@champion", says=(NO_REGISTRY, "--model DIR")
    ),
    "score: damaged booster.txt": _score(
        "--model", "model", "--events", "{shared}/events.csv", says=("booster.txt",)
    ),
    "data validate: header-only leads": _validate(
        ("leads.csv", "no rows", "empty_table"), **{"leads.csv": b"lead_id,created_at\n"}
    ),
    "data validate: UTF-16 events": _validate(
        ("events.csv", "UTF-16"), **{"events.csv": SEMICOLONS.decode().encode("utf-16")}
    ),
    "data validate: empty events file": _validate(
        ("events.csv", "empty file"), **{"events.csv": b""}
    ),
    "data validate: events on one huge line": _validate(
        ("events.csv", "longer than", "one record per line"),
        **{"events.csv": EVENTS + b"L1-0," * (1 << 19)},
    ),
    "data validate: huge line without a line break": _validate(
        ("leads.csv", "longer than"), **{"leads.csv": b"x" * (3 << 19)}
    ),
    "features build: header-only leads": Case(
        ("features", "build", "--leads", "leads.csv", "--events", "{shared}/events.csv",
         "--outcomes", "o.csv", "--out", "set.parquet"),
        {"leads.csv": b"lead_id,created_at\n", "o.csv": OUTCOMES},
        ("leads.csv", "no rows"),
    ),
    "train --flat: target values not a known pair": Case(
        ("train", "--flat", "crm.csv", "--target-column", "Converted", "--out", "report"),
        {"crm.csv": b"Lead ID;Converted;Source\n1;maybe;web\n2;no;ads\n"},
        ("crm.csv", "not a known pair", "['maybe', 'no']", "--positive-value"),
    ),
    "train --flat: header-only export": Case(
        ("train", "--flat", "crm.csv", "--id-column", "Lead ID", "--target-column", "Converted",
         "--out", "report"),
        {"crm.csv": b"Lead ID,Converted,Source\n"},
        ("crm.csv", "no rows with a value in 'Converted'"),
    ),
    "train --data: not a contract directory": Case(
        ("train", "--data", "nowhere", "--out", "report"), {}, ("nowhere", "leadscore data synth"),
    ),
    "rules suggest: registry model without a registry": Case(
        ("rules", "suggest", "--model", "models:/lead-conversion/1", "--data", "{shared}",
         "--out", "rules.yaml"),
        {}, (NO_REGISTRY,),
    ),
    "models list: no registry": Case(("models", "list"), {}, (NO_REGISTRY, "leadscore train")),
    "models promote: no registry": Case(("models", "promote", "--force"), {}, (NO_REGISTRY,)),
    "models export: no registry": Case(
        ("models", "export", "--out", "exported"), {}, (NO_REGISTRY,),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Ran:
    case: Case
    returncode: int
    stderr: str
    written: set[str]  # files in the case's directory that it did not start with


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ran]:
    root = tmp_path_factory.mktemp("cli-errors")
    shared = root / "shared"
    shared.mkdir()
    leads, events = synthetic_leads(20, seed=1)
    leads.to_csv(shared / "leads.csv", index=False)
    events.to_csv(shared / "events.csv", index=False)
    make_model(seed=4, n_leads=600, rounds=5).save(shared / "model")
    # The default registry, sqlite:///mlflow.db, is then the one in each case's directory.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LEADSCORE_"))}

    def run(name: str, case: Case) -> Ran:
        cwd = root / name.replace(" ", "_").replace(":", "").replace(";", "semicolon")
        cwd.mkdir()
        for file, content in case.files.items():
            (cwd / file).write_bytes(content)
        if name == "score: damaged booster.txt":
            booster = shutil.copytree(shared / "model", cwd / "model") / "booster.txt"
            text = booster.read_bytes()
            booster.write_bytes(text[: len(text) * 2 // 5])
        before = {str(p.relative_to(cwd)) for p in cwd.rglob("*")}
        args = [a.replace("{shared}", str(shared)) for a in case.args]
        done = subprocess.run(
            [sys.executable, "-m", "leadscore", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        after = {str(p.relative_to(cwd)) for p in cwd.rglob("*")}
        return Ran(case, done.returncode, done.stderr, after - before)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(run, name, case) for name, case in CASES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_input_is_one_line_that_names_it_and_writes_nothing(
    ran: dict[str, Ran], name: str
) -> None:
    result = ran[name]
    lines = result.stderr.rstrip("\n").splitlines()
    assert result.returncode != 0, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in result.case.says:
        assert text in lines[0]
    assert "Traceback" not in result.stderr
    assert not result.written, f"left behind: {sorted(result.written)}"
