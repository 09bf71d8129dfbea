"""The dominance check: a column the model leans on far more than on any other.

A field recorded during the sales contact (call length, say) can leak quietly: a neutral name,
a stand-alone AUC under the audit's "strong" bar, no telling missing values. What gives it
away is the model itself: such a field carries information no lead-time column has, so the
booster spends most of its gain on it and loses much of its ranking without it. An honest
strong column (time on the website) shares its signal with correlated columns (visits, page
views, activity), so its gain share stays close to the next column's and dropping it costs
little.

The rule, two steps so that the costly one runs only when the cheap one fires:
1. candidate: the model's top column by share of split gain holds >= `dominant_share` (30%)
   of all gain and >= `dominant_ratio` (1.5x) the share of the next column. On X Education
   (sales-filled columns left out) the top column, time on the website, holds 29% and 1.6x the
   next: not a candidate. A planted call-length leak holds ~45% and ~2.7x.
2. suspect: the model with it beats by >= `dominant_auc_loss` (0.08) ROC AUC, on rows it did
   not learn from, both the model without it (the drop-one loss) and the column alone (the
   audit's stand-alone AUC). A column whose loss costs little is redundant, not a leak. A
   column that is the export's only real signal dominates too, but then the model is little
   better than the column alone (0.81 with it, 0.81 alone in tests/test_flat.py): it is the
   signal, kept.
   A quiet leak tells the outcome beyond what the other columns say, so combined with them it
   goes far past both (planted: 0.95 with it, 0.81 alone, 0.83 without: +0.12). X Education's
   time on the website, were it a candidate, would gain 0.05 (0.905 with it, 0.852 without,
   0.761 alone): under the bar, hence 0.08 rather than 0.05.
   Either way the check reports both sets of metrics.

Measured two ways, by how the model is measured: a flat export without dates by
cross-validation on the same folds (`training.flat.train`); a time split on its calibration
slice, the model without the column refitted on the train slice, the column alone measured
there too (`training.train`): the test slice is only measured, so the decision never sees it.
Columns computed point in time from events (behaviour features) are never candidates: they
cannot hold what sales wrote down, and one kernel computes them all (none can be left out).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    # Annotations only: the leakage audit imports this module, and neither needs LightGBM.
    from training.audit.leakage import AuditConfig
    from training.evaluate import Metrics
    from training.fit import FeatureImportance

SUSPECT = "suspect: confirm it is known before the first sales contact"
# What the with/without comparison shows, in this order.
COMPARED = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC"}


class Dominance(BaseModel):
    """One column the model leaned on, and the model measured with and without it."""

    column: str
    share: float = Field(description="The column's share of the model's split gain.")
    next_column: str
    next_share: float
    alone_auc: float = Field(description="The column's stand-alone AUC (the audit's).")
    with_column: dict[str, float]
    without_column: dict[str, float]
    evaluation: str = Field(description="How both sets of metrics were measured.")
    suspect: bool

    @property
    def auc_loss(self) -> float:
        return self.with_column["roc_auc"] - self.without_column["roc_auc"]

    @property
    def reason(self) -> str:
        """The evidence in one line (the console and the report's flagged table)."""
        both = "; ".join(
            f"{label} {self.with_column[k]:.3f} with it, {self.without_column[k]:.3f} without"
            for k, label in COMPARED.items()
        )
        return (
            f"{self.share:.0%} of the model's gain ({self.next_share:.0%} for the next column, "
            f"`{self.next_column}`); AUC {self.alone_auc:.3f} alone; {both}"
        )


def dominant_candidate(
    importance: Sequence[FeatureImportance],
    config: AuditConfig,
    point_in_time: Collection[str] = (),
) -> tuple[FeatureImportance, FeatureImportance] | None:
    """The top column by gain and the next one, when the top one's share is out of line and
    it is not computed point in time from events (`point_in_time`)."""
    if len(importance) < 2 or importance[0].feature in point_in_time:
        # A single column cannot be out of line with others; leaving it out leaves nothing.
        # A behaviour feature on top means no lead-time column is.
        return None
    top, runner_up = importance[0], importance[1]
    if top.share >= config.dominant_share and top.share >= config.dominant_ratio * max(
        runner_up.share, 1e-12
    ):
        return top, runner_up
    return None


def measure_dominance(
    top: FeatureImportance,
    runner_up: FeatureImportance,
    alone_auc: float,
    with_column: Metrics,
    without_column: Metrics,
    evaluation: str,
    config: AuditConfig,
) -> Dominance:
    """The check's finding: suspect when the model with the column is far better than both
    the model without it and the column alone."""
    with_values = {k: float(getattr(with_column, k)) for k in COMPARED}
    without_values = {k: float(getattr(without_column, k)) for k in COMPARED}
    gain = with_values["roc_auc"] - max(without_values["roc_auc"], alone_auc)
    return Dominance(
        column=top.feature,
        share=top.share,
        next_column=runner_up.feature,
        next_share=runner_up.share,
        alone_auc=alone_auc,
        with_column=with_values,
        without_column=without_values,
        evaluation=evaluation,
        suspect=gain >= config.dominant_auc_loss,
    )
