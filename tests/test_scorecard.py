"""Learned points: the table ranks held-out leads, is the file it writes, and the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from features.points import PointsRules
from leadscore import app
from tests import notebook_demo
from training.analysis.heldout import model_rows
from training.analysis.notebook_inputs import notebook_inputs
from training.analysis.scorecard import (
    LEARNED_POINTS,
    ScorecardConfig,
    actions_side_by_side,
    rules_to_yaml,
    suggest_rules,
)
from training.baseline import points_on_rows
from training.report import POINTS


@pytest.mark.slow  # trains the demo model once per session
def test_learned_points_rank_held_out_leads_at_least_as_well_as_the_hand_weighted_rules() -> None:
    suggested = notebook_demo.suggested()
    assert suggested.auc(LEARNED_POINTS) >= suggested.auc(POINTS)
    # A simplification of the model: close to it, and it tracks the model's own scores.
    assert suggested.auc(LEARNED_POINTS) > suggested.auc("learned model") - 0.03
    assert suggested.fidelity > 0.8


@pytest.mark.slow  # trains the demo model once per session
def test_the_written_file_is_the_table_that_was_measured(tmp_path: Path) -> None:
    demo, suggested = notebook_demo.inputs(), notebook_demo.suggested()
    path = tmp_path / "learned.yaml"
    path.write_text(suggested.to_yaml(model_name="demo"))
    loaded = PointsRules.from_yaml(path)
    assert loaded == suggested.rules
    built = model_rows(demo.contract, demo.model)
    held_out = built.rows[built.held_out]
    rescored = points_on_rows(loaded, demo.contract.leads, demo.contract.journeys, held_out)
    np.testing.assert_allclose(rescored.total, suggested.held_out_points)
    assert loaded.thresholds.sql > loaded.thresholds.mql
    assert all(float(rule.points).is_integer() for rule in loaded.actions.values())
    # Minus points where the model sees non-intent, plus points for a hand-raise.
    assert loaded.actions["demo_request"].points > 0
    assert min(loaded.fit.department.values()) < 0
    side_by_side = actions_side_by_side(demo.rules, loaded).set_index("action")
    assert side_by_side.loc["demo request", "new points"] == loaded.actions["demo_request"].points


@pytest.mark.slow  # trains the demo model once per session
def test_a_fixed_scale_sets_the_points_that_double_the_odds() -> None:
    demo = notebook_demo.inputs()
    suggested = suggest_rules(
        demo.contract, demo.model, demo.rules, ScorecardConfig(points_to_double_odds=10, rounds=1)
    )
    assert "10 points double" in suggested.rules.description
    on_rules_scale = notebook_demo.suggested().rules.actions["demo_request"].points
    assert suggested.rules.actions["demo_request"].points < on_rules_scale


def test_rules_to_yaml_writes_the_rules_format_back() -> None:
    rules = PointsRules.default()
    text = rules_to_yaml(rules, ["a header"])
    assert text.startswith("# a header\n")
    assert "  demo_request: {points: 40, half_life_days: 30}\n" in text
    assert PointsRules.from_dict(yaml.safe_load(text)) == rules


@pytest.mark.slow  # trains the demo model once per session
def test_rules_suggest_command_writes_a_loadable_file(tmp_path: Path) -> None:
    demo = notebook_demo.workdir() / "demo"
    out = tmp_path / "rules.yaml"
    result = CliRunner().invoke(
        app,
        ["rules", "suggest", "--model", str(demo / "model"), "--data", str(demo / "data"),
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert PointsRules.from_yaml(out).actions
    assert "learned points" in result.output and "ROC AUC" in result.output


@pytest.mark.slow  # trains the demo model once per session
def test_rules_suggest_names_a_bad_rules_file(tmp_path: Path) -> None:
    demo = notebook_demo.workdir() / "demo"
    bad = tmp_path / "old.yaml"
    bad.write_text("thresholds: {mql: 10, sql: 5}\nactions: {}\n")
    result = CliRunner().invoke(
        app,
        ["rules", "suggest", "--model", str(demo / "model"), "--data", str(demo / "data"),
         "--rules", str(bad), "--out", str(tmp_path / "x.yaml")],
    )  # fmt: skip
    assert result.exit_code != 0
    assert "sql (5.0) must be above mql (10.0)" in result.output


@pytest.mark.slow  # trains the demo model once per session
def test_notebook_inputs_want_both_a_model_and_its_data_or_neither() -> None:
    demo = notebook_demo.workdir() / "demo"
    with pytest.raises(ValueError, match="LEADSCORE_NB_MODEL and LEADSCORE_NB_DATA"):
        notebook_inputs(notebook_demo.settings(model=str(demo / "model")))
    given = notebook_inputs(notebook_demo.settings(model=str(demo / "model"), data=demo / "data"))
    assert given.model.spec.metadata.data_fingerprint == (
        notebook_demo.inputs().model.spec.metadata.data_fingerprint
    )
    assert str(demo / "model") in given.source


@pytest.mark.slow  # trains the demo model once per session
def test_notebook_inputs_read_relative_paths_from_the_project_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Jupyter runs a notebook in notebooks/; the user's paths are relative to the project.
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "demo").symlink_to(notebook_demo.workdir() / "demo")
    monkeypatch.chdir(tmp_path / "notebooks")
    given = notebook_inputs(notebook_demo.settings(model="demo/model", data=Path("demo/data")))
    assert len(given.contract.leads) == notebook_demo.DEMO_LEADS
