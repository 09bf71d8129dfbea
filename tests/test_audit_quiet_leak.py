"""Quiet leaks: a neutral-named column recorded during the sales contact, and an identifier
filled only for converted leads, in a flat export built here (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from training.audit.dominance import SUSPECT
from training.audit.leakage import audit_columns, audit_set_aside
from training.flat.train import FlatConfig, FlatResult, train_flat

N = 3_000


def _export(tmp_path: Path, *, leak: bool, dated: bool = False) -> Path:
    """Four ordinary columns with an honest signal; with `leak`, a call length that adds what
    they cannot know (the outcome, beyond them) and a reference filled only for converters;
    with `dated`, creation dates spread over two years (enough conversions per time slice)."""
    rng = np.random.default_rng(5)
    visits = rng.poisson(4, N)
    minutes = rng.gamma(2.0, 4.0, N)
    source = rng.choice(["Google", "Direct", "Referral", "Partner"], N)
    occupation = rng.choice(["Student", "Working", "Unemployed"], N, p=[0.4, 0.4, 0.2])
    logit = (
        -5.6
        + 0.13 * minutes
        + 0.35 * visits
        + np.select([source == "Referral", source == "Partner"], [1.7, 1.0], 0.0)
        + np.where(occupation == "Working", 1.7, 0.0)
    )
    converted = rng.random(N) < 1 / (1 + np.exp(-logit))
    table = pd.DataFrame(
        {
            "Lead ID": [f"L{i:05d}" for i in range(N)],
            "Converted": np.where(converted, "yes", "no"),
            "Visits": visits,
            "Minutes": minutes.round(1),
            "Source": source,
            "Occupation": occupation,
        }
    )
    if leak:
        # Longer calls for converters, shorter for leads the other columns already rate high:
        # alone it looks ordinary, beside them it all but gives the outcome away.
        z = (logit - logit.mean()) / logit.std()
        table["duration_min"] = np.exp(
            1.5 + 1.8 * converted - 0.5 * z + rng.normal(0, 0.9, N)
        ).round(1)
        table["Ref"] = np.where(
            converted & (rng.random(N) < 0.9), [f"R-{i:05d}" for i in range(N)], ""
        )
    if dated:
        start = pd.Timestamp("2024-01-01")
        table["Created"] = start + pd.to_timedelta(rng.uniform(0, 730, N), unit="D").round("h")
    path = tmp_path / "export.csv"
    table.to_csv(path, index=False)
    return path


def _train(path: Path, **overrides) -> FlatResult:
    config = FlatConfig(
        id_column="Lead ID", target_column="Converted", positive_value="yes", folds=3, **overrides
    )
    return train_flat(path, config)


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, FlatResult]:
    path = _export(tmp_path_factory.mktemp("quiet"), leak=True)
    return path, _train(path)


def test_the_planted_leak_looks_ordinary_alone(leaky) -> None:
    path, result = leaky
    table = pd.read_csv(path)
    alone = roc_auc_score(table["Converted"] == "yes", table["duration_min"])
    assert 0.75 < alone < 0.85  # under the audit's "strong" bar
    evidence = {c.column: c for c in result.report.audit.columns}["duration_min"]
    assert evidence.points == 0  # no name, separation or missingness evidence


def test_a_dominant_column_is_suspect_left_out_and_measured_both_ways(leaky) -> None:
    _, result = leaky
    audit, model = result.report.audit, result.model
    evidence = {c.column: c for c in audit.columns}["duration_min"]
    assert evidence.verdict == "suspect" and not evidence.used
    assert any(r.startswith(SUSPECT) for r in evidence.reasons)
    assert "duration_min" not in model.feature_names
    assert set(model.feature_names) == {"Visits", "Minutes", "Source", "Occupation"}
    dominance = audit.dominance
    assert dominance.column == "duration_min" and dominance.suspect
    assert dominance.with_column["roc_auc"] > dominance.without_column["roc_auc"] + 0.08
    assert dominance.with_column["pr_auc"] > dominance.without_column["pr_auc"]
    # What is served is measured without it.
    cv = result.report.cross_validation.metrics
    assert cv.roc_auc == pytest.approx(dominance.without_column["roc_auc"])
    text = result.report.markdown()
    assert "### Dominance check" in text
    assert "| with `duration_min` |" in text and "| without `duration_min` |" in text
    assert '--keep-column "duration_min"' in text


def test_an_identifier_filled_only_for_converters_is_flagged_with_its_reason(leaky) -> None:
    _, result = leaky
    audit = result.report.audit
    assert "Ref" not in {c.column for c in audit.columns}  # set aside: not a candidate
    (ref,) = audit.set_aside
    assert ref.column == "Ref" and ref.verdict == "flagged" and not ref.used
    assert ref in audit.flagged  # on the console and in the report's flagged table
    assert ref.reasons[0].startswith("filled only for converted leads")
    assert "Ref" not in result.model.feature_names


def test_keep_column_keeps_the_suspect_and_still_reports_both(leaky) -> None:
    path, _ = leaky
    result = _train(path, keep_columns=("duration_min",))
    evidence = {c.column: c for c in result.report.audit.columns}["duration_min"]
    assert evidence.verdict == "suspect" and evidence.kept
    assert "duration_min" in result.model.feature_names
    dominance = result.report.audit.dominance
    assert result.report.cross_validation.metrics.roc_auc == pytest.approx(
        dominance.with_column["roc_auc"]
    )
    assert "kept by `--keep-column`" in result.report.markdown()


def test_an_honest_export_has_no_suspect(tmp_path: Path) -> None:
    result = _train(_export(tmp_path, leak=False))
    audit = result.report.audit
    assert audit.dominance is None and not audit.flagged
    assert set(result.model.feature_names) == {"Visits", "Minutes", "Source", "Occupation"}


def test_a_number_filled_only_for_converters_is_flagged_by_its_filling() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(1_000) < 0.3).astype(np.int8)
    filled = (y == 1) & (rng.random(1_000) < 0.8)
    features = pd.DataFrame(
        {
            # A neutral name: only its filling gives it away.
            "Ref no": np.where(filled, rng.integers(10_000, 99_999, 1_000), np.nan),
            "Visits": rng.poisson(4, 1_000).astype(float),
        }
    )
    by_name = {c.column: c for c in audit_columns(features, y).columns}
    assert by_name["Ref no"].verdict == "flagged"
    assert any(r.startswith("filled only for converted leads") for r in by_name["Ref no"].reasons)
    assert by_name["Visits"].verdict == "ok"
    # A placeholder counts as empty; a column filled for everyone says nothing.
    texts = pd.DataFrame(
        {
            "Deal": np.where(filled, "D-1", "Select"),
            "Note": [f"n{i}" for i in range(1_000)],
        }
    )
    flagged = audit_set_aside(texts, y, missing_values={"select"})
    assert [c.column for c in flagged] == ["Deal"]


@pytest.mark.parametrize("leak", [True, False], ids=["leak", "control"])
def test_the_time_split_checks_dominance_on_its_calibration_slice(
    tmp_path: Path, leak: bool
) -> None:
    result = _train(_export(tmp_path, leak=leak, dated=True), date_column="Created")
    audit, model = result.report.time_split.audit, result.model
    assert result.report.audit == audit
    honest = {"Visits", "Minutes", "Source", "Occupation"}
    assert honest <= set(model.feature_names)
    if not leak:
        assert audit.dominance is None and not audit.flagged
        return
    evidence = {c.column: c for c in audit.columns}["duration_min"]
    assert evidence.verdict == "suspect" and not evidence.used
    assert "duration_min" not in model.feature_names
    dominance = audit.dominance
    assert dominance.column == "duration_min" and dominance.suspect
    assert "calibration slice" in dominance.evaluation
    gain = dominance.with_column["roc_auc"] - dominance.without_column["roc_auc"]
    assert gain >= 0.08
    text = result.report.markdown()
    assert "Dominance check" in text and "| without `duration_min` |" in text
