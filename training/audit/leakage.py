"""The leakage audit: find feature columns that know the outcome before it happened.

A CRM export mixes what was known when a lead arrived with what sales wrote down after talking
to it (tags, lead quality, status). A model that uses the latter looks excellent and is useless.
Every training run (flat table or journeys) audits each feature column on three kinds of
evidence and leaves suspicious columns out unless the user keeps them by name.

Evidence per column:
- stand-alone power: ROC AUC of the column alone, folded to >= 0.5. Numeric columns: the best of
  the rank AUC and the AUC of an out-of-fold target rate per quantile bin (catches non-monotone
  relations); text columns: AUC of the out-of-fold target rate per category. Missing values are
  a bin/category of their own.
- missingness by class: share of missing values among positives and among negatives. A field
  filled in mainly for leads that converted (or mainly for those that did not) was filled later.
- near-certain values: share of positives that sit in values (categories, bins) where at least
  95% of the rows are positive ("Closed by Horizzon", "Won"): the signature of a value written
  after the outcome.
- meaning by name: words suggesting a later funnel stage, an outcome or a sales-filled field.

The rule (points, flagged at >= 2) combines evidence so that a column is not flagged just for
being strong: a strong honest column (time on website) scores at most 1 point.
- name suggests a later stage or a sales-filled field: 2 (a name alone is enough: such a field is
  not known when a lead must be scored, whatever its numbers say)
- almost separates the classes (AUC >= 0.97): 3 (never used silently)
- strong (AUC >= 0.85): 1
- missing rates differ by class by >= 25 points: 1
- >= 25% of positives in near-certain values: 1
- filled (almost) only for converted rows: 2 (an opportunity id or deal number: such a value
  exists only once the lead converted). Columns set aside as free text are checked on this
  evidence too, so an identifier-like column is reported as the leak it is.
After a first fit, the dominance check (`training.audit.dominance`) can mark one more column
"suspect" from the model's own use of it.
Features computed point in time from events (the behaviour kernel) can only be flagged for
separating the classes: their names are ours and their missing values mean "never happened".
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.contract.schema import LABEL, LEAD_ID
from training.audit.dominance import COMPARED, SUSPECT, Dominance

if TYPE_CHECKING:
    from features.pipeline import FeaturePipeline
    from training.evaluate import Metrics

KEEP_OPTION = "--keep-column"
KEEP_CONFIG_KEY = "keep_columns"

# Word in a column name -> what it suggests. A trailing "*" matches any word starting so.
NAME_MEANINGS: dict[str, str] = {
    "status": "a funnel status, set as the lead moves through the funnel",
    "stage": "a funnel stage, set as the lead moves through the funnel",
    "lifecycle": "a lifecycle stage, set as the lead moves through the funnel",
    "won": "names an outcome",
    "lost": "names an outcome",
    "closed": "names an outcome",
    "convert*": "names an outcome",
    "disqualif*": "names an outcome",
    "opportunit*": "an opportunity exists only after sales accepted the lead",
    "deal*": "a deal exists only after sales accepted the lead",
    "reason": "a reason (lost, disqualified) is recorded when the lead closes",
    "tag*": "tags are usually added by sales after contacting the lead",
    "quality": "a rating of the lead, usually filled in by sales after contact",
    "profile": "a profile of the lead, usually filled in by sales after contact",
    "rating": "a rating of the lead, usually filled in by sales after contact",
    "grade": "a grade of the lead, usually filled in by sales after contact",
    "score*": "a score computed by a tool or by sales, possibly from later data",
    "index": "an index computed by a tool or by sales, possibly from later data",
    "asymmetrique": "a LeadSquared activity/profile index filled in by sales after contact",
    "notable": "activities marked notable by sales in the CRM",
    "notes": "free notes written by sales after contact",
    "comment*": "comments written by sales after contact",
    "feedback": "feedback written by sales after contact",
}

Verdict = Literal["flagged", "suspect", "watch", "ok"]
FILLED_FOR_CONVERTED = "filled only for converted leads"


class AuditConfig(BaseModel):
    """Thresholds of the audit's rule (see the module docstring) and the columns kept anyway."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    separation_auc: float = Field(0.97, description="AUC at which a column almost separates.")
    strong_auc: float = Field(0.85, description="AUC counted as strong evidence.")
    missing_gap: float = Field(0.25, description="Difference of missing rates by class.")
    certain_rate: float = Field(0.95, description="Positive rate of a near-certain value.")
    certain_share: float = Field(0.25, description="Share of positives in near-certain values.")
    min_value_rows: int = Field(20, description="Rows a value needs to count as near-certain.")
    flag_points: int = Field(2, description="Points at which a column is flagged.")
    dominant_share: float = Field(
        0.30, description="Share of the model's gain from which the top column is a candidate."
    )
    dominant_ratio: float = Field(
        1.5, description="...and times the next column's share (see training.audit.dominance)."
    )
    dominant_auc_loss: float = Field(
        0.08,
        description="ROC AUC by which the model with a candidate must beat both the model "
        "without it and the candidate alone for it to be suspect.",
    )
    extra_name_words: dict[str, str] = Field(
        default_factory=dict, description="More suspicious words (word -> what it suggests)."
    )
    keep: tuple[str, ...] = Field((), description="Flagged columns to use anyway.")
    tradeoff: bool = Field(
        True,
        description="When columns are left out, train once more with them to report what "
        "leaving them out costs (doubles training time when something is flagged).",
    )
    folds: int = Field(5, ge=2)
    max_rows: int = Field(200_000, description="Rows sampled for the audit on big training sets.")
    seed: int = 0


class ColumnEvidence(BaseModel):
    """What the audit found about one feature column."""

    column: str
    kind: Literal["numeric", "categorical", "text"] = Field(
        description="text: set aside as free text, audited only for being filled for converters."
    )
    point_in_time: bool = False
    auc: float
    missing_positive: float
    missing_negative: float
    certain_share: float
    certain_values: tuple[str, ...] = ()
    name_words: tuple[str, ...] = ()
    points: int
    reasons: tuple[str, ...]
    verdict: Verdict
    kept: bool = Field(False, description="Flagged, but kept by the user.")

    @property
    def used(self) -> bool:
        if self.kind == "text":
            return False  # set aside as free text: never a feature
        return self.verdict not in ("flagged", "suspect") or self.kept


class LeakageAudit(BaseModel):
    """The audit of every candidate feature column, and what leaving flagged ones out costs."""

    rule: str
    rows: int
    positives: int
    columns: tuple[ColumnEvidence, ...]
    metrics_all_columns: dict[str, float] | None = Field(
        None, description="Metrics of a model on every candidate column, flagged ones included."
    )
    metrics_as_trained: dict[str, float] | None = Field(
        None, description="Metrics of the model as trained (flagged columns left out unless kept)."
    )
    evaluation: str = Field("", description="How the two sets of metrics were measured.")
    dominance: Dominance | None = Field(
        None, description="The column the first model leaned on most, when out of line."
    )
    set_aside: tuple[ColumnEvidence, ...] = Field(
        (), description="Columns set aside as free text but filled only for converted rows."
    )

    def with_tradeoff(
        self, all_columns: Metrics, as_trained: Metrics, evaluation: str
    ) -> LeakageAudit:
        """This audit with the metrics of a model on every column beside the trained one's."""
        return self.model_copy(
            update={
                "metrics_all_columns": {k: float(getattr(all_columns, k)) for k in _METRIC_LABELS},
                "metrics_as_trained": {k: float(getattr(as_trained, k)) for k in _METRIC_LABELS},
                "evaluation": evaluation,
            }
        )

    def with_dominance(self, dominance: Dominance, keep: Collection[str]) -> LeakageAudit:
        """This audit with the dominance check's finding; a suspect column is marked so (and
        left out unless kept)."""
        columns = self.columns
        if dominance.suspect:
            columns = tuple(
                c.model_copy(
                    update={
                        "verdict": "suspect",
                        "reasons": (*c.reasons, f"{SUSPECT} ({dominance.reason})"),
                        "kept": c.column in keep,
                    }
                )
                if c.column == dominance.column
                else c
                for c in columns
            )
        return self.model_copy(update={"columns": columns, "dominance": dominance})

    def with_set_aside(self, evidence: Collection[ColumnEvidence]) -> LeakageAudit:
        """This audit with flagged columns that were set aside before it (free text)."""
        return self.model_copy(update={"set_aside": tuple(evidence)})

    @property
    def flagged(self) -> tuple[ColumnEvidence, ...]:
        """Columns flagged by the rule or suspected by the dominance check, then set-aside
        columns flagged for their filling."""
        audited = tuple(c for c in self.columns if c.verdict in ("flagged", "suspect"))
        return (*audited, *self.set_aside)

    @property
    def used_columns(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if c.used)

    @property
    def left_out(self) -> tuple[str, ...]:
        return tuple(c.column for c in self.columns if not c.used)

    def markdown(self, level: int = 1) -> str:
        """The audit as Markdown; `level` is the depth of its title (2 inside a report)."""
        h1, h2 = "#" * level, "#" * (level + 1)
        lines = [
            f"{h1} Leakage audit",
            "",
            f"{len(self.columns)} candidate columns audited on {self.rows:,} rows "
            f"({self.positives:,} positives). Rule: {self.rule}",
            "",
        ]
        flagged = self.flagged
        if flagged:
            lines += [
                f"{h2} Flagged ({len(flagged)})",
                "",
                "| column | evidence | AUC alone | missing (pos / neg) | used |",
                "| --- | --- | --- | --- | --- |",
            ]
            lines += [_row(c) for c in flagged]
            lines += ["", "Flagged and suspect columns are left out of the model."]
            # Set-aside free text cannot be kept: it is no feature.
            keepable = [c.column for c in flagged if c.kind != "text"]
            if keepable:
                lines[-1] += (
                    f' To keep one, name it: `{KEEP_OPTION} "{keepable[0]}"` on the command '
                    f"line, or `{KEEP_CONFIG_KEY}: [{keepable[0]!r}]` in the config file."
                )
            if self.set_aside:
                names = ", ".join(f"`{c.column}`" for c in self.set_aside)
                lines[-1] += (
                    f" {names}: set aside as free text, never in the model (its AUC is that of "
                    "being filled); its filling says the export was written after the outcome, "
                    "so check which other columns were filled then too."
                )
            lines.append("")
        else:
            lines += ["No column was flagged.", ""]
        if self.dominance is not None:
            lines += self._dominance_lines(h2)
        watch = [c for c in self.columns if c.verdict == "watch"]
        if watch:
            lines += [
                f"{h2} Watched, used ({len(watch)})",
                "",
                "One piece of evidence only: used, but worth a look.",
                "",
                "| column | evidence | AUC alone | missing (pos / neg) | used |",
                "| --- | --- | --- | --- | --- |",
            ]
            lines += [_row(c) for c in watch]
            lines.append("")
        if self.metrics_all_columns is not None and self.metrics_as_trained is not None:
            lines += [f"{h2} Trade-off", "", self.evaluation, ""]
            names = list(self.metrics_as_trained)
            lines += [
                "| model | " + " | ".join(_METRIC_LABELS.get(n, n) for n in names) + " |",
                "| --- |" + " --- |" * len(names),
                "| every column, flagged ones included | "
                + " | ".join(f"{self.metrics_all_columns.get(n, float('nan')):.4f}" for n in names)
                + " |",
                "| as trained | "
                + " | ".join(f"{self.metrics_as_trained[n]:.4f}" for n in names)
                + " |",
                "",
                "The first row is what a leaky model would claim; it would not hold up on new "
                "leads, whose sales-filled fields are still empty when they must be scored.",
                "",
            ]
        lines += [f"{h2} Every column", "", "| column | kind | AUC alone | verdict |"]
        lines += ["| --- | --- | --- | --- |"]
        lines += [
            f"| `{c.column}` | {c.kind} | {c.auc:.3f} | {c.verdict} |"
            for c in sorted(self.columns, key=lambda c: -c.auc)
        ]
        return "\n".join(lines) + "\n"

    def _dominance_lines(self, h2: str) -> list[str]:
        d = self.dominance
        if d.suspect:
            finding = f"**{SUSPECT}**; " + (
                f"kept by `{KEEP_OPTION}`."
                if d.column in self.used_columns
                else "left out of the served model."
            )
        else:
            finding = (
                f"the model is little better than without it or than it alone (AUC "
                f"{d.alone_auc:.3f}): not a quiet leak, kept."
            )
        return [
            f"{h2} Dominance check",
            "",
            f"The first model took {d.share:.0%} of its gain from `{d.column}`, "
            f"{d.share / max(d.next_share, 1e-12):.1f}x the next column (`{d.next_column}`, "
            f"{d.next_share:.0%}): {finding} {d.evaluation}",
            "",
            "| model | " + " | ".join(COMPARED.values()) + " |",
            "| --- |" + " --- |" * len(COMPARED),
            f"| with `{d.column}` | "
            + " | ".join(f"{d.with_column[k]:.4f}" for k in COMPARED)
            + " |",
            f"| without `{d.column}` | "
            + " | ".join(f"{d.without_column[k]:.4f}" for k in COMPARED)
            + " |",
            "",
        ]


_METRIC_LABELS = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "ece": "ECE",
}


def _row(c: ColumnEvidence) -> str:
    used = f"yes (kept by `{KEEP_OPTION}`)" if c.kept else ("yes" if c.used else "no")
    return (
        f"| `{c.column}` | {'; '.join(c.reasons)} | {c.auc:.3f} | "
        f"{c.missing_positive:.0%} / {c.missing_negative:.0%} | {used} |"
    )


def name_words(column: str, meanings: Mapping[str, str] = NAME_MEANINGS) -> dict[str, str]:
    """Suspicious words in a column name, with what each suggests ("Lead Quality" -> quality)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", column)
    words = re.split(r"[^a-z0-9]+", spaced.lower())
    found: dict[str, str] = {}
    for word in words:
        for key, meaning in meanings.items():
            if word == key or (key.endswith("*") and word.startswith(key[:-1])):
                found[word] = meaning
    return found


class LeakageError(ValueError):
    """A feature that cannot be left out on its own looks leaky; the message says what to do."""


def audit_training_set(
    frame: pd.DataFrame, pipeline: FeaturePipeline, config: AuditConfig
) -> LeakageAudit:
    """Audit the features of a training set (lead_id, label and the pipeline's features).

    Behaviour features count as point in time; when leads have several rows, one lead's rows
    share a fold. A flagged behaviour feature cannot be left out alone (one kernel computes
    them all), so it stops training unless kept.
    """
    ids = frame[LEAD_ID]
    audit = audit_columns(
        frame[list(pipeline.feature_names)],
        frame[LABEL].to_numpy(),
        config=config,
        point_in_time=pipeline.behaviour_names,
        groups=ids.to_numpy() if ids.duplicated().any() else None,
    )
    stuck = [c for c in audit.flagged if c.point_in_time and not c.kept]
    if stuck:
        evidence = "; ".join(f"{c.column}: {', '.join(c.reasons)}" for c in stuck)
        raise LeakageError(
            f"behaviour features look leaky ({evidence}). Events recorded at or after the "
            "outcome (e.g. logged when the deal closed) would explain it: check the events' "
            f'timestamps, or train anyway with {KEEP_OPTION} "{stuck[0].column}".'
        )
    return audit


def audit_columns(
    features: pd.DataFrame,
    label: np.ndarray | pd.Series,
    *,
    config: AuditConfig | None = None,
    point_in_time: Collection[str] = (),
    groups: np.ndarray | pd.Series | None = None,
) -> LeakageAudit:
    """Audit every column of `features` against the binary `label`.

    `point_in_time` names columns computed from events strictly before each row's cut-off;
    `groups` (e.g. lead ids) keeps all rows of one lead in one fold of the out-of-fold rates.
    """
    config = config or AuditConfig()
    y = np.asarray(label, dtype=np.int8)
    if len(np.unique(y)) != 2:
        raise ValueError("the audit needs both classes in the label: check the target column")
    unknown = sorted(set(config.keep) - set(features.columns))
    if unknown:
        raise ValueError(
            f"{KEEP_OPTION} names columns that are not features: {unknown}; "
            f"features are {sorted(features.columns)}"
        )
    rows = _sample(len(y), config.max_rows, config.seed)
    frame = features.iloc[rows]
    y = y[rows]
    group_values = None if groups is None else np.asarray(groups)[rows]
    folds = _folds(y, group_values, config.folds, config.seed)
    meanings = NAME_MEANINGS | config.extra_name_words
    columns = tuple(
        _audit_one(
            name,
            frame[name],
            y,
            folds,
            config,
            meanings=meanings,
            point_in_time=name in point_in_time,
        )
        for name in frame.columns
    )
    return LeakageAudit(
        rule=RULE.format(c=config),
        rows=len(y),
        positives=int(y.sum()),
        columns=columns,
    )


RULE = (
    "points per column, flagged at >= {c.flag_points}: name suggests a later stage or a "
    "sales-filled field 2; AUC alone >= {c.separation_auc} (almost separates the classes) 3; "
    "AUC alone >= {c.strong_auc} 1; missing rates differ by class by >= {c.missing_gap:.0%} 1; "
    ">= {c.certain_share:.0%} of positives in values that are >= {c.certain_rate:.0%} positive 1; "
    "filled rows >= {c.certain_rate:.0%} converted (" + FILLED_FOR_CONVERTED + ") 2, free-text "
    "columns too. Columns computed point in time from events count only the separation rule. "
    "Dominance: the model's top column by gain, with >= {c.dominant_share:.0%} of it and "
    ">= {c.dominant_ratio:g}x the next column's share and not computed point in time, is "
    "suspect when the model with it beats by >= {c.dominant_auc_loss} ROC AUC both the model "
    "without it and the column alone (cross-validated, or on the calibration slice of a time "
    "split)."
)


def _audit_one(
    name: str,
    column: pd.Series,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    config: AuditConfig,
    *,
    meanings: Mapping[str, str],
    point_in_time: bool,
) -> ColumnEvidence:
    numeric = pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)
    missing = column.isna().to_numpy()
    codes, labels = _value_codes(column, numeric)
    auc = _oof_rate_auc(codes, y, folds)
    if numeric:
        auc = max(auc, _rank_auc(column.to_numpy(dtype=np.float64), y))
    miss_pos, miss_neg = float(missing[y == 1].mean()), float(missing[y == 0].mean())
    certain, certain_values = _certain_share(codes, labels, y, config)
    words = {} if point_in_time else name_words(name, meanings)
    converted_only = None if point_in_time else _filled_for_converted(missing, y, config)

    points, reasons = 0, []
    if words:
        points += 2
        reasons.append("name: " + ", ".join(f"'{w}' ({m})" for w, m in words.items()))
    if auc >= config.separation_auc:
        points += 3
        reasons.append(f"almost separates the classes alone (AUC {auc:.3f})")
    elif auc >= config.strong_auc and not point_in_time:
        points += 1
        reasons.append(f"strong alone (AUC {auc:.3f})")
    if abs(miss_pos - miss_neg) >= config.missing_gap and not point_in_time:
        points += 1
        reasons.append(f"missing for {miss_pos:.0%} of positives but {miss_neg:.0%} of negatives")
    if certain >= config.certain_share and not point_in_time:
        points += 1
        shown = ", ".join(repr(v) for v in certain_values[:3])
        reasons.append(
            f"{certain:.0%} of positives have values that almost always convert ({shown})"
        )
    if converted_only:
        points += 2
        reasons.append(converted_only)
    verdict: Verdict = "flagged" if points >= config.flag_points else "watch" if points else "ok"
    return ColumnEvidence(
        column=name,
        kind="numeric" if numeric else "categorical",
        point_in_time=point_in_time,
        auc=round(auc, 4),
        missing_positive=round(miss_pos, 4),
        missing_negative=round(miss_neg, 4),
        certain_share=round(certain, 4),
        certain_values=certain_values,
        name_words=tuple(words),
        points=points,
        reasons=tuple(reasons),
        verdict=verdict,
        kept=verdict == "flagged" and name in config.keep,
    )


def audit_set_aside(
    texts: pd.DataFrame,
    label: np.ndarray | pd.Series,
    *,
    missing_values: Collection[str],
    config: AuditConfig | None = None,
) -> tuple[ColumnEvidence, ...]:
    """The columns of `texts` (set aside as free text) that are filled only for converted rows.

    Free text never enters the model, but an opportunity id or a deal number filled only once
    a lead converted says the export was taken after the outcome: the user should know which
    other fields were written then too. `missing_values` are the lower-case placeholders.
    """
    config = config or AuditConfig()
    y = np.asarray(label, dtype=np.int8)
    flagged = []
    for name in texts.columns:
        text = texts[name].fillna("").astype(str).str.strip().str.lower()
        missing = ((text == "") | text.isin(missing_values)).to_numpy()
        reason = _filled_for_converted(missing, y, config)
        if reason is None:
            continue
        flagged.append(
            ColumnEvidence(
                column=name,
                kind="text",
                # The AUC of "is filled", the only use a model could make of an identifier.
                auc=round(max(0.5, _auc(y, (~missing).astype(np.float64))), 4),
                missing_positive=round(float(missing[y == 1].mean()), 4),
                missing_negative=round(float(missing[y == 0].mean()), 4),
                certain_share=0.0,
                points=2,
                reasons=(reason,),
                verdict="flagged",
            )
        )
    return tuple(flagged)


def _filled_for_converted(missing: np.ndarray, y: np.ndarray, config: AuditConfig) -> str | None:
    """The reason to flag a column whose filled rows (enough of them) almost all converted."""
    filled = ~missing
    rows = int(filled.sum())
    # Filled everywhere, it says nothing about when it was filled.
    if rows < config.min_value_rows or not missing.any():
        return None
    rate = float(y[filled].mean())
    if rate < config.certain_rate:
        return None
    return (
        f"{FILLED_FOR_CONVERTED}: {rate:.0%} of its {rows:,} filled rows converted, and it is "
        f"filled for {filled[y == 1].mean():.0%} of converted leads"
    )


def _sample(n: int, max_rows: int, seed: int) -> np.ndarray:
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def _folds(
    y: np.ndarray, groups: np.ndarray | None, k: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    if groups is None:
        # Imported here: scikit-learn takes a second to load, and the CLI imports this
        # module for KEEP_OPTION at start-up.
        from sklearn.model_selection import StratifiedKFold

        k = max(2, min(k, int(np.bincount(y).min())))
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    # Whole groups to random folds (scikit-learn's shuffled GroupKFold takes minutes on
    # millions of string ids).
    codes, uniques = pd.factorize(groups)
    fold = (np.random.default_rng(seed).permutation(len(uniques)) % k)[codes]
    return [(np.flatnonzero(fold != i), np.flatnonzero(fold == i)) for i in range(k)]


_N_BINS = 20


def _value_codes(column: pd.Series, numeric: bool) -> tuple[np.ndarray, list[str]]:
    """Integer code per row (a category or a quantile bin; missing = its own code) and labels."""
    if numeric:
        values = column.to_numpy(dtype=np.float64)
        present = ~np.isnan(values)
        if not present.any():
            return np.zeros(len(values), dtype=np.int64), ["missing"]
        edges = np.unique(np.quantile(values[present], np.linspace(0, 1, _N_BINS + 1)[1:-1]))
        codes = np.where(present, np.searchsorted(edges, values, side="right"), len(edges) + 1)
        bounds = [-np.inf, *edges, np.inf]
        labels = [f"[{bounds[i]:g}, {bounds[i + 1]:g})" for i in range(len(edges) + 1)]
        return codes.astype(np.int64), [*labels, "missing"]
    codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
    codes = np.where(codes < 0, len(uniques), codes)
    return codes.astype(np.int64), [*map(str, uniques), "missing"]


def _oof_rate_auc(
    codes: np.ndarray, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
) -> float:
    """AUC of each row's value's target rate, learned on the other folds (smoothed to the prior)."""
    n_codes = int(codes.max()) + 1
    oof = np.empty(len(y), dtype=np.float64)
    smoothing = 10.0
    for train, test in folds:
        prior = y[train].mean()
        pos = np.bincount(codes[train], weights=y[train], minlength=n_codes)
        count = np.bincount(codes[train], minlength=n_codes)
        rate = (pos + smoothing * prior) / (count + smoothing)
        oof[test] = rate[codes[test]]
    return max(0.5, _auc(y, oof))


def _rank_auc(values: np.ndarray, y: np.ndarray) -> float:
    """AUC of the raw values on the rows where they are present, folded to >= 0.5."""
    present = ~np.isnan(values)
    if len(np.unique(y[present])) < 2:
        return 0.5
    auc = _auc(y[present], values[present])
    return max(auc, 1.0 - auc)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half): a few times faster than
    scikit-learn's, which matters for a hundred columns of a million rows."""
    ranks = pd.Series(score).rank(method="average").to_numpy()
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _certain_share(
    codes: np.ndarray, labels: list[str], y: np.ndarray, config: AuditConfig
) -> tuple[float, tuple[str, ...]]:
    """Share of positives in values that are almost always positive, and those values."""
    count = np.bincount(codes, minlength=len(labels))
    pos = np.bincount(codes, weights=y, minlength=len(labels))
    rate = np.divide(pos, count, out=np.zeros(len(count)), where=count > 0)
    certain = (count >= config.min_value_rows) & (rate >= config.certain_rate)
    order = np.argsort(-pos * certain)
    values = tuple(labels[i] for i in order if certain[i])
    return float(pos[certain].sum() / max(y.sum(), 1)), values
