"""Warm starts: begin the booster from what the team already knows, then learn the target.

A small team has few closed deals, but two richer sources of evidence: the hand-weighted
points (years of judgement) and the funnel's earlier milestones (many more leads reach SQL
than close). A warm start fits trees to them first, and the target's trees then learn
corrections on top:

- `points`: trees distilled from the points' log-odds (a logistic fit of the label on the
  points), so the model starts where the points are and moves away only where the data says;
- `funnel`: trees fitted to "reached the funnel milestone (default SQL) within the horizon";
- `points+funnel`: both, in that order.

The result is one LightGBM booster whose trees begin with the warm start's, so the runtime,
reasons, fit/engagement and monotone constraints are unchanged. Which start is served is
chosen by the rolling-origin backtest (`training.backtest`), never assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sklearn.linear_model import LogisticRegression

from features.contract.schema import (
    AS_OF,
    FUNNEL_ORDER,
    LABEL,
    LEAD_ID,
    MILESTONE,
    Milestone,
)
from features.journeys import Journeys
from features.points import PointsRules
from features.trainingset import first_reached
from training.baseline import points_on_rows
from training.fit import BoosterParams, booster_feature_name, fit_booster, lgb_params


class WarmStart(StrEnum):
    """What the booster's first trees are fitted to."""

    NONE = "none"
    FUNNEL = "funnel"
    POINTS = "points"
    POINTS_FUNNEL = "points+funnel"

    @property
    def uses_points(self) -> bool:
        return self in (WarmStart.POINTS, WarmStart.POINTS_FUNNEL)

    @property
    def uses_funnel(self) -> bool:
        return self in (WarmStart.FUNNEL, WarmStart.POINTS_FUNNEL)


class WarmStartConfig(BaseModel):
    """Which warm starts the backtest compares, and how big each is."""

    model_config = ConfigDict(extra="forbid")

    candidates: tuple[WarmStart, ...] = Field(
        (WarmStart.NONE, WarmStart.FUNNEL, WarmStart.POINTS_FUNNEL),
        min_length=1,
        description="Compared by the backtest; the best mean (ROC AUC + PR AUC) is served. "
        "Candidates the data cannot support (no points rules, no funnel milestones) are "
        "left out, and the report says why.",
    )
    funnel_milestone: Milestone = Field(
        Milestone.SQL,
        description="The funnel warm start learns 'reached this milestone (or a later stage) "
        "within the horizon'.",
    )
    funnel_trees: int = Field(
        200,
        ge=1,
        description="Trees of the funnel warm start, at the booster's learning rate (a "
        "coarser, faster start cost 0.01-0.02 backtest ROC AUC at 10,000 leads).",
    )
    points_trees: int = Field(50, ge=1)

    @field_validator("funnel_milestone")
    @classmethod
    def _a_stage(cls, value: Milestone) -> Milestone:
        if value in (Milestone.CLOSED_LOST, Milestone.DISQUALIFIED):
            raise ValueError("the funnel milestone must be a stage leads reach, e.g. sql")
        return value


@dataclass(frozen=True)
class Evidence:
    """What the warm starts learn from, per training-set row (indexed like the frame)."""

    points: pd.Series | None  # the hand-weighted points as of each row's cut-off
    funnel: pd.Series | None  # 1 if the lead reached the funnel milestone by cut-off + horizon
    notes: tuple[str, ...] = ()  # why a source is missing

    def supports(self, start: WarmStart) -> bool:
        """Whether this evidence can fit `start`."""
        return (not start.uses_points or self.points is not None) and (
            not start.uses_funnel or self.funnel is not None
        )

    def usable(self, candidates: Sequence[WarmStart]) -> list[WarmStart]:
        """The candidates this evidence supports, in their order."""
        return [c for c in candidates if self.supports(c)]


def gather_evidence(
    frame: pd.DataFrame,
    config: WarmStartConfig,
    horizon_days: float,
    *,
    rules: PointsRules | None,
    leads: pd.DataFrame | None,
    journeys: Journeys | None,
    outcomes: pd.DataFrame | None,
) -> Evidence:
    """The points and funnel labels of the training set's rows, where the inputs allow."""
    wanted = config.candidates
    notes: list[str] = []
    points = None
    if any(c.uses_points for c in wanted):
        if rules is not None and leads is not None and journeys is not None:
            total = points_on_rows(rules, leads, journeys, frame[[LEAD_ID, AS_OF]]).total
            points = pd.Series(total, index=frame.index)
        else:
            notes.append(
                "the points warm start needs the rules and the raw leads and events "
                "(train with `--data DIR`)"
            )
    funnel = None
    if any(c.uses_funnel for c in wanted):
        if outcomes is not None and len(outcomes):
            funnel = funnel_labels(frame, outcomes, config.funnel_milestone, horizon_days)
        else:
            notes.append("the funnel warm start needs the outcomes table (train with `--data DIR`)")
    return Evidence(points=points, funnel=funnel, notes=tuple(notes))


def funnel_labels(
    rows: pd.DataFrame, outcomes: pd.DataFrame, milestone: Milestone, horizon_days: float
) -> pd.Series:
    """1 where the row's lead reached `milestone` or a later stage (won or lost alike) by its
    cut-off plus the horizon: the earlier, more frequent cousin of the target."""
    order = FUNNEL_ORDER[milestone]
    later = [m for m, o in FUNNEL_ORDER.items() if o >= order]
    reached = first_reached(outcomes, outcomes[MILESTONE].isin(later), pd.Index(rows[LEAD_ID]))
    by = rows[AS_OF] + pd.Timedelta(days=horizon_days)
    return (reached.set_axis(rows.index) <= by).astype(np.int8)


# The points are a smooth sum of rules: small, fast trees copy them closely.
_DISTIL = {"learning_rate": 0.2, "num_leaves": 31, "min_data_in_leaf": 20}


def warm_booster(
    X: np.ndarray,
    rows: pd.DataFrame,
    start: WarmStart,
    evidence: Evidence,
    config: WarmStartConfig,
    params: BoosterParams,
    *,
    feature_names: Sequence[str],
    categorical_features: Sequence[str],
    seed: int,
) -> lgb.Booster | None:
    """The warm start's trees, fitted on the encoded `X` of `rows` only (None for `none`)."""
    booster = None
    if start.uses_points:
        assert evidence.points is not None
        points = evidence.points.loc[rows.index].to_numpy()[:, None]
        y = rows[LABEL].to_numpy()
        margin = LogisticRegression().fit(points, y).decision_function(points)
        settings = lgb_params(params, feature_names, seed, 1.0, len(rows))
        settings |= _DISTIL | {"objective": "regression", "metric": "l2"}
        settings.pop("scale_pos_weight")
        data = lgb.Dataset(
            X,
            label=margin,
            feature_name=[booster_feature_name(n) for n in feature_names],
            categorical_feature=[booster_feature_name(n) for n in categorical_features],
            params={"max_bin": params.max_bin, "verbosity": -1},
        )
        booster = lgb.train(settings, data, num_boost_round=config.points_trees)
    if start.uses_funnel:
        assert evidence.funnel is not None
        booster, _ = fit_booster(
            X,
            evidence.funnel.loc[rows.index].to_numpy(),
            None,
            None,
            feature_names=feature_names,
            categorical_features=categorical_features,
            params=params.model_copy(update={"num_boost_round": config.funnel_trees}),
            seed=seed,
            init_model=booster,
        )
    return booster
