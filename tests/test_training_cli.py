"""`leadscore train`, the minimum-data check and the optional tuning, end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from features.contract.schema import AS_OF, LEAD_ID
from leadscore import app
from runtime.model import ScoringModel
from tests import training_data
from training.audit.leakage import KEEP_OPTION
from training.minimum_data import AUTO_SPLIT_OPTION, InsufficientDataError
from training.split import SplitConfig, time_split
from training.train import split_by_time, train_model
from training.tune import TuneConfig, tune_params

runner = CliRunner()


@pytest.mark.slow
def test_train_from_a_data_directory_writes_report_and_exports_the_model(tmp_path):
    out, export = tmp_path / "report", tmp_path / "models" / "demo"
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(training_data.data_dir()),
            "--out",
            str(out),
            "--export",
            str(export),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| ROC AUC |" in result.output
    assert "learned model | hand-weighted points | oracle" in result.output
    assert f"report: {out / 'report.md'}" in result.output
    report = json.loads((out / "report.json").read_text())
    assert {m["method"] for m in report["comparison"]} == {
        "learned model",
        "hand-weighted points",
        "oracle",
    }
    for name in ("report.md", "roc.png", "reliability.png", "gain.png", "feature_importance.png"):
        assert (out / name).stat().st_size > 0
    markdown = (out / "report.md").read_text()
    assert "Hand-weighted points with their own thresholds" in markdown
    assert "| sql | 100 |" in markdown  # the shipped rules' SQL threshold, in points
    model = ScoringModel.load(export)
    assert model.spec.metadata.metrics["test_roc_auc"] == pytest.approx(report["test"]["roc_auc"])


@pytest.mark.slow
def test_train_from_a_training_set_file_reads_its_target_and_horizon(tmp_path):
    built = training_data.training_set()
    path = tmp_path / "ts.parquet"
    built.write(path)
    config = tmp_path / "train.yaml"
    config.write_text(
        "tiers:\n  rules:\n    - {name: hot, max_share_per_week: 0.1}\n  last: rest\n"
    )
    result = runner.invoke(
        app, ["train", "--training-set", str(path), "--config", str(config), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "hand-weighted points not compared" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["horizon_days"] == built.report.horizon_days
    assert [t["tier"] for t in report["tiers_test"]] == ["hot", "rest"]


def test_help_explains_every_option():
    result = runner.invoke(app, ["train", "--help"])
    assert result.exit_code == 0
    for option in ("--training-set", "--data", "--rules", "--out", "--export", "--config"):
        assert option in result.output
    for option in ("--force", "--tune", "--tune-trials", KEEP_OPTION, AUTO_SPLIT_OPTION):
        assert option in result.output


def test_a_config_with_an_unknown_key_is_one_line_naming_it(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text("split: {tets: 0.2}\nbooster: {num_leafs: 5}\n")
    result = runner.invoke(
        app, ["train", "--data", str(tmp_path), "--config", str(config)], terminal_width=400
    )
    assert result.exit_code == 2
    [line] = [line for line in result.output.splitlines() if "unknown key" in line]
    assert "unknown key 'split.tets' (known: train_share" in line
    assert "unknown key 'booster.num_leafs' (known: learning_rate, num_leaves" in line


def test_too_little_data_names_what_is_missing_and_the_way_out(tmp_path):
    built = training_data.training_set()
    leads = built.frame[LEAD_ID].unique()
    few = built.frame[built.frame[LEAD_ID].isin(leads[: len(leads) // 4])]
    with pytest.raises(InsufficientDataError) as error:
        train_model(few, built.pipeline, training_data.config())
    message = str(error.value)
    assert "the train slice has" in message and "at least 100 are needed" in message
    assert "the test slice has" in message and "--force" in message
    # The slices' dates and counts, and no split of a quarter of the leads would do.
    assert "Slices: train 20" in message and "conversions; calibration 20" in message
    assert "No split of this data leaves enough" in message

    forced = train_model(
        few, built.pipeline, training_data.config().model_copy(update={"force": True})
    )
    assert any("forced despite too little data" in w for w in forced.report.warnings)
    assert "## Warnings" in forced.report.markdown()

    path = tmp_path / "few.parquet"
    built.model_copy(update={"frame": few}).write(path)
    result = runner.invoke(app, ["train", "--training-set", str(path), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--force" in result.output


@pytest.mark.slow
def test_tuning_searches_only_the_train_slice_and_keeps_the_defaults_if_best(monkeypatch):
    seen = []

    def recording(train_X, train_y, valid_X, valid_y, **kwargs):
        seen.append((train_X, valid_X))
        return tune_params(train_X, train_y, valid_X, valid_y, **kwargs)

    monkeypatch.setattr("training.learn.tune_params", recording)
    built = training_data.training_set()
    config = training_data.config().model_copy(update={"tune": TuneConfig(enabled=True, trials=3)})
    result = train_model(built.frame, built.pipeline, config)

    # The tuner fitted on the train slice's earlier leads and scored its latest: those rows
    # exactly, and none of the calibration or test slice (behaviour columns compared: they
    # are encoded alike whatever categories the rows have).
    [(fit_X, stop_X)] = seen
    behaviour = len(built.pipeline.behaviour_names)
    encode = result.model.encoder.encode_frame
    split = result.split
    for seen_X, rows in ((fit_X, split.train), (stop_X, split.valid)):
        expected = encode(built.frame.iloc[rows])[:, :behaviour]
        assert np.array_equal(seen_X[:, :behaviour], expected, equal_nan=True)
    tuning = result.report.tuning
    assert tuning.trials == 3
    assert tuning.best_valid_auc >= tuning.default_valid_auc
    lightgbm = result.model.spec.metadata.params["lightgbm"]
    assert lightgbm["num_leaves"] == tuning.best_params["num_leaves"]


def test_a_split_that_leaves_too_few_conversions_names_one_that_works_and_auto_split_takes_it():
    built = training_data.training_set()
    config = training_data.config()
    split = time_split(built.frame, config.split, config.training_set.horizon_days)
    # Ask the train slice for one conversion more than the default shares give it.
    have = split.summary.train.positives + split.summary.valid.positives
    needs = config.model_copy(update={"min_train_positives": have + 1})
    with pytest.raises(InsufficientDataError) as error:
        split_by_time(built.frame, needs)
    message = str(error.value)
    assert f"the train slice has {have} conversions; at least {have + 1}" in message
    assert "A split that leaves enough: train_share 0." in message
    assert f"pass {AUTO_SPLIT_OPTION} to use it" in message

    chosen = split_by_time(built.frame, needs.model_copy(update={"auto_split": True}))
    summary = chosen.split.summary
    assert summary.train.positives + summary.valid.positives >= have + 1
    assert summary.calibration.positives >= 30 and summary.test.positives >= 30
    assert chosen.warnings and chosen.warnings[0].startswith(f"split chosen by {AUTO_SPLIT_OPTION}")


def test_split_boundaries_can_be_dates():
    built = training_data.training_set()
    as_of = built.frame[AS_OF]
    cal, test = as_of.quantile(0.5), as_of.quantile(0.75)
    config = SplitConfig(calibration_start=cal.to_pydatetime(), test_start=test.to_pydatetime())
    split = time_split(built.frame, config, 90)
    assert split.summary.calibration_start == cal and split.summary.test_start == test
    with pytest.raises(ValidationError, match="set both calibration_start and test_start"):
        SplitConfig(calibration_start=cal.to_pydatetime())
