"""What drives the model's scores: its own per-feature contributions, and what each action is worth.

Two views, both from the packaged model itself (no separate explainer):

- *Contributions* (`runtime.trees`): per row, how much each feature moved the log-odds away
  from the average lead. An analyst thinks in drivers, not ~100 features, so every feature
  about one event type (`n_demo_request_7d`, ..., `days_since_last_demo_request`) is summed
  under that event; any other feature is its own driver.
- *Action effects*: per row, how much lower the log-odds would be had the lead never done
  the action (the same lead, re-scored with that event type removed from its journey). This
  counts everything the action feeds, including shared features such as recency-weighted
  intent, so it is the fair measure of "what is a demo request worth" against a points rule.

An odds multiplier `exp(log-odds)` reads as "this made the lead's odds of buying 2.5 times
higher".
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.catalogue import by_name, of_event
from features.contract.schema import EVENT_CODE, EVENT_TYPES, LEAD_ID
from features.journeys import Journeys
from features.pipeline import FeaturePipeline
from runtime.model import ScoringModel

# Age bands (days since the lead last did an action) for the decay of its effect.
AGE_EDGES_DAYS = (0.0, 1.0, 3.0, 7.0, 14.0, 30.0, 60.0, 90.0, 180.0)
NEVER = "never"
MISSING = "(missing)"


def driver_of(feature: str) -> str:
    """The event type a behaviour feature counts or times; any other feature is its own driver."""
    behaviour = by_name(feature)
    return behaviour.driver if behaviour else feature


def driver_label(driver: str) -> str:
    """A driver in words: `demo_request` -> `demo request`, `decayed_intent_hl30d` ->
    `intent actions, recency-weighted (30-day half-life)`."""
    behaviour = by_name(driver)
    if behaviour and behaviour.kind == "decayed" and behaviour.half_life_days is not None:
        half_life = int(behaviour.half_life_days)
        return f"{behaviour.group} actions, recency-weighted ({half_life}-day half-life)"
    return driver.replace("_", " ")


def driver_contributions(contributions: pd.DataFrame) -> pd.DataFrame:
    """Per-row contributions summed by driver (columns in order of first feature)."""
    drivers = [driver_of(f) for f in contributions.columns]
    return contributions.T.groupby(drivers, sort=False).sum().T


def _numeric(features: pd.DataFrame, name: str) -> np.ndarray:
    """A feature as floats (NaN where missing or where the model lacks the feature)."""
    if name not in features:
        return np.full(len(features), np.nan)
    return pd.to_numeric(features[name], errors="coerce").to_numpy(dtype=float)


def global_effects(contributions: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """How much each driver moves scores on average, and in which direction, largest first.

    Columns: driver, label, mean_abs_contribution (log-odds), share (of all drivers' total)
    and `direction` in words: for a number, whether higher values raise or lower the score;
    for a category, its best and worst value by mean contribution.
    """
    by_driver = driver_contributions(contributions)
    strength = by_driver.abs().mean()
    table = pd.DataFrame(
        {
            "driver": by_driver.columns,
            "label": [driver_label(d) for d in by_driver.columns],
            "mean_abs_contribution": strength.to_numpy(),
            "share": (strength / strength.sum()).to_numpy(),
            "direction": [_direction(d, by_driver[d], features) for d in by_driver.columns],
        }
    )
    return table.sort_values("mean_abs_contribution", ascending=False, ignore_index=True)


def _direction(driver: str, contribution: pd.Series, features: pd.DataFrame) -> str:
    if contribution.std() == 0:
        return "no effect in these rows"
    if driver in EVENT_TYPES:
        total = of_event(driver, "count").name
        value = pd.Series(_numeric(features, total), index=contribution.index)
        return _numeric_direction(value, contribution, "more of it")
    column = features[driver]
    if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
        means = contribution.groupby(column.astype(object).fillna(MISSING).to_numpy()).mean()
        best, worst = means.idxmax(), means.idxmin()
        return (
            f"best: {best} (×{np.exp(means[best]):.2f}); "
            f"worst: {worst} (×{np.exp(means[worst]):.2f})"
        )
    return _numeric_direction(pd.to_numeric(column, errors="coerce"), contribution, "higher")


def _numeric_direction(value: pd.Series, contribution: pd.Series, more: str) -> str:
    known = value.notna()
    if value[known].nunique() < 2:
        return "no variation in these rows"
    rho = np.corrcoef(value[known].rank(), contribution[known].rank())[0, 1]
    return f"{more} raises the score" if rho > 0 else f"{more} lowers the score"


def without_event(journeys: Journeys, event: str) -> Journeys:
    """The same journeys with every event of one type removed."""
    keep = journeys.codes != EVENT_CODE[event]
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return Journeys(
        lead_ids=journeys.lead_ids,
        offsets=kept_before[journeys.offsets].astype(np.int64),
        times=journeys.times[keep],
        codes=journeys.codes[keep],
    )


def action_effects(
    model: ScoringModel,
    leads: pd.DataFrame,
    journeys: Journeys,
    rows: pd.DataFrame,
    features: pd.DataFrame,
) -> pd.DataFrame:
    """Per row and event type: log-odds with the lead's events minus log-odds without them.

    0 where the lead had done no such action before the cut-off. Only event types the model
    has count features for are included.
    """
    base = model.predict_features(features).raw
    # Attribute features are computed for every lead passed: pass only these rows' leads.
    leads = leads[leads[LEAD_ID].isin(rows[LEAD_ID])]
    effects = {}
    for event in EVENT_TYPES:
        total = of_event(event, "count").name
        if total not in features:
            continue
        did = np.flatnonzero(_numeric(features, total) > 0)
        effect = np.zeros(len(rows))
        if did.size:
            without = model.predict_rows(leads, without_event(journeys, event), rows.iloc[did])
            effect[did] = base[did] - without.raw
        effects[event] = effect
    return pd.DataFrame(effects, index=features.index)


def action_summary(effects: pd.DataFrame) -> pd.DataFrame:
    """Per action some lead did: share of leads who did it and its mean effect for them,
    strongest first."""
    rows = []
    for event in effects:
        did = effects[event].to_numpy() != 0
        if not did.any():
            continue
        mean = float(effects[event][did].mean())
        rows.append(
            {
                "action": event,
                "label": driver_label(event),
                "share_of_leads": float(did.mean()),
                "mean_effect": mean,
                "odds_multiplier": float(np.exp(mean)),
            }
        )
    table = pd.DataFrame(rows)
    return table.sort_values("mean_effect", ascending=False, key=np.abs, ignore_index=True)


def effect_by_age(
    effects: pd.DataFrame,
    features: pd.DataFrame,
    y: np.ndarray,
    event: str,
    edges: Sequence[float] = AGE_EDGES_DAYS,
) -> pd.DataFrame:
    """The effect of an action by how long ago the lead last did it.

    One row per age band with leads in it (`never` last): rows, mean effect (log-odds, 0 for
    `never`), its odds multiplier and the observed conversion rate.
    """
    if event not in effects:
        raise ValueError(
            f"no effects of {event!r}: the model has no feature about it, or it is not an "
            f"event type ({', '.join(EVENT_TYPES)})"
        )
    days = _numeric(features, of_event(event, "recency").name)
    bounds = [*edges, np.inf]
    labels = [
        f"{lo:g}–{hi:g} days" if np.isfinite(hi) else f"over {lo:g} days"
        for lo, hi in itertools.pairwise(bounds)
    ]
    band = pd.Series(pd.cut(days, bounds, right=False, labels=labels))
    band = band.cat.add_categories(NEVER).fillna(NEVER)
    frame = pd.DataFrame({"age": band, "effect": effects[event].to_numpy(), "converted": y})
    table = frame.groupby("age", observed=True).agg(
        rows=("effect", "size"),
        mean_effect=("effect", "mean"),
        conversion_rate=("converted", "mean"),
    )
    table["odds_multiplier"] = np.exp(table["mean_effect"])
    return table.reset_index()


def attribute_effects(
    contributions: pd.DataFrame,
    features: pd.DataFrame,
    y: np.ndarray,
    name: str,
    *,
    bands: int = 5,
    min_rows: int = 20,
) -> pd.DataFrame:
    """The model's effect of one fit attribute by value (numbers in equal-count bands).

    Columns: value, rows, mean_contribution (log-odds), odds_multiplier, conversion_rate;
    values seen in fewer than `min_rows` rows are left out. Best value first.
    """
    if name not in contributions:
        raise ValueError(f"the model has no feature {name!r}; its features: {list(features)}")
    value = features[name]
    if isinstance(value.dtype, pd.CategoricalDtype) or value.dtype == object:
        group = value.astype(object).fillna(MISSING)
    else:
        numeric = pd.to_numeric(value, errors="coerce")
        binned = pd.qcut(numeric, bands, duplicates="drop")
        group = pd.Series(
            [MISSING if pd.isna(b) else f"{b.left:,.0f}–{b.right:,.0f}" for b in binned],
            index=value.index,
        )
    frame = pd.DataFrame(
        {"value": group.to_numpy(), "contribution": contributions[name].to_numpy(), "y": y}
    )
    table = frame.groupby("value").agg(
        rows=("contribution", "size"),
        mean_contribution=("contribution", "mean"),
        conversion_rate=("y", "mean"),
    )
    table = table[table["rows"] >= min_rows]
    table.insert(2, "odds_multiplier", np.exp(table["mean_contribution"]))
    return table.sort_values("mean_contribution", ascending=False).reset_index()


# Which model feature a fit rule of the points file looks at: (attribute kind or source column).
_FIT_RULE_FEATURE = {
    "fit:seniority": ("kind", "seniority"),
    "fit:department": ("kind", "department"),
    "fit:email_domain_kind": ("kind", "email_kind"),
    "fit:industry": ("source", "industry"),
    "fit:country": ("source", "country"),
    "fit:company_size": ("source", "employee_count"),
}


def fit_rule_feature(rule: str, pipeline: FeaturePipeline) -> str | None:
    """The model feature a fit rule (`fit:industry`) looks at, if the model has one."""
    how, what = _FIT_RULE_FEATURE.get(rule, ("", ""))
    for spec in pipeline.attributes.specs:
        if getattr(spec, how, None) == what:
            return spec.name
    return None


def rules_vs_model(
    points: pd.DataFrame,
    log_odds: np.ndarray,
    effects: pd.DataFrame,
    contributions: pd.DataFrame,
    pipeline: FeaturePipeline,
    *,
    tolerance: float = 0.5,
) -> pd.DataFrame:
    """Where the hand-weighted rules over- or under-value something, by the model's judgement.

    `points` holds each row's points per rule (columns `action:...`, `fit:...`). The model's
    log-odds are put on the points scale by matching their spread with that of the points
    totals (`attrs["points_per_log_odds"]`; per doubling of the odds:
    `attrs["points_to_double_odds"]`). An action rule is compared with the action's effect
    for the leads it gave points to; a fit rule with the contribution of the attribute it
    reads, by regressing that contribution on the rule's points across all rows (for a fit
    rule, `mean_points_given` is the mean size of its points, plus or minus).
    `model_points_per_rule_point` is how many points the model gives for each point the
    rule gives: 1 = they agree, 0.3 = the rule over-values it (or over-penalises, for minus
    points), 2 = it under-values it; within `tolerance` of 1 it is "about right", below
    `-tolerance` the model sees the opposite direction.
    """
    points_total = points.sum(axis=1).to_numpy()
    spread = float(np.std(log_odds))
    scale = float(np.std(points_total)) / spread if spread else np.nan
    out = []
    for rule in points.columns:
        given = points[rule].to_numpy(dtype=float)
        triggered = given != 0
        kind, _, name = rule.partition(":")
        if not triggered.any() or (kind == "fit" and given.std() == 0):
            continue  # nothing to compare: no lead got points, or every lead got the same
        # A fit rule gives some values points and others minus points: its size is the mean
        # distance from zero. An action rule's points all have one sign.
        typical = np.abs(given) if kind == "fit" else given
        row = {
            "rule": rule,
            "leads_given_points": int(triggered.sum()),
            "mean_points_given": float(typical[triggered].mean()),
        }
        if kind == "action" and name in effects:
            model_points = float(effects[name].to_numpy()[triggered].mean()) * scale
            ratio = model_points / row["mean_points_given"]
        elif (feature := fit_rule_feature(rule, pipeline)) in contributions:
            contribution = contributions[feature].to_numpy() * scale
            ratio = float(np.cov(given, contribution)[0, 1] / np.var(given, ddof=1))
            model_points = ratio * row["mean_points_given"]
        else:
            out.append(row | {"verdict": "the model does not use it"})
            continue
        out.append(
            row
            | {
                "model_equivalent_points": model_points,
                "model_points_per_rule_point": ratio,
                "verdict": _verdict(ratio, tolerance, row["mean_points_given"] < 0),
            }
        )
    table = pd.DataFrame(out)
    table.attrs["points_per_log_odds"] = scale
    table.attrs["points_to_double_odds"] = scale * np.log(2.0)
    return table


def _verdict(ratio: float, tolerance: float, penalty: bool) -> str:
    """The comparison in words; `penalty`: the rule gives negative points."""
    if ratio < -tolerance:
        return "the model sees the opposite"
    if ratio < 1 - tolerance:
        return "over-penalised" if penalty else "over-valued"
    if ratio > 1 + tolerance:
        return "under-penalised" if penalty else "under-valued"
    return "about right"
