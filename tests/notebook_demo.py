"""One synthetic demo (data and a trained model) per test session, shared by the analysis,
learned-points and notebook tests: the same demo the notebooks make for themselves.

Plain cached functions rather than fixtures, so each test module imports what it needs.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from training.analysis.learned_vs_points import LearnedVsPoints, learned_vs_points
from training.analysis.notebook_inputs import (
    NotebookInputs,
    NotebookSettings,
    notebook_inputs,
    train_demo,
)
from training.analysis.scorecard import SuggestedRules, suggest_rules

# Large enough that the learned model has more to go on than the hand-weighted rules (at
# about 10,000 leads it has too few deals to learn from), small enough to train in seconds.
DEMO_LEADS = 20_000
SEED = 42


@cache
def workdir() -> Path:
    """A notebook work directory holding the trained demo (removed when the session ends)."""
    directory = Path(tempfile.mkdtemp(prefix="leadscore-notebook-tests-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    train_demo(directory / "demo", DEMO_LEADS, SEED)
    return directory


def settings(**overrides: object) -> NotebookSettings:
    """Notebook settings for the demo; explicit values win over LEADSCORE_NB_* variables."""
    values = {"model": None, "data": None, "workdir": workdir(), "demo_leads": DEMO_LEADS}
    return NotebookSettings(**(values | {"seed": SEED} | overrides))


@cache
def inputs() -> NotebookInputs:
    return notebook_inputs(settings())


@cache
def comparison() -> LearnedVsPoints:
    demo = inputs()
    return learned_vs_points(demo.contract, demo.model, demo.rules)


@cache
def suggested() -> SuggestedRules:
    demo = inputs()
    return suggest_rules(demo.contract, demo.model, demo.rules)
