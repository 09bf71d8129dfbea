"""Report figures: ROC, precision-recall, reliability diagram, gain and lift charts, conversion
by score bucket, feature importance.

Figures are built as `matplotlib.figure.Figure` objects (no pyplot state), so they work
headless and can be saved, logged or shown by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from training.evaluate import ReliabilityBin
from training.fit import FeatureImportance

# What the rows of a figure are: the test slice (nothing was fitted on it), or out-of-fold
# scores of a cross-validated model.
TEST_SLICE = "test slice"
OUT_OF_FOLD = "out of fold"


def roc_figure(y: np.ndarray, scores: Mapping[str, np.ndarray], rows: str = TEST_SLICE) -> Figure:
    """ROC curve of each method on the same rows (`rows` says which, in the title)."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    for method, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=f"{method} (AUC {roc_auc_score(y, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {rows}")
    ax.legend(loc="lower right")
    return fig


def pr_figure(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Precision (share of flagged leads that convert) against recall (share of deals flagged)."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    for method, score in scores.items():
        precision, recall, _ = precision_recall_curve(y, score)
        ax.plot(
            recall, precision, label=f"{method} (PR AUC {average_precision_score(y, score):.3f})"
        )
    ax.axhline(np.mean(y), color="grey", linestyle=":", linewidth=1, label="random")
    ax.set(
        xlabel="recall: share of all deals among the leads flagged",
        ylabel="precision: share of flagged leads that convert",
        title="Precision vs recall, test slice",
    )
    ax.legend(loc="upper right")
    return fig


def reliability_figure(table: list[ReliabilityBin], ece: float, rows: str = TEST_SLICE) -> Figure:
    """Mean predicted vs observed conversion rate per equal-count bin."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    predicted = [b.mean_probability for b in table]
    observed = [b.observed_rate for b in table]
    top = max(max(predicted), max(observed)) * 1.05 or 1.0
    ax.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="perfect")
    ax.plot(predicted, observed, marker="o", label=f"model (ECE {ece:.4f})")
    ax.set(
        xlabel="mean predicted probability",
        ylabel="observed conversion rate",
        title=f"Reliability, {rows} (equal-count bins)",
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left")
    return fig


def gain_figure(y: np.ndarray, scores: Mapping[str, np.ndarray], rows: str = TEST_SLICE) -> Figure:
    """Share of all deals captured when contacting the top x% of leads by each score."""
    y = np.asarray(y, dtype=np.float64)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    share = np.arange(1, len(y) + 1) / len(y)
    for method, score in scores.items():
        ax.plot(share, np.cumsum(y[_best_first(score)]) / y.sum(), label=method)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random")
    ax.set(
        xlabel="share of leads contacted (best score first)",
        ylabel="share of deals captured",
        title=f"Gain chart, {rows}",
    )
    ax.legend(loc="lower right")
    return fig


def lift_figure(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """How many times the average conversion rate the top x% of leads by each score reach."""
    y = np.asarray(y, dtype=np.float64)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    called = np.arange(1, len(y) + 1)
    # From the top 1% on: the first handful of leads make a lift curve jump about.
    start = max(int(np.ceil(0.01 * len(y))) - 1, 0)
    for method, score in scores.items():
        lift = np.cumsum(y[_best_first(score)]) / called / y.mean()
        ax.plot(called[start:] / len(y), lift[start:], label=method)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1, label="random (lift 1)")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set(
        xlabel="share of leads contacted (best score first)",
        ylabel="lift: conversion rate / average conversion rate",
        title="Lift chart, test slice",
    )
    ax.legend(loc="upper right")
    return fig


def bucket_figure(conversion: Mapping[str, np.ndarray]) -> Figure:
    """Grouped bars: conversion rate per tenth of the leads (1 = best) by each method."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    width = 0.8 / max(len(conversion), 1)
    for k, (method, rates) in enumerate(conversion.items()):
        buckets = np.arange(1, len(rates) + 1)
        ax.bar(buckets + (k - (len(conversion) - 1) / 2) * width, rates, width, label=method)
    ax.set(
        xlabel="tenth of leads by score (1 = the best-scored 10%)",
        ylabel="conversion rate",
        title="Conversion rate by score bucket, test slice",
        xticks=np.arange(1, 11),
    )
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.legend(loc="upper right")
    return fig


def importance_figure(importance: list[FeatureImportance]) -> Figure:
    """Horizontal bars of each feature's share of total split gain."""
    fig = Figure(figsize=(7, max(3.0, 0.3 * len(importance) + 1)))
    ax = fig.add_subplot()
    names = [f.feature for f in importance][::-1]
    ax.barh(names, [f.share for f in importance][::-1])
    ax.set(xlabel="share of total split gain", title="Feature importance")
    fig.tight_layout()
    return fig


def report_figures(
    y: np.ndarray,
    scores: Mapping[str, np.ndarray],
    reliability: list[ReliabilityBin],
    ece: float,
    importance: list[FeatureImportance],
    rows: str = TEST_SLICE,
) -> dict[str, Figure]:
    """The training report's figures: ROC, reliability, gain and feature importance."""
    return {
        "roc": roc_figure(y, scores, rows),
        "reliability": reliability_figure(reliability, ece, rows),
        "gain": gain_figure(y, scores, rows),
        "feature_importance": importance_figure(importance),
    }


def save_figures(figures: Mapping[str, Figure], out_dir: Path) -> list[Path]:
    """Each figure as `<name>.png` in `out_dir` (created if missing); the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in figures.items():
        path = out_dir / f"{name}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        paths.append(path)
    return paths


def _best_first(score: np.ndarray) -> np.ndarray:
    """Row order by score, best first; ties in a fixed random order, not by row order."""
    shuffled = np.random.default_rng(0).permutation(len(score))
    return shuffled[np.argsort(-np.asarray(score)[shuffled], kind="stable")]
