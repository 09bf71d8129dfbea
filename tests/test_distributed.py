"""The Dask engine on a real 2-worker LocalCluster (processes): the same training set row for
row as one machine, errors as one line, nothing half-written."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client
from typer.testing import CliRunner

from features.contract.directory import read_contract_dir
from features.distributed import build_training_set_dask, lead_partition
from features.synth.generate import generate
from features.trainingset import TrainingSetConfig, build_training_set, read_training_set
from leadscore import app

N_LEADS = 3_000


@pytest.fixture(scope="session")
def scheduler() -> Iterator[str]:
    """The address of a LocalCluster of two worker processes, one thread each."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="session")
def contract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("dask-contract")
    generate(directory, N_LEADS, 5, datetime(2024, 1, 1, tzinfo=UTC), months=18, chunk_size=1_000)
    return directory


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in (lead, cut-off) order; categories as values (each part has its own)."""
    frame = frame.sort_values(["lead_id", "as_of"], ignore_index=True)
    categorical = [c for c in frame if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(categorical, object))


def test_lead_partition_is_a_stable_hash_of_the_id_text():
    ids = pd.Series(["lead-1", "lead-2", "lead-3"] * 2)
    parts = lead_partition(ids, 7)
    assert (parts[:3] == parts[3:]).all()
    assert ((parts >= 0) & (parts < 7)).all()
    # Text and its spelling in another dtype hash alike: every table's ids meet.
    assert (lead_partition(ids.astype("string[pyarrow]"), 7) == parts).all()
    assert len(set(lead_partition(pd.Series([f"l{i}" for i in range(1000)]), 7))) == 7


def test_dask_build_is_the_local_build_row_for_row(scheduler, contract_dir, tmp_path):
    contract = read_contract_dir(contract_dir)
    config = TrainingSetConfig(cutoffs={"kind": "offsets", "offsets_days": (1, 7, 30, 90)})
    local = build_training_set(contract.leads, contract.journeys, contract.outcomes, config)
    # A URL, as for an object store: the workers open it through fsspec.
    source, out = f"file://{contract_dir}", str(tmp_path / "ts")
    with Client(scheduler) as client:
        built = build_training_set_dask(source, out, config, client, leads_per_partition=400)

    assert len(built.partitions) == 8  # 3,000 leads / 400 per partition
    assert sum(p.counts.leads for p in built.partitions) == local.report.leads
    frame, pipeline = read_training_set(tmp_path / "ts")
    assert pipeline == local.pipeline
    assert len(frame) == local.report.rows > 5_000
    pd.testing.assert_frame_equal(comparable(frame), comparable(local.frame))
    ignored = {"fingerprint"}  # a hash of per-partition hashes: another number, as documented
    assert built.report.model_dump(exclude=ignored) == local.report.model_dump(exclude=ignored)
    assert (tmp_path / "ts.report.json").exists()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_features_build_cli_on_dask(scheduler, contract_dir, tmp_path):
    out = tmp_path / "training_set"
    args = ["features", "build", "--data", str(contract_dir), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--engine", "dask", "--scheduler", scheduler])
    assert result.exit_code == 0, result.output
    frame, _ = read_training_set(out)
    assert f"{len(frame):,} rows" in result.output
    assert sorted(p.suffix for p in out.iterdir()) == [".parquet"] * len(list(out.iterdir()))


def test_failed_dask_build_is_one_line_and_leaves_nothing(scheduler, contract_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(contract_dir, broken)
    leads = pd.read_parquet(broken / "leads.parquet")
    leads.iloc[10:].to_parquet(broken / "leads.parquet")  # their events now name no lead
    out = tmp_path / "ts"
    args = ["features", "build", "--data", str(broken), "--out", str(out), "--engine", "dask"]
    result = CliRunner().invoke(app, [*args, "--scheduler", scheduler])
    assert result.exit_code == 2
    assert "belong to leads that are not in the leads table" in result.output
    assert "leadscore data validate" in result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.glob("ts*")) == []


def test_unreachable_scheduler_is_named(contract_dir, tmp_path):
    args = ["features", "build", "--data", str(contract_dir), "--out", str(tmp_path / "ts")]
    result = CliRunner().invoke(
        app, [*args, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert not (tmp_path / "ts").exists()


def test_dask_engine_needs_a_contract_directory(tmp_path):
    result = CliRunner().invoke(
        app, ["features", "build", "--engine", "dask", "--leads", str(tmp_path / "l.csv")]
    )
    assert result.exit_code == 2
    assert "--engine dask reads a contract directory" in result.output


@pytest.mark.slow
def test_train_on_dask_matches_local_auc_and_packages_the_same_artifact(scheduler, tmp_path):
    from runtime.model import ScoringModel
    from tests import training_data
    from training.train import TrainConfig, train_model

    out, export = tmp_path / "report", tmp_path / "model"
    # One recipe (no recency candidate), so both engines run the same procedure and the
    # comparison is of the engines, not of which candidate each backtest happened to pick.
    config_file = tmp_path / "train.yaml"
    config_file.write_text("backtest:\n  recency_half_lives_days: []\n")
    config = TrainConfig.model_validate({"backtest": {"recency_half_lives_days": []}})
    args = ["train", "--data", str(training_data.data_dir()), "--out", str(out)]
    args += ["--export", str(export), "--no-mlflow", "--engine", "dask", "--scheduler", scheduler]
    args += ["--config", str(config_file)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "train the booster on the Dask cluster" in result.output

    # The single-machine model of the same training set: LightGBM is sensitive to the order
    # of rows and categories, so both learn from the rows the Dask build wrote.
    frame, pipeline = read_training_set(out / "training_set.parquet")
    local = train_model(frame, pipeline, config)
    on_dask = ScoringModel.load(export)
    # Data-parallel LightGBM bins features and bags rows per worker, and which worker is rank
    # 0 varies between runs: on this set (about 110 test conversions, an AUC standard error
    # near 0.015) runs landed 0.004 to 0.012 from the local model (0.012 twice, in two modes
    # that follow the rank), so neither 0.005 nor 0.01 is a bound that holds here; the
    # standard error is.
    assert on_dask.spec.metadata.metrics["test_roc_auc"] == pytest.approx(
        local.report.test.roc_auc, abs=0.015
    )
    # The same kind of artifact: the same features, scored by the runtime as any other.
    assert on_dask.pipeline.feature_names == local.model.pipeline.feature_names
    rows = training_data.training_set().frame.iloc[:200]
    prediction = on_dask.predict_features(rows)
    assert ((prediction.probability > 0) & (prediction.probability < 1)).all()
    assert set(prediction.tier) <= {"sql", "mql", "nurture"}
    # The Dask build wrote the training set it trained on beside the report.
    assert (out / "training_set.report.json").exists()
