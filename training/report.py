"""The training report: what was trained on what, and how it measured on untouched data."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol

from matplotlib.figure import Figure
from pydantic import BaseModel

from training.audit.leakage import LeakageAudit
from training.backtest import MODEL, POINTS, Backtest, CurvePoint, curve_markdown
from training.calibrate import CalibrationFit
from training.evaluate import DecileRow, Metrics, ReliabilityBin
from training.fit import FeatureImportance, FitResult
from training.method_comparison import MethodRow
from training.split import SliceSummary, SplitSummary
from training.tiers import TierRow
from training.tune import TuneSummary
from training.warm_start import WarmStart

ORACLE = "oracle"
# Short names for metric keys (e.g. `points_roc_auc`).
METHOD_KEYS = {MODEL: "model", POINTS: "points", ORACLE: "oracle"}


class ServedSummary(BaseModel):
    """What the served model learned from: the procedure refitted on every labelled row."""

    rows: int
    leads: int
    positives: int
    first_cutoff: datetime
    last_cutoff: datetime
    held_out_rows: int
    held_out_positives: int
    trees: int
    early_stopping_trees: int
    warm_start: WarmStart
    half_life_days: float | None = None
    calibrator: str

    def markdown(self) -> str:
        return (
            f"The served model is the same procedure fitted on **every labelled row**: "
            f"{self.rows:,} rows of {self.leads:,} leads ({self.positives:,} conversions), "
            f"cut-offs {self.first_cutoff:%Y-%m-%d} to {self.last_cutoff:%Y-%m-%d}, test slice "
            f"included. Warm start `{self.warm_start}`, "
            + (
                f"rows weighted by recency (half-life {self.half_life_days:g} days)"
                if self.half_life_days
                else "rows weighted alike"
            )
            + f"; early stopping on the latest "
            f"{self.held_out_rows:,} rows ({self.held_out_positives:,} conversions) chose "
            f"{self.early_stopping_trees} trees, refitted on all rows as {self.trees}; "
            f"{self.calibrator} calibrator and tier thresholds fitted on those held-out rows' "
            "out-of-time scores. No rows are left to test it on: the test slice and the "
            "backtest measure the procedure that made it, fitted on less."
        )


class TrainReport(BaseModel):
    """Everything measured while training one model; JSON via `model_dump_json`."""

    name: str
    target: str
    horizon_days: float
    trained_at: datetime
    code_version: str
    data_fingerprint: str
    split: SplitSummary
    fit: FitResult
    refit_train_slice: bool = False
    tuning: TuneSummary | None = None
    calibration: CalibrationFit
    calibration_metrics: Metrics
    test: Metrics
    reliability: list[ReliabilityBin]
    deciles: list[DecileRow]
    tier_policy: dict[str, str]
    tiers_calibration: list[TierRow]
    tiers_test: list[TierRow]
    points_tiers_test: list[TierRow] | None = None
    comparison: list[MethodRow]
    comparison_notes: list[str] = []
    feature_importance: list[FeatureImportance]
    audit: LeakageAudit | None = None
    backtest: Backtest | None = None
    learning_curve: list[CurvePoint] = []
    served: ServedSummary | None = None
    warnings: list[str] = []

    @property
    def sql_share(self) -> float:
        """Share of test rows in the best tier: the volume methods are compared at."""
        return self.tiers_test[0].share_of_leads

    def headline(self) -> str:
        """Model vs hand-weighted vs oracle on the test slice, as a Markdown table."""
        methods = [row.method for row in self.comparison]
        by = {row.method: row for row in self.comparison}
        lines = [
            "| test slice | " + " | ".join(methods) + " |",
            "| --- |" + " ---: |" * len(methods),
        ]
        for label, field in (
            ("ROC AUC", "roc_auc"),
            ("PR AUC", "pr_auc"),
            ("lift, top 5%", "lift_top_5pct"),
            ("lift, top 10%", "lift_top_10pct"),
        ):
            lines.append(
                f"| {label} | " + " | ".join(f"{getattr(by[m], field):.3f}" for m in methods) + " |"
            )
        lines.append(
            f"| deals in SQL tier at equal volume ({self.sql_share:.1%} of leads) | "
            + " | ".join(f"{by[m].deals_captured_at_sql_volume:.1%}" for m in methods)
            + " |"
        )
        ece = [f"{self.test.ece:.4f}" if m == MODEL else "–" for m in methods]
        lines.append("| calibration error (ECE, 10 equal-count bins) | " + " | ".join(ece) + " |")
        return "\n".join(lines)

    def markdown(self) -> str:
        t, s = self.test, self.split
        lines = [
            f"# Model `{self.name}`",
            "",
            f"- target: `{self.target}` within {self.horizon_days:g} days after the cut-off",
            f"- trained {self.trained_at:%Y-%m-%d %H:%M} UTC with code `{self.code_version}` "
            f"on training rows `{self.data_fingerprint}`",
            "",
            f"## Headline: test slice ({t.rows:,} rows, {t.positives:,} conversions, "
            f"base rate {t.base_rate:.2%}, cut-offs {_window(s.test)})",
            "",
            "Nothing was fitted or chosen on these rows. The learned model here is the training "
            "procedure fitted on every row labelled before the test slice, measured after a "
            "save/load round trip of its packaged artifact.",
            "",
            self.headline(),
            "",
            *[f"- {note}" for note in self.comparison_notes],
            "",
            *(["## The served model", "", self.served.markdown(), ""] if self.served else []),
            *(
                [
                    "## Backtest (rolling origin)",
                    "",
                    "The procedure fitted on every row labelled by each origin, tested on the "
                    "leads first cut off in the block after it; the last origin is the test "
                    "slice above.",
                    "",
                    self.backtest.markdown(),
                ]
                if self.backtest
                else []
            ),
            *(
                [
                    "## Learning curve",
                    "",
                    "The procedure at the test slice's origin, learned from a random share of "
                    "the leads as if the team had only that many, always tested on the whole "
                    "test slice.",
                    "",
                    curve_markdown(self.learning_curve),
                ]
                if self.learning_curve
                else []
            ),
            "## Calibration",
            "",
            f"Calibrator: **{self.calibration.calibrator.kind}**, chosen by log loss "
            f"cross-fitted over {self.calibration.folds} lead-grouped folds of the held-out "
            "latest leads' out-of-time scores: "
            + ", ".join(f"{k} {v:.4f}" for k, v in self.calibration.cv_log_loss.items())
            + ".",
            "",
            "| test slice | value |",
            "| --- | ---: |",
            f"| log loss, raw booster (class-weighted) | {t.raw_log_loss:.4f} |",
            f"| log loss, calibrated | {t.log_loss:.4f} |",
            f"| Brier score | {t.brier:.4f} |",
            f"| expected calibration error | {t.ece:.4f} |",
            f"| ROC AUC / PR AUC | {t.roc_auc:.3f} / {t.pr_auc:.3f} |",
            "",
            "Expected calibration error (ECE): the test rows sorted by probability are cut into "
            "10 bins of equal count; ECE is the row-weighted mean of |mean predicted "
            "probability − observed conversion rate| over the bins.",
            "",
            "Reliability (test slice, equal-count bins):",
            "",
            *reliability_lines(self.reliability),
            "",
            "## Tiers",
            "",
            "Thresholds were chosen on the held-out latest leads from these rules:",
            "",
            *policy_lines(self.tier_policy),
            "",
            tier_table_markdown("Test slice", self.tiers_test),
            "",
            tier_table_markdown(
                "Held-out latest leads (where the thresholds were chosen)", self.tiers_calibration
            ),
            "",
            *(
                [
                    tier_table_markdown(
                        "Hand-weighted points with their own thresholds, test slice",
                        self.points_tiers_test,
                        threshold_label="points at least",
                        digits=0,
                    ),
                    "",
                ]
                if self.points_tiers_test
                else []
            ),
            "## Lift by score decile (test slice)",
            "",
            *decile_lines(self.deciles),
            "",
            "## Time split",
            "",
            f"Each lead sits, with all its rows, in the slice of its first cut-off. Rows whose "
            f"{s.horizon_days:g}-day label window reaches past the next slice's start are purged: "
            f"{s.purged_train_rows:,} train rows and {s.purged_calibration_rows:,} calibration "
            "rows. That is the price of honest numbers: without the gaps the model and the "
            "calibrator would learn from outcomes that happen during the time they are later "
            "measured on.",
            "",
            "| slice | rows | leads | conversions | cut-offs |",
            "| --- | ---: | ---: | ---: | --- |",
            *[
                f"| {name} | {part.rows:,} | {part.leads:,} | {part.positives:,} | "
                f"{_window(part)} |"
                for name, part in (
                    ("train (fit)", s.train),
                    ("train (early stopping)", s.valid),
                    ("calibration", s.calibration),
                    ("test", s.test),
                )
            ],
            "",
            "## Booster",
            "",
            f"- {self.fit.best_iteration} trees, chosen by early stopping on the latest "
            f"leads labelled before the test slice (validation AUC {self.fit.valid_auc:.3f})"
            + (
                "; then refitted on all those rows, the tree count scaled by their number"
                if self.refit_train_slice
                else ""
            )
            + f"; positives weighted ×{self.fit.scale_pos_weight:.1f}",
            parameters_line(self.fit),
        ]
        if self.tuning:
            lines.append(
                f"- tuned over {self.tuning.trials} trials: validation AUC "
                f"{self.tuning.default_valid_auc:.4f} (defaults) -> "
                f"{self.tuning.best_valid_auc:.4f}"
            )
        lines += [
            "",
            "## Feature importance (share of total split gain)",
            "",
            *importance_lines(self.feature_importance),
        ]
        if self.audit is not None:
            lines += ["", self.audit.markdown(level=2)]
        if self.warnings:
            lines += ["", "## Warnings", "", *[f"- {w}" for w in self.warnings]]
        return "\n".join(lines) + "\n"


def _window(part: SliceSummary) -> str:
    if part.first_cutoff is None or part.last_cutoff is None:
        return "–"
    return f"{part.first_cutoff:%Y-%m-%d} to {part.last_cutoff:%Y-%m-%d}"


def tier_table_markdown(
    title: str, rows: list[TierRow], threshold_label: str = "probability above", digits: int = 4
) -> str:
    """A titled markdown table of tiers: threshold, volume, conversion and deals captured."""
    lines = [
        f"{title}:",
        "",
        f"| tier | {threshold_label} | share of leads | mean weekly share | conversion rate "
        "| share of all deals |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        threshold = "–" if r.threshold is None else f"{r.threshold:.{digits}f}"
        weekly = "–" if r.mean_weekly_share is None else f"{r.mean_weekly_share:.1%}"
        rate = "–" if r.conversion_rate is None else f"{r.conversion_rate:.2%}"
        lines.append(
            f"| {r.tier} | {threshold} | {r.share_of_leads:.1%} | {weekly} | {rate} | "
            f"{r.share_of_deals:.1%} |"
        )
    return "\n".join(lines)


def reliability_lines(bins: list[ReliabilityBin]) -> list[str]:
    """Markdown table of equal-count reliability bins: predicted against observed."""
    return [
        "| bin | rows | probability range | mean predicted | observed |",
        "| ---: | ---: | --- | ---: | ---: |",
        *[
            f"| {i} | {b.rows:,} | {b.min_probability:.3f}–{b.max_probability:.3f} | "
            f"{b.mean_probability:.3f} | {b.observed_rate:.3f} |"
            for i, b in enumerate(bins, start=1)
        ],
    ]


def decile_lines(deciles: list[DecileRow]) -> list[str]:
    """Markdown table of conversion and lift by score decile."""
    return [
        "| decile | rows | lowest probability | conversion rate | lift | deals so far |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        *[
            f"| {d.decile} | {d.rows:,} | {d.min_probability:.3f} | {d.conversion_rate:.2%} | "
            f"{d.lift:.2f} | {d.cumulative_share_of_deals:.1%} |"
            for d in deciles
        ],
    ]


def importance_lines(importance: list[FeatureImportance]) -> list[str]:
    """Markdown table of each feature's share of split gain."""
    return [
        "| feature | share of gain |",
        "| --- | ---: |",
        *[f"| `{f.feature}` | {f.share:.1%} |" for f in importance],
    ]


def policy_lines(policy: dict[str, str]) -> list[str]:
    """The tier rules as the user stated them, one bullet each."""
    return [f"- `{name}`: {text}" for name, text in policy.items()]


def parameters_line(fit: FitResult) -> str:
    """The booster's parameters in one bullet (the monotone constraints are too long to list)."""
    return "- parameters: " + ", ".join(
        f"`{k}={v}`" for k, v in fit.params.items() if k != "monotone_constraints"
    )


class Report(Protocol):
    """A training report: JSON for machines, markdown for people."""

    def model_dump_json(self, *, indent: int | None = None) -> str: ...

    def markdown(self) -> str: ...


def write_report(out_dir: Path, report: Report, figures: dict[str, Figure]) -> Path:
    """report.json, report.md and one PNG per figure into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(report.model_dump_json(indent=2))
    (out_dir / "report.md").write_text(report.markdown())
    for name, figure in figures.items():
        figure.savefig(out_dir / f"{name}.png", dpi=110, bbox_inches="tight")
    return out_dir
