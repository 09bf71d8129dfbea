"""Report figures: ROC, reliability diagram, gain chart, feature importance.

Figures are built as `matplotlib.figure.Figure` objects (no pyplot state), so they work
headless and can be saved, logged or shown by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

from training.evaluate import ReliabilityBin
from training.fit import FeatureImportance


def roc_figure(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC curve of each method on the same rows."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    for method, score in scores.items():
        fpr, tpr, _ = roc_curve(y, score)
        ax.plot(fpr, tpr, label=f"{method} (AUC {roc_auc_score(y, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test slice")
    ax.legend(loc="lower right")
    return fig


def reliability_figure(table: list[ReliabilityBin], ece: float) -> Figure:
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
        title="Reliability, test slice (equal-count bins)",
        xlim=(0, top),
        ylim=(0, top),
    )
    ax.legend(loc="upper left")
    return fig


def gain_figure(y: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Share of all deals captured when contacting the top x% of leads by each score."""
    y = np.asarray(y, dtype=np.float64)
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    share = np.arange(1, len(y) + 1) / len(y)
    for method, score in scores.items():
        # Random order first, then a stable sort: ties are not ranked by row order.
        shuffled = np.random.default_rng(0).permutation(len(y))
        order = shuffled[np.argsort(-np.asarray(score)[shuffled], kind="stable")]
        ax.plot(share, np.cumsum(y[order]) / y.sum(), label=method)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="random")
    ax.set(
        xlabel="share of leads contacted (best score first)",
        ylabel="share of deals captured",
        title="Gain chart, test slice",
    )
    ax.legend(loc="lower right")
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
