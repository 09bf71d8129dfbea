"""Learned points: the model translated into a points table a marketing automation tool can hold.

The table is an additive scorecard in exactly the hand-weighted rules format
(`features.points.PointsRules`): points per action with a half-life and a cap, points per
fit attribute value (negative where the model sees non-intent), and MQL / SQL thresholds.
It is fitted to the model's log-odds on the rows before the model's test window (no labels
are used, only what the model says), then measured on the held-out rows against the model
and the old rules.

How the fit works: for every action, each candidate shape (half-life in days, and the number
of recent events after which more do not count) gives one column, computed by the points
scorer itself from a rule worth 1 point; each fit attribute value gives a 0/1 column, also
from the scorer. A ridge regression on these columns, with each action's shape chosen by
backfitting, gives log-odds per unit; scaling so that `points_to_double_odds` points double
a lead's odds and rounding gives integer points. Because every column came from the scorer,
the exported file scores exactly what was fitted (up to rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field
from threadpoolctl import threadpool_limits

from features.attributes import SENIORITIES, normalize_title
from features.contract.directory import ContractData
from features.contract.schema import LEAD_ID, EventType
from features.points import EMAIL_KINDS, PointsRules
from runtime.model import ScoringModel
from training.analysis.heldout import model_rows
from training.baseline import points_on_rows
from training.method_comparison import MethodRow, compare_scores
from training.report import MODEL, POINTS

LEARNED_POINTS = "learned points"
# Fit rules and the lead columns each one reads (the first one present is used).
_FIT_SOURCES = {
    "seniority": ("job_title",),
    "department": ("job_title",),
    "industry": ("industry",),
    "country": ("country",),
    "email_domain_kind": ("email", "email_domain"),
    "company_size": ("employee_count",),
}


class ScorecardConfig(BaseModel):
    """How the points table is fitted and scaled."""

    half_lives_days: tuple[float, ...] = Field(
        (3.0, 7.0, 14.0, 30.0, 60.0, 120.0),
        description="Candidate half-lives of an action's points; 'no decay' is always a candidate.",
    )
    saturation_events: tuple[float, ...] = Field(
        (1.0, 2.0, 3.0, 5.0, 10.0),
        description="Candidate caps, in (decayed) events, after which more of an action adds "
        "nothing; 'no cap' is always a candidate.",
    )
    company_size_starts: tuple[int, ...] = Field(
        (1, 11, 51, 201, 1001, 5001), description="Lower employee bound of each size band."
    )
    points_to_double_odds: float | None = Field(
        None,
        gt=0,
        description="Points that double a lead's odds of converting. None: as many as make "
        "the table's totals spread as widely as the current rules' do, so both read on one "
        "scale (and the current thresholds' order of magnitude still makes sense).",
    )
    min_rows: int = Field(
        50, ge=1, description="Rows an action or attribute value needs to earn its own points."
    )
    ridge: float = Field(1.0, ge=0, description="L2 penalty of the regression on log-odds.")
    rounds: int = Field(2, ge=1, description="Backfitting passes over the actions' shapes.")


@dataclass(frozen=True)
class SuggestedRules:
    """A learned points table and how well it ranks the model's held-out rows."""

    rules: PointsRules
    quality: list[MethodRow]  # model, old rules and learned points on the held-out rows
    fidelity: float  # correlation of the table's points with the model's log-odds, held out
    fit_rows: int
    held_out_rows: int
    sql_share: float  # share of held-out rows in the model's SQL tier: the compared volume
    held_out_points: np.ndarray  # the table's points total of each held-out row

    def auc(self, method: str) -> float:
        """Held-out ROC AUC of one method (`learned model`, `hand-weighted points`, ...)."""
        return next(row.roc_auc for row in self.quality if row.method == method)

    def to_yaml(self, model_name: str = "") -> str:
        """The table as a rules file, with a header saying where it came from."""
        by = {row.method: row for row in self.quality}
        header = [
            f"Learned points table suggested by `leadscore rules suggest` on "
            f"{datetime.now(UTC):%Y-%m-%d}" + (f" from model {model_name}." if model_name else "."),
            f"Fitted to the model's log-odds on {self.fit_rows:,} earlier rows; measured on "
            f"{self.held_out_rows:,} held-out rows:",
            *(f"  {m}: ROC AUC {r.roc_auc:.3f}, PR AUC {r.pr_auc:.3f}" for m, r in by.items()),
            f"Correlation with the model's log-odds on held-out rows: {self.fidelity:.2f}.",
            "Review before use. Points per action halve every half_life_days and are capped;",
            "negative points mark signs of non-intent.",
        ]
        return rules_to_yaml(self.rules, header)


def suggest_rules(
    contract: ContractData,
    model: ScoringModel,
    old_rules: PointsRules,
    config: ScorecardConfig | None = None,
) -> SuggestedRules:
    """Fit a points table to `model` on `contract`, and compare it on held-out rows.

    `old_rules` are the hand-weighted rules it is compared with; their competitor domains
    are kept, so competitor emails are recognised the same way.
    """
    config = config or ScorecardConfig()
    built = model_rows(contract, model)
    fit_mask = ~built.held_out
    if fit_mask.sum() < config.min_rows or built.held_out.sum() == 0:
        raise ValueError(
            f"need rows the model learned from and rows it never saw to fit and to measure "
            f"a points table; this data has {int(fit_mask.sum())} and "
            f"{int(built.held_out.sum())}: pass the data the model was trained on, with the "
            "model its test figures belong to (`runs:/RUN_ID/measured_model` of its training "
            "run; a served model learned from every labelled row)."
        )
    target = model.predict_features(built.features).raw
    design = _Design.build(contract, built.rows[fit_mask], old_rules, config)
    # The products here are small: one BLAS thread is fast, while spinning OpenBLAS threads
    # on a busy 2-core machine made a 0.1 s product take 2 s.
    with threadpool_limits(1, user_api="blas"):
        shapes, coefficients = design.fit(target[fit_mask], config)
    old_fit = points_on_rows(old_rules, contract.leads, contract.journeys, built.rows[fit_mask])
    per_log_odds = _points_per_log_odds(config, old_fit.total, target[fit_mask])
    rules = design.rules(shapes, coefficients, per_log_odds, old_rules)
    fit_points = points_on_rows(rules, contract.leads, contract.journeys, built.rows[fit_mask])
    rules = _with_thresholds(rules, fit_points.total, model, target[fit_mask])

    held = built.take(built.held_out)
    y = held.y
    held_prediction = model.predict_raw(target[built.held_out])
    probability = held_prediction.probability
    learned = points_on_rows(rules, contract.leads, contract.journeys, held.rows).total
    old = points_on_rows(old_rules, contract.leads, contract.journeys, held.rows).total
    sql_share = float(np.mean(held_prediction.tier == model.spec.tiers.names[0]))
    quality = compare_scores(
        y,
        {MODEL: probability, POINTS: old, LEARNED_POINTS: learned},
        sql_share=sql_share,
    )
    return SuggestedRules(
        rules=rules,
        quality=quality,
        fidelity=float(np.corrcoef(learned, target[built.held_out])[0, 1]),
        fit_rows=int(fit_mask.sum()),
        held_out_rows=len(y),
        sql_share=sql_share,
        held_out_points=learned,
    )


@dataclass
class _Design:
    """Columns of the regression on the fit rows, and how each maps back to a rule."""

    events: list[str]  # actions with enough rows to earn points
    half_lives: tuple[float | None, ...]
    caps: tuple[float, ...]
    decayed: list[np.ndarray]  # per action: (fit rows, half-lives) decayed event counts
    fit_columns: np.ndarray  # (fit rows, values): 0/1 columns of fit attribute values
    fit_keys: list[tuple[str, object]]  # (rule, value or size band start) per fit column
    size_starts: tuple[int, ...]  # lower employee bound of each company size band

    @classmethod
    def build(
        cls,
        contract: ContractData,
        fit_rows: pd.DataFrame,
        old_rules: PointsRules,
        config: ScorecardConfig,
    ) -> _Design:
        def score(rules: PointsRules) -> pd.DataFrame:
            return points_on_rows(rules, contract.leads, contract.journeys, fit_rows).rules

        events = [e.value for e in EventType if e != EventType.OTHER]
        half_lives = (*config.half_lives_days, None)
        # Decayed event counts per half-life, from rules worth one point per event.
        per_half_life = [
            score(_unit_rules({e: {"points": 1.0, "half_life_days": h} for e in events}))
            for h in half_lives
        ]
        active = [
            e for e in events if (per_half_life[-1][f"action:{e}"] > 0).sum() >= config.min_rows
        ]
        decayed = [
            np.column_stack([t[f"action:{e}"].to_numpy(np.float64) for t in per_half_life])
            for e in active
        ]
        fit_columns, fit_keys = _fit_design(contract, fit_rows, old_rules, config, score)
        caps = (*config.saturation_events, math.inf)
        return cls(
            active, half_lives, caps, decayed, fit_columns, fit_keys, config.company_size_starts
        )

    def shape(self, candidate: int) -> tuple[float | None, float]:
        """(half-life, cap) of a candidate column number."""
        return self.half_lives[candidate // len(self.caps)], self.caps[candidate % len(self.caps)]

    def candidates(self, k: int) -> np.ndarray:
        """(fit rows, half-lives x caps) candidate columns of action `k`."""
        capped = np.minimum(self.decayed[k][:, :, None], np.asarray(self.caps)[None, None, :])
        return capped.reshape(len(capped), -1)

    def matrix(self, shapes: list[int]) -> np.ndarray:
        """The regression matrix with each action in its chosen shape."""
        n_caps = len(self.caps)
        actions = [
            np.minimum(self.decayed[k][:, s // n_caps], self.caps[s % n_caps])
            for k, s in enumerate(shapes)
        ]
        return np.column_stack([*actions, self.fit_columns])

    def fit(self, target: np.ndarray, config: ScorecardConfig) -> tuple[list[int], np.ndarray]:
        """Each action's shape (by backfitting) and every column's log-odds per unit."""
        # Start from plain points per event (the last candidate: no decay, no cap), then
        # improve one action's shape at a time against the others' partial residual.
        shapes = [len(self.half_lives) * len(self.caps) - 1] * len(self.events)
        for _ in range(config.rounds):
            coefficients, residual = _ridge(self.matrix(shapes), target, config.ridge)
            for k in range(len(self.events)):
                options = self.candidates(k)
                options -= options.mean(axis=0)
                partial = residual + coefficients[k] * options[:, shapes[k]]
                norms = (options**2).sum(axis=0)
                gains = np.where(
                    norms > 0, (options.T @ partial) ** 2 / np.maximum(norms, 1e-12), -1
                )
                shapes[k] = int(np.argmax(gains))
                best = options[:, shapes[k]]
                slope = float(best @ partial) / norms[shapes[k]] if norms[shapes[k]] else 0.0
                residual = partial - slope * best
        coefficients, _ = _ridge(self.matrix(shapes), target, config.ridge)
        return shapes, coefficients

    def rules(
        self,
        shapes: list[int],
        coefficients: np.ndarray,
        per_log_odds: float,
        old_rules: PointsRules,
    ) -> PointsRules:
        """Whole points from each column's log-odds per unit; thresholds are set later."""
        points = coefficients * per_log_odds
        actions = {}
        for k, event in enumerate(self.events):
            (half_life, cap), each = self.shape(shapes[k]), round(points[k])
            if each == 0:
                continue
            rule: dict[str, float] = {"points": each}
            if half_life is not None:
                rule["half_life_days"] = half_life
            if math.isfinite(cap):
                rule["max_points"] = round(abs(each) * cap)
            actions[event] = rule
        fit: dict[str, object] = {}
        for (rule, key), value in zip(self.fit_keys, points[len(self.events) :], strict=True):
            if round(value) == 0:
                continue
            if rule == "company_size":
                fit.setdefault(rule, []).append(_size_band(key, self.size_starts, round(value)))
            else:
                fit.setdefault(rule, {})[key] = round(value)
        return PointsRules.from_dict(
            {
                "description": "Learned points: an additive table fitted to the learned "
                f"model's log-odds; {per_log_odds * math.log(2.0):.0f} points double a lead's "
                "odds of converting.",
                "thresholds": {"mql": 1, "sql": 2},
                "competitor_domains": list(old_rules.competitor_domains),
                "actions": actions,
                "fit": fit,
            },
            source="learned points",
        )


def _unit_rules(actions: dict[str, dict], fit: dict | None = None, **extra) -> PointsRules:
    """Rules used only to compute columns (their thresholds never matter)."""
    data = {"thresholds": {"mql": 1, "sql": 2}, "actions": actions, "fit": fit or {}, **extra}
    return PointsRules.from_dict(data, source="scorecard design")


def _fit_design(
    contract: ContractData,
    rows: pd.DataFrame,
    old_rules: PointsRules,
    config: ScorecardConfig,
    score: Callable[[PointsRules], pd.DataFrame],
) -> tuple[np.ndarray, list[tuple[str, object]]]:
    """0/1 columns per fit attribute value, computed by the scorer from value codes.

    Each value gets a distinct code as its "points" in one scoring pass; values scoring 0
    (unlisted) are the reference level the others are measured against.
    """
    leads = contract.leads
    present = {
        rule: next((c for c in sources if c in leads), None)
        for rule, sources in _FIT_SOURCES.items()
    }
    values: dict[str, list] = {}
    if present["seniority"]:
        values["seniority"] = list(SENIORITIES)
        titles = leads[present["department"]].dropna().unique()
        values["department"] = sorted({normalize_title(t)[1] for t in titles})
    for rule in ("industry", "country"):
        if present[rule]:
            lead_pos = pd.Index(leads[LEAD_ID]).get_indexer(rows[LEAD_ID])
            counts = leads[present[rule]].iloc[lead_pos].value_counts()
            values[rule] = sorted(counts[counts >= config.min_rows].index)
    if present["email_domain_kind"]:
        values["email_domain_kind"] = list(EMAIL_KINDS)
    fit: dict[str, object] = {
        rule: {v: float(i + 1) for i, v in enumerate(vals)} for rule, vals in values.items()
    }
    if present["company_size"]:
        starts = config.company_size_starts
        fit["company_size"] = [
            {
                "min_employees": lo,
                "max_employees": hi - 1 if hi is not None else None,
                "points": float(i + 1),
            }
            for i, (lo, hi) in enumerate(zip(starts, (*starts[1:], None), strict=True))
        ]
        values["company_size"] = list(starts)
    if not values:
        return np.zeros((len(rows), 0)), []
    codes = score(_unit_rules({}, fit, competitor_domains=list(old_rules.competitor_domains)))
    columns, keys = [], []
    for rule, vals in values.items():
        code = codes[f"fit:{rule}"].to_numpy()
        for i, value in enumerate(vals):
            column = (code == i + 1).astype(np.float64)
            if column.sum() >= config.min_rows:
                columns.append(column)
                keys.append((rule, value))
    return np.column_stack(columns) if columns else np.zeros((len(rows), 0)), keys


def _size_band(start: int, starts: tuple[int, ...], points: int) -> dict:
    following = [s for s in starts if s > start]
    band = {"min_employees": start, "points": points}
    if following:
        band["max_employees"] = min(following) - 1
    return band


def _points_per_log_odds(
    config: ScorecardConfig, old_points: np.ndarray, log_odds: np.ndarray
) -> float:
    """Points per unit of log-odds: from the config, or matching the old rules' spread."""
    if config.points_to_double_odds is not None:
        return config.points_to_double_odds / math.log(2.0)
    spread = float(np.std(log_odds))
    if spread == 0 or np.std(old_points) == 0:
        raise ValueError(
            "cannot match the current rules' scale (the model or the rules give every lead the "
            "same score): set points_to_double_odds (`--points-to-double-odds`)."
        )
    return float(np.std(old_points)) / spread


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression with an unpenalised intercept: (coefficients, residuals)."""
    centred = x - x.mean(axis=0)
    target = y - y.mean()
    gram = centred.T @ centred + alpha * np.eye(x.shape[1])
    coefficients = np.linalg.solve(gram, centred.T @ target)
    return coefficients, target - centred @ coefficients


def _with_thresholds(
    rules: PointsRules, points: np.ndarray, model: ScoringModel, log_odds: np.ndarray
) -> PointsRules:
    """MQL / SQL thresholds that put as many fit rows in each tier as the model's tiers do."""
    tier = model.predict_raw(log_odds).tier
    names = model.spec.tiers.names
    sql_share = float(np.mean(tier == names[0]))
    mql_share = float(np.mean(np.isin(tier, names[:2])))
    sql = _points_at_share(points, sql_share)
    mql = min(_points_at_share(points, mql_share), sql - 1)
    data = rules.model_dump(mode="json")
    data["thresholds"] = {"mql": mql, "sql": sql}
    return PointsRules.from_dict(data, source="learned points")


def _points_at_share(points: np.ndarray, share: float) -> int:
    """The lowest whole-point total reached by (about) the top `share` of rows."""
    if share <= 0:
        return math.floor(points.max()) + 1
    return math.ceil(float(np.quantile(points, 1 - share)))


def actions_side_by_side(old: PointsRules, new: PointsRules) -> pd.DataFrame:
    """Per action: points, half-life and cap in the old rules and in the new table."""
    events = list(dict.fromkeys([*old.actions, *new.actions]))
    rows = []
    for event in events:
        row: dict[str, object] = {"action": str(event).replace("_", " ")}
        for name, rules in (("old", old), ("new", new)):
            rule = rules.actions.get(event)
            row[f"{name} points"] = None if rule is None else rule.points
            row[f"{name} half-life (days)"] = None if rule is None else rule.half_life_days
            row[f"{name} cap"] = None if rule is None else rule.max_points
        rows.append(row)
    return pd.DataFrame(rows)


def fit_side_by_side(old: PointsRules, new: PointsRules) -> pd.DataFrame:
    """Per fit rule and value (size bands by their lower bound): old and new points."""
    tables = {}
    for name, rules in (("old", old), ("new", new)):
        fit = rules.fit
        points = {
            (rule, key): value
            for rule in ("seniority", "department", "industry", "email_domain_kind", "country")
            for key, value in getattr(fit, rule).items()
        }
        points |= {
            ("company_size", f"{b.min_employees:,}+ employees"): b.points for b in fit.company_size
        }
        tables[f"{name} points"] = points
    return pd.DataFrame(tables).rename_axis(["rule", "value"]).reset_index()


def rules_to_yaml(rules: PointsRules, header: list[str] | None = None) -> str:
    """A rules file in the layout of `features/default_rules.yaml` (one line per action)."""
    data = rules.model_dump(mode="json", exclude_none=True)
    lines = [f"# {line}" for line in header or []]
    lines += [yaml.safe_dump({"description": data["description"]}, width=90).rstrip()]
    lines += ["", "thresholds:", *(f"  {k}: {v:g}" for k, v in data["thresholds"].items())]
    if data["competitor_domains"]:
        lines += ["", "competitor_domains:", *(f"  - {d}" for d in data["competitor_domains"])]
    lines += ["", "actions:"]
    for event, rule in data["actions"].items():
        lines.append(f"  {event}: {_flow(rule)}")
    fit = {k: v for k, v in data["fit"].items() if v}
    if fit:
        lines += ["", "fit:"]
        for name, table in fit.items():
            lines.append(f"  {name}:")
            if name == "company_size":
                lines += [f"    - {_flow(band)}" for band in table]
            else:
                lines += [f"    {yaml.safe_dump({k: _whole(v)}).strip()}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def _flow(mapping: dict) -> str:
    """`{points: 40, half_life_days: 30}`: whole numbers without a trailing .0."""
    clean = {k: _whole(v) for k, v in mapping.items()}
    return yaml.safe_dump(clean, default_flow_style=True, sort_keys=False).strip()


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
