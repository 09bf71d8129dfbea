"""Flat exports as CRMs write them train without hand conversion: any separator and encoding,
no id column, yes/no-like targets, dates that give weekday/month/hour features; and config
files that misspell a key, or set one section, are read as meant."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from features.contract.tables import TableReadError, read_table
from leadscore import app
from tests.test_flat import _export
from training.audit.leakage import ColumnEvidence, LeakageAudit
from training.cli import load_config
from training.flat.cli import echo_audit, flat_config
from training.flat.table import FlatTableConfig, read_flat_table
from training.flat.train import FlatConfig, train_flat

# The export's honest signal; kept by name so a stricter leakage audit cannot take it away.
SIGNAL = "Minutes on Site"
CITIES = {"Google": "Köln", "Direct": "Zürich", "Referral": "Málaga", "Select": "Select"}


def _rewrite(path: Path, name: str, *, drop=(), target=None, **to_csv) -> Path:
    """The export at `path` written again in another shape (separator, encoding, columns)."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=list(drop))
    table["Lead Source"] = table["Lead Source"].map(CITIES)  # accented values
    if target:
        table["Converted"] = table["Converted"].map(target)
    out = path.with_name(name)
    table.to_csv(out, index=False, **to_csv)
    return out


def _config(**overrides) -> FlatConfig:
    return FlatConfig(target_column="Converted", folds=3, keep_columns=(SIGNAL,), **overrides)


def test_semicolon_latin1_export_trains_with_the_cli(tmp_path: Path) -> None:
    path = _rewrite(_export(tmp_path), "crm.csv", sep=";", encoding="latin-1")
    args = ["train", "--flat", str(path), "--target-column", "Converted", "--exclude", "Created"]
    args += ["--keep-column", SIGNAL, "--out", str(tmp_path / "report"), "--no-mlflow"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "read crm.csv as ';'-separated Windows-1252 (Latin-1)" in result.output
    assert "id column: 'Lead ID'" in result.output  # named like an id and unique
    assert "Converted = yes means converted" in result.output
    report = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert "';'-separated" in report and "Málaga" not in report  # said, values not leaked


def test_bom_export_keeps_accents_and_its_first_column_name(tmp_path: Path) -> None:
    path = _rewrite(_export(tmp_path, n=1_200), "crm.csv", sep=";", encoding="utf-8-sig")
    result = train_flat(path, _config(exclude=("Created",)))
    assert "read crm.csv as ';'-separated UTF-8 with a byte-order mark" in result.report.notes
    assert result.model.spec.metadata.id_column == "Lead ID"
    leads = read_flat_table(path, _config()).leads
    assert set(leads["Lead Source"]) == {"Köln", "Zürich", "Málaga", "Select"}
    assert result.report.cross_validation.metrics.roc_auc > 0.7


def test_tab_separated_export_without_ids_and_won_lost_target(tmp_path: Path) -> None:
    path = _rewrite(
        _export(tmp_path, n=1_200),
        "crm.txt",
        drop=["Lead ID"],
        target={"Yes": "Won", "No": "lost "},
        sep="\t",
    )
    result = train_flat(path, _config(exclude=("Created",)))
    notes = result.report.notes
    assert "read crm.txt as '\\t'-separated UTF-8" in notes
    assert "no id column: the rows are numbered row_1, row_2, ..." in notes
    assert "target: Converted = won means converted" in notes
    assert result.report.columns[0].column == "(row number)"
    assert result.frame["lead_id"].iloc[0] == "row_1"
    assert result.report.cross_validation.metrics.roc_auc > 0.7
    assert "no id column" in result.report.markdown()

    # Scoring the same kind of export numbers its rows as training did.
    model = result.model.save(tmp_path / "model")
    out = tmp_path / "scores.csv"
    args = ["score", "--leads", path, "--model", model, "--out", out]
    scored = CliRunner().invoke(app, [str(a) for a in args])
    assert scored.exit_code == 0, scored.output
    assert "rows are numbered row_1, row_2" in scored.output
    scores = pd.read_csv(out)
    assert scores["lead_id"].tolist()[:2] == ["row_1", "row_2"] and len(scores) == 1_200


def test_date_column_gives_weekday_month_and_hour(tmp_path: Path) -> None:
    export = _export(tmp_path, n=2_500)
    table = pd.read_csv(export, dtype=str)
    table["Created"] = pd.to_datetime(table["Created"]).dt.strftime("%m/%d/%Y %H:%M")
    table.to_csv(path := tmp_path / "dated.csv", index=False)
    result = train_flat(path, _config(date_column="Created", positive_value="Yes"))
    candidates = {c.column for c in result.report.audit.columns}
    assert {"Created_weekday", "Created_month", "Created_hour"} <= candidates
    assert "Created_hour" in result.model.feature_names
    assert result.report.evaluation == "time split"


def test_forced_separator_and_encoding_and_unreadable_files(tmp_path: Path) -> None:
    path = _rewrite(_export(tmp_path, n=300), "crm.csv", sep="|", encoding="latin-1")
    config = FlatTableConfig(target_column="Converted", csv_delimiter="|", encoding="latin-1")
    assert read_flat_table(path, config).notes[0] == "read crm.csv as '|'-separated Latin-1"
    with pytest.raises(TableReadError, match=re.escape("csv_delimiter: '|'")):
        read_table(path, delimiter=",")
    (binary := tmp_path / "crm.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(TableReadError, match="not a text file"):
        read_table(binary)


def test_an_unknown_key_is_named_everywhere(tmp_path: Path) -> None:
    flat = tmp_path / "crm.yaml"
    flat.write_text("target_column: Converted\ncsv_delimter: ';'\ntrain: {split: {tets: 1}}\n")
    with pytest.raises(typer.BadParameter) as raised:
        flat_config(flat, {}, None)
    message = str(raised.value)
    assert message.startswith(f"{flat}: ")
    assert "unknown key 'csv_delimter' (known: id_column, target_column" in message
    assert "unknown key 'train.split.tets' (known: train_share" in message
    journey = tmp_path / "train.yaml"
    journey.write_text("boster: {num_leaves: 5}\ntraining_set: {cutofs: {kind: periodic}}\n")
    with pytest.raises(typer.BadParameter) as raised:
        load_config(journey)
    assert "boster" in str(raised.value) and "training_set.cutofs" in str(raised.value)


# Every nested section of the trainer's settings refuses a misspelt key (a silently ignored
# one would train with the default the user meant to change).
NESTED = [
    ("booster: {num_leafs: 5}", "booster.num_leafs' (known: learning_rate, num_leaves"),
    ("tune: {trails: 3}", "tune.trails' (known: enabled, trials"),
    ("audit: {strong: 0.9}", "audit.strong' (known: separation_auc, strong_auc"),
    ("tiers: {last: cold, rule: []}", "tiers.rule' (known: rules, last)"),
    # Inside a list of rules: no single section whose keys to list.
    ("tiers: {rules: [{name: hot, min_recal: 0.5}]}", "tiers.rules.0.min_recal'"),
]


@pytest.mark.parametrize(("section", "named"), NESTED)
def test_an_unknown_nested_key_is_one_line_naming_it(
    tmp_path: Path, section: str, named: str
) -> None:
    flat, journey = tmp_path / "crm.yaml", tmp_path / "train.yaml"
    flat.write_text(f"target_column: Converted\ntrain: {{{section}}}\n")
    journey.write_text(f"{section}\n")
    with pytest.raises(typer.BadParameter) as in_flat:
        flat_config(flat, {}, None)
    with pytest.raises(typer.BadParameter) as in_journey:
        load_config(journey)
    for raised, path, key in ((in_flat, flat, f"train.{named}"), (in_journey, journey, named)):
        message = str(raised.value)
        assert "\n" not in message
        assert message.startswith(f"{path}: unknown key '{key}"), message


def test_sep_and_encoding_flags_read_the_export_as_told(tmp_path: Path) -> None:
    path = _rewrite(_export(tmp_path, n=1_200), "crm.csv", sep="|", encoding="latin-1")
    args = ["train", "--flat", str(path), "--target-column", "Converted", "--sep", "|"]
    args += ["--encoding", "latin-1", "--exclude", "Created", "--keep-column", SIGNAL]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "report"), "--no-mlflow"])
    assert result.exit_code == 0, result.output
    assert "read crm.csv as '|'-separated Latin-1" in result.output
    assert (
        flat_config(None, {"target_column": "Converted", "csv_delimiter": ";"}, None).csv_delimiter
        == ";"
    )


def test_too_little_data_in_a_flat_export_is_refused_or_forced_with_a_console_warning(
    tmp_path: Path,
) -> None:
    path = _export(tmp_path, n=1_200)
    config = tmp_path / "crm.yaml"
    config.write_text("train: {min_train_positives: 100000, min_test_positives: 100000}\n")
    base = ["train", "--flat", str(path), "--target-column", "Converted", "--config", str(config)]
    base += ["--keep-column", SIGNAL, "--out", str(tmp_path / "report"), "--no-mlflow"]
    for dated in ([], ["--date-column", "Created"]):
        refused = CliRunner().invoke(app, [*base, *dated])
        assert refused.exit_code == 2, refused.output
        message = refused.output
        assert "pass --force to train anyway" in message
        # Advice `train --flat` can follow: it takes neither --horizon-days nor --target.
        assert "--horizon-days" not in message and "--target sql" not in message
        forced = CliRunner().invoke(app, [*base, *dated, "--force"])
        assert forced.exit_code == 0, forced.output
        warning = forced.output.index("warning: forced despite too little data")
        assert warning < forced.output.index("ROC AUC")  # said before the measurements


def test_a_split_section_keeps_the_small_table_booster(tmp_path: Path) -> None:
    path = tmp_path / "crm.yaml"
    path.write_text(
        "target_column: Converted\ntrain:\n  split: {train_share: 0.7, calibration_share: 0.15,"
        " test_share: 0.15}\n  booster: {num_leaves: 5}\n"
    )
    train = flat_config(path, {}, None).train
    assert train.split.train_share == 0.7
    assert train.booster.num_leaves == 5  # set
    assert train.booster.min_data_in_leaf == 20 and train.booster.learning_rate == 0.03  # kept


def _flagged(column: str, kind: str) -> ColumnEvidence:
    return ColumnEvidence(
        column=column,
        kind=kind,
        auc=0.9,
        missing_positive=0.0,
        missing_negative=0.9,
        certain_share=0.0,
        points=2,
        reasons=("filled only for converted leads",),
        verdict="flagged",
    )


def test_the_keep_column_hint_offers_only_a_column_that_can_be_kept(capsys) -> None:
    notes = _flagged("Notes", "text")
    audit = LeakageAudit(rule="", rows=10, positives=5, columns=(), set_aside=(notes,))
    echo_audit(audit)
    assert "Notes (left out)" in (out := capsys.readouterr().out)
    assert "--keep-column" not in out  # a set-aside text column would be refused
    echo_audit(audit.model_copy(update={"columns": (_flagged("Call Length", "numeric"),)}))
    assert 'use one anyway with --keep-column "Call Length"' in capsys.readouterr().out
