"""Figures of the learned-vs-points analysis, readable by someone who is not a data scientist.

Every figure says in its title what it shows and in its axis labels what the numbers mean.
Effects are shown as odds multipliers ("×2 = twice the odds of buying"), on a log scale so
that ×2 and ×0.5 are the same distance from "no effect".
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from training.analysis.drivers import NEVER

_UP, _DOWN, _NEUTRAL = "tab:green", "tab:red", "tab:grey"


def equal_volume_figure(table: pd.DataFrame) -> Figure:
    """Grouped bars: deals each method finds when sales get the same number of leads."""
    methods = [c.removeprefix("deals caught: ") for c in table if c.startswith("deals caught: ")]
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    x = np.arange(len(table))
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        bars = ax.bar(
            x + (k - (len(methods) - 1) / 2) * width,
            table[f"deals caught: {method}"],
            width,
            label=method,
        )
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.margins(y=0.2)  # room for the legend above the tallest bars
    labels = [
        textwrap.fill(f"{volume} ({n:,} leads)", 14)
        for volume, n in zip(table["volume"], table["leads handed to sales"], strict=True)
    ]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set(
        ylabel="deals among the leads handed to sales",
        title="Deals found at the same sales effort (test slice)",
    )
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def cross_table_figure(cross: pd.DataFrame) -> Figure:
    """Heat map of learned tier against points tier: leads and conversion rate per cell."""
    rates = cross.pivot(index="learned tier", columns="points tier", values="conversion_rate")
    leads = cross.pivot(index="learned tier", columns="points tier", values="leads")
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    image = ax.imshow(rates.to_numpy(dtype=float), cmap="Blues", vmin=0)
    for i in range(rates.shape[0]):
        for j in range(rates.shape[1]):
            n, rate = leads.iat[i, j], rates.iat[i, j]
            text = f"{n:,} leads" + ("" if pd.isna(rate) else f"\n{rate:.1%} convert")
            ax.text(j, i, text, ha="center", va="center", fontsize=8)
    ax.set_xticks(range(rates.shape[1]), [str(c) for c in rates.columns])
    ax.set_yticks(range(rates.shape[0]), [str(r) for r in rates.index])
    ax.set(
        xlabel="tier from hand-weighted points",
        ylabel="tier from the learned model",
        title="Where the two tierings agree (test slice)",
    )
    fig.colorbar(image, ax=ax, label="conversion rate", format=lambda v, _: f"{v:.0%}")
    fig.tight_layout()
    return fig


def _odds_bars(ax, labels: list[str], multipliers: np.ndarray) -> None:
    """Horizontal bars from ×1 to each multiplier, green up, red down, log scale."""
    multipliers = np.asarray(multipliers, dtype=float)
    colors = [_UP if m > 1 else _DOWN if m < 1 else _NEUTRAL for m in multipliers]
    ax.barh(labels, multipliers - 1, left=1, color=colors)
    ax.axvline(1, color="black", linewidth=0.8)
    ax.set_xscale("log")
    low, high = float(np.min(multipliers, initial=1)), float(np.max(multipliers, initial=1))
    ax.set_xlim(min(low, 1 / 1.2) / 1.2, max(high, 1.2) * 1.2)
    _odds_axis(ax.xaxis, low, high)
    ax.invert_yaxis()


def _odds_axis(axis: Axis, low: float, high: float) -> None:
    """Ticks at ×1/4, ×1/2, ×1, ×2, ×4, ... on a log axis, labelled as multipliers."""
    powers = np.arange(np.floor(np.log2(min(low, 1.0))), np.ceil(np.log2(max(high, 1.0))) + 1)
    axis.set_major_locator(FixedLocator(2.0**powers))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"×{v:g}" if v >= 1 else f"×1/{1 / v:g}"))
    axis.set_minor_formatter(NullFormatter())


def drivers_figure(effects: pd.DataFrame, top: int = 15) -> Figure:
    """The strongest drivers by how much they typically move a lead's odds (either way)."""
    shown = effects.head(top)
    fig = Figure(figsize=(8, 0.35 * len(shown) + 1.5))
    ax = fig.add_subplot()
    typical = np.exp(shown["mean_abs_contribution"].to_numpy())
    ax.barh(list(shown["label"]), typical - 1, left=1, color="tab:blue")
    ax.set_xscale("log")
    ax.set_xlim(1, float(typical.max(initial=1.0)) * 1.1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"×{v:.2g}"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"×{v:.2g}"))
    ax.invert_yaxis()
    ax.set(
        xlabel="typical change in a lead's odds of buying (either way)",
        title=f"What moves the learned score most (top {len(shown)} drivers)",
    )
    fig.tight_layout()
    return fig


def actions_figure(summary: pd.DataFrame) -> Figure:
    """What each action is worth to the model: odds with the action vs without it."""
    fig = Figure(figsize=(8, 0.35 * len(summary) + 1.5))
    ax = fig.add_subplot()
    labels = [
        f"{label} ({share:.0%} of leads)"
        for label, share in zip(summary["label"], summary["share_of_leads"], strict=True)
    ]
    _odds_bars(ax, labels, summary["odds_multiplier"].to_numpy())
    ax.set(
        xlabel="odds of buying with the action vs without it (average over leads who did it)",
        title="What each action is worth to the learned model",
    )
    fig.tight_layout()
    return fig


def decay_figure(by_age: Mapping[str, pd.DataFrame]) -> Figure:
    """The effect of each action by how long ago the lead last did it."""
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.add_subplot()
    for action, table in by_age.items():
        done = table[table["age"] != NEVER]
        ax.plot(
            list(done["age"].astype(str)),
            done["odds_multiplier"],
            marker="o",
            label=action.replace("_", " "),
        )
    ax.axhline(1, color="black", linewidth=0.8, label="no effect")
    ax.set_yscale("log")
    multipliers = [m for t in by_age.values() for m in t["odds_multiplier"].dropna()]
    _odds_axis(ax.yaxis, min(multipliers, default=1.0), max(multipliers, default=1.0))
    ax.set(
        xlabel="days since the lead last did it",
        ylabel="odds of buying with the action vs without it",
        title="How fast an intent action loses its value",
    )
    ax.tick_params(axis="x", labelrotation=30)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def attribute_figure(table: pd.DataFrame, name: str) -> Figure:
    """The model's effect of each value of one fit attribute."""
    fig = Figure(figsize=(7, 0.35 * len(table) + 1.5))
    ax = fig.add_subplot()
    labels = [f"{v} ({n:,} leads)" for v, n in zip(table["value"], table["rows"], strict=True)]
    _odds_bars(ax, labels, table["odds_multiplier"].to_numpy())
    ax.set(
        xlabel="effect on the odds of buying vs the average lead",
        title=f"Fit: {name.replace('_', ' ')}",
    )
    fig.tight_layout()
    return fig


def rules_vs_model_figure(table: pd.DataFrame) -> Figure:
    """Points each rule gives vs the points the model's judgement is worth, per rule."""
    compared = table.dropna(subset=["model_equivalent_points"])
    fig = Figure(figsize=(8, 0.4 * len(compared) + 1.5))
    ax = fig.add_subplot()
    y = np.arange(len(compared))
    ax.barh(y - 0.2, compared["mean_points_given"], 0.4, label="points your rules give")
    ax.barh(
        y + 0.2, compared["model_equivalent_points"], 0.4, label="what the model says it is worth"
    )
    ax.set_yticks(y, [r.partition(":")[2].replace("_", " ") for r in compared["rule"]])
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set(
        xlabel="points (average over leads the rule gave points to)",
        title="Hand-weighted points vs the learned model, rule by rule",
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
