"""The analyst notebooks: paired with their scripts, stored without outputs, and they run."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from tests import notebook_demo

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_the_three_notebooks_exist() -> None:
    assert [p.stem for p in SCRIPTS] == [
        "01_learned_vs_hand_weighted",
        "02_what_drives_conversion",
        "03_learned_points",
    ]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_matches_its_script_and_has_no_outputs(script: Path) -> None:
    notebook = script.with_suffix(".ipynb")
    assert notebook.exists(), f"run `jupytext --sync {script}` to create {notebook.name}"
    stored = nbformat.read(notebook, as_version=4)
    paired = jupytext.read(script)
    assert [(c.cell_type, c.source) for c in stored.cells] == [
        (c.cell_type, c.source) for c in paired.cells
    ], f"{notebook.name} and {script.name} differ: run `jupytext --sync {script}`"
    for cell in stored.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{notebook.name} holds outputs: clear them before committing"
            )


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_notebook_runs_on_the_synthetic_demo(script: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = notebook_demo.workdir()  # the demo the notebook would otherwise train itself
    for name in ("MODEL", "DATA", "RULES", "FIGURES"):
        monkeypatch.delenv(f"LEADSCORE_NB_{name}", raising=False)
    monkeypatch.setenv("LEADSCORE_NB_WORKDIR", str(workdir))
    monkeypatch.setenv("LEADSCORE_NB_DEMO_LEADS", str(notebook_demo.DEMO_LEADS))
    monkeypatch.setenv("LEADSCORE_NB_SEED", str(notebook_demo.SEED))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(script.with_suffix(".ipynb"), as_version=4)
    # Any cell error raises CellExecutionError naming the cell and the traceback.
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    ).execute()
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 3
    saved = list((workdir / "demo" / "report").glob(f"{script.stem[:2]}_*.png"))
    assert len(saved) >= 3
