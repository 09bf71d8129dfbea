"""MLflow logging, the one model loader, the pyfunc wrapper, promotion and rollback.

Models here are tiny (two attribute features, a few hundred trees' worth of nothing) so the
tests measure the registry logic, not training; they share one SQLite store per module
(creating one costs MLflow several seconds) and each test registers its own model name.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import lightgbm as lgb
import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from features.attributes import AttributeSpec, AttributeTransform
from features.contract.directory import ContractData
from features.pipeline import FeaturePipeline
from leadscore import app
from runtime.artifact import ArtifactSpec, Calibrator, ModelMetadata, Tiers
from runtime.encoder import FeatureEncoder
from runtime.model import ScoringModel
from runtime.source import RegistrySettings, load_model, tracking
from tests import training_data
from training.evaluate import evaluate
from training.registry.promotion import PromotionError, promote, rollback
from training.registry.tracking import (
    PREVIOUS_CHAMPION_TAG,
    download_evaluation_rows,
    list_versions,
    log_model_run,
    log_training,
)

INDUSTRIES = ("finance", "retail", "software")


def _pipeline(industry_values: tuple[str, ...] | None = None) -> FeaturePipeline:
    return FeaturePipeline(
        use_behaviour=False,
        attributes=AttributeTransform(
            specs=(
                AttributeSpec(name="employees", source="employees", kind="numeric"),
                AttributeSpec(
                    name="industry", source="industry", kind="categorical", values=industry_values
                ),
            )
        ),
    )


def _rows(seed: int, n: int = 1500) -> pd.DataFrame:
    """(lead_id, as_of, label, features) rows where size and industry drive conversion."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "lead_id": [f"L{seed}-{i}" for i in range(n)],
            "as_of": pd.Timestamp("2024-06-01", tz="UTC") + pd.to_timedelta(np.arange(n), "h"),
            "employees": rng.lognormal(4, 1, n),
            "industry": pd.Categorical(rng.choice(INDUSTRIES, n)),
        }
    )
    logit = np.log(frame["employees"]) - 5 + 2.0 * (frame["industry"] == "software")
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return frame


def _model(*, shuffle: bool = False, pipeline: FeaturePipeline | None = None) -> ScoringModel:
    """A small booster on `_rows(0)`; `shuffle` trains it on permuted labels (no signal)."""
    pipeline = pipeline or _pipeline()
    train = _rows(0)
    y = train["label"].to_numpy()
    if shuffle:
        y = np.random.default_rng(1).permutation(y)
    categories = {"industry": INDUSTRIES}
    matrix = FeatureEncoder(pipeline, categories).encode_frame(train)
    booster = lgb.train(
        {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 0, "num_threads": 1},
        lgb.Dataset(matrix, y, categorical_feature=[1]),
        num_boost_round=40,
    )
    spec = ArtifactSpec(
        pipeline=pipeline,
        categories=categories,
        calibrator=Calibrator(kind="sigmoid"),
        tiers=Tiers(thresholds=(0.5, 0.2)),
        metadata=ModelMetadata(
            target="closed_won",
            horizon_days=90,
            trained_at=datetime.now(UTC),
            train_window=(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)),
            score_percentiles=tuple(np.linspace(0, 1, 101)),
        ),
    )
    return ScoringModel(spec, booster)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> RegistrySettings:
    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    return RegistrySettings(tracking_uri=f"sqlite:///{db}")


@pytest.fixture
def settings(store: RegistrySettings, request: pytest.FixtureRequest) -> RegistrySettings:
    """The shared store, with a registered model name of this test's own."""
    return store.model_copy(update={"model_name": f"lc-{request.node.name}"[:60]})


def _env(settings: RegistrySettings) -> dict[str, str]:
    """Environment pointing the CLI at this test's store and model name."""
    return {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "LEADSCORE_MODEL_NAME": settings.model_name,
    }


def _log(model: ScoringModel, settings: RegistrySettings, seed: int = 7) -> int:
    rows = _rows(seed)
    measured = evaluate(model.predict_features(rows).probability, rows["label"].to_numpy())
    headline = {"roc_auc": measured.roc_auc, "ece": 0.01, "log_loss": measured.log_loss}
    logged = log_model_run(
        model,
        params={"booster.num_leaves": "7"},
        metrics={f"test_{k}": v for k, v in headline.items()},
        headline=headline,
        texts={"report/report.md": "# report\n"},
        figures={},
        evaluation_rows=rows,
        settings=settings,
    )
    return logged.version


def _records(rows: pd.DataFrame) -> list[dict]:
    """The rows as the lead records the API and the pyfunc take (JSON-like values)."""
    return [
        {
            "lead_id": row.lead_id,
            "as_of": row.as_of.isoformat(),
            "attributes": {"employees": row.employees, "industry": row.industry},
        }
        for row in rows.itertuples()
    ]


def test_pyfunc_scores_lead_records_as_the_features_path_does(settings):
    model = _model()
    version = _log(model, settings)
    rows = _rows(3, n=200)
    with tracking(settings):
        pyfunc = mlflow.pyfunc.load_model(settings.model_uri(version))
    out = pyfunc.predict(_records(rows))
    # Features computed from the records, not handed in: the same numbers as from the rows.
    expected = model.predict_features(rows)
    np.testing.assert_array_equal(out["probability"].to_numpy(), expected.probability)
    assert out["tier"].tolist() == expected.tier.tolist()
    assert out["lead_id"].tolist() == rows["lead_id"].tolist()
    assert all(len(reasons) > 0 for reasons in out["reasons"])


def test_tracking_leaves_the_callers_mlflow_setup_as_it_was(settings, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///elsewhere.db")
    with tracking(settings):
        assert mlflow.get_tracking_uri() == settings.tracking_uri
    assert os.environ["MLFLOW_TRACKING_URI"] == "sqlite:///elsewhere.db"
    assert mlflow.get_tracking_uri() == "sqlite:///elsewhere.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with tracking(settings):
        pass
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_pyfunc_input_that_is_not_a_lead_says_which_and_why(settings):
    model = _model()
    with tracking(settings):
        pyfunc = mlflow.pyfunc.load_model(settings.model_uri(_log(model, settings)))
    with pytest.raises(ValueError, match=r"lead 0: attributes: Input should be a valid dict"):
        pyfunc.predict([{"attributes": "employees=10"}])
    with pytest.raises(ValueError, match=r"lead 1: colour: Extra inputs are not permitted"):
        pyfunc.predict([{"attributes": {}}, {"colour": "red"}])


def test_one_loader_resolves_alias_version_run_and_directories(settings, tmp_path):
    model = _model()
    version = _log(model, settings)
    run_id = list_versions(settings)[0].run_id
    export_dir = tmp_path / "models" / "lc"
    result = CliRunner().invoke(
        app,
        ["models", "export", "--out", str(export_dir)],
        env=_env(settings),
    )
    assert result.exit_code == 2  # no champion yet: nothing to export by default
    assert "cannot load" in result.output and "models list" in result.output
    with tracking(settings):
        mlflow_dir = mlflow.artifacts.download_artifacts(
            settings.model_uri(version), dst_path=str(tmp_path / "mlflow-model")
        )
    matrix = model.encoder.encode_frame(_rows(5, n=100))
    expected = model.raw_score(matrix)
    for source in (
        settings.model_uri("challenger"),
        settings.model_uri(version),
        f"runs:/{run_id}/model",
        mlflow_dir,
        model.save(tmp_path / "plain"),
    ):
        loaded = load_model(source, settings)
        np.testing.assert_array_equal(loaded.raw_score(matrix), expected, err_msg=str(source))


def test_loader_errors_name_what_to_give(settings, tmp_path):
    _log(_model(), settings)
    with pytest.raises(FileNotFoundError, match="models:/NAME@ALIAS"):
        load_model(tmp_path / "nowhere", settings)
    with pytest.raises(LookupError, match="models list"):
        load_model(settings.model_uri("champion"), settings)


def test_promotion_refuses_a_worse_model_accepts_it_forced_and_rolls_back(settings):
    good = _log(_model(), settings)
    first = promote(settings)
    assert first.promoted and first.champion_after == good

    worse = _log(_model(shuffle=True), settings)
    refused = promote(settings)
    assert not refused.promoted
    assert refused.champion_after == good
    by_version = {s.version: s.metrics for s in refused.scores}
    assert by_version[good].roc_auc > by_version[worse].roc_auc + 0.1
    assert "REFUSED" in refused.summary() and f"{by_version[good].roc_auc:.4f}" in refused.summary()

    forced = promote(settings, worse, force=True)
    assert forced.promoted and forced.forced and forced.champion_after == worse
    with tracking(settings) as client:
        champion = client.get_model_version_by_alias(settings.model_name, "champion")
        assert int(champion.version) == worse
        assert champion.tags[PREVIOUS_CHAMPION_TAG] == str(good)

    back = rollback(settings)
    assert back.champion_after == good
    with tracking(settings) as client:
        champion = client.get_model_version_by_alias(settings.model_name, "champion")
        assert int(champion.version) == good


def test_a_better_challenger_is_promoted_and_loses_its_challenger_alias(settings):
    worse = _log(_model(shuffle=True), settings)
    promote(settings)
    better = _log(_model(), settings)
    result = promote(settings)
    assert result.promoted and not result.forced
    assert result.champion_before == worse and result.champion_after == better
    aliases = {v.version: v.aliases for v in list_versions(settings)}
    assert aliases == {better: ("champion",), worse: ()}


def test_champion_with_other_features_is_scored_from_raw_data_or_promotion_needs_force(settings):
    # The old champion groups every industry but software as "(other)": its features differ.
    _log(_model(pipeline=_pipeline(("software",))), settings)
    promote(settings)
    candidate = _log(_model(), settings)
    with pytest.raises(PromotionError, match="--data DIR"):
        promote(settings)

    rows = _rows(7)  # the raw leads behind the candidate's logged test rows
    leads = rows[["lead_id", "employees"]].assign(industry=rows["industry"].astype(str))
    data = ContractData(leads=leads, journeys=None, outcomes=pd.DataFrame())
    compared = promote(settings, data=data)
    assert compared.promoted and not compared.forced
    assert [s.version for s in compared.scores] == [candidate, candidate - 1]

    _log(_model(pipeline=_pipeline(("software",))), settings)
    forced = promote(settings, force=True)
    assert forced.promoted and forced.champion_after == candidate + 1
    assert "not compared" in forced.reason


def test_models_cli_lists_versions_with_aliases_and_refuses_with_exit_code(settings):
    _log(_model(), settings)
    env = {
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "LEADSCORE_MODEL_NAME": settings.model_name,
    }
    runner = CliRunner()
    assert runner.invoke(app, ["models", "promote"], env=env).exit_code == 0
    _log(_model(shuffle=True), settings)

    refused = runner.invoke(app, ["models", "promote"], env=env)
    assert refused.exit_code == 1
    assert "REFUSED" in refused.output and "--force" in refused.output

    listing = runner.invoke(app, ["models", "list"], env=env)
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    v1 = next(line for line in lines if line.strip().startswith("1 "))
    v2 = next(line for line in lines if line.strip().startswith("2 "))
    assert "@champion" in v1 and "@challenger" in v2
    assert "0.0100" in v1  # the ECE headline tag

    forced = runner.invoke(app, ["models", "promote", "--version", "2", "--force"], env=env)
    assert forced.exit_code == 0 and "PROMOTED (forced)" in forced.output
    back = runner.invoke(app, ["models", "rollback"], env=env)
    assert back.exit_code == 0 and "rolled back from version 2 to version 1" in back.output


def test_log_training_logs_params_metrics_reports_plots_and_the_test_rows(settings):
    result, built = training_data.trained(), training_data.training_set()
    config = training_data.config()
    logged = log_training(result, config, built.frame, built.report, settings)
    with tracking(settings) as client:
        run = client.get_run(logged.run_id)
        files = {
            f.path
            for folder in ("report", "plots", "training_set", "evaluation")
            for f in client.list_artifacts(logged.run_id, folder)
        }
    assert run.data.params["booster.num_leaves"] == str(config.booster.num_leaves)
    assert run.data.metrics["test_roc_auc"] == pytest.approx(result.report.test.roc_auc)
    assert run.data.metrics["test_rows"] == result.report.split.test.rows
    assert {
        "report/report.md",
        "report/report.json",
        "plots/roc.png",
        "plots/reliability.png",
        "training_set/report.md",
        "evaluation/test_rows.parquet",
    } <= files
    rows = download_evaluation_rows(logged.run_id, settings)
    assert len(rows) == result.report.split.test.rows
    assert int(rows["label"].sum()) == result.report.split.test.positives
    # The served model learned from these rows; promotion judges it by the model its test
    # figures belong to, logged beside it with its probabilities on them.
    measured = load_model(f"runs:/{logged.run_id}/measured_model", settings)
    assert measured.spec.metadata.train_window[1] < result.report.split.test_start
    assert roc_auc_score(rows["label"], rows["measured_probability"]) == pytest.approx(
        result.report.test.roc_auc, abs=1e-9
    )

    with pytest.raises(ValueError, match="pass the training set frame"):
        log_training(result, config, built.frame.iloc[: len(built.frame) // 2], settings=settings)


def test_train_command_registers_by_default_and_not_with_no_mlflow(settings, tmp_path):
    path = tmp_path / "ts.parquet"
    training_data.training_set().write(path)
    command = ["train", "--training-set", str(path), "--out", str(tmp_path / "report")]
    registered = CliRunner().invoke(app, command, env=_env(settings))
    assert registered.exit_code == 0, registered.output
    assert f"registered: {settings.model_uri(1)} (@challenger)" in registered.output
    assert [v.aliases for v in list_versions(settings)] == [("challenger",)]

    skipped = CliRunner().invoke(app, [*command, "--no-mlflow"], env=_env(settings))
    assert skipped.exit_code == 0, skipped.output
    assert "registered:" not in skipped.output
    assert len(list_versions(settings)) == 1
