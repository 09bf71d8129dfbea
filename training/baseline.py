"""The hand-weighted points baseline, scored on exactly the rows the model is measured on."""

from __future__ import annotations

import pandas as pd

from features.contract.schema import AS_OF, LEAD_ID
from features.journeys import Journeys, to_epoch_seconds
from features.points import PointsBreakdown, PointsRules, score_points


def points_on_rows(
    rules: PointsRules, leads: pd.DataFrame, journeys: Journeys, rows: pd.DataFrame
) -> PointsBreakdown:
    """Points (and the rules' own tiers) of (lead_id, as_of) rows, events strictly before as_of.

    Fit rules whose column the leads lack are left out (`PointsRules.usable_with`), so reports,
    notebooks and `rules suggest` score another business's leads as training does.
    """
    lead_pos = pd.Index(leads[LEAD_ID]).get_indexer(rows[LEAD_ID])
    journey_pos = journeys.index_of(rows[LEAD_ID].to_numpy())
    if (lead_pos < 0).any() or (journey_pos < 0).any():
        raise ValueError(
            "some scored rows name leads missing from the leads table or the events: pass the "
            "leads and events the training set was built from."
        )
    return score_points(
        rules.usable_with(leads.columns).rules,
        journeys,
        journey_pos,
        to_epoch_seconds(rows[AS_OF]),
        leads.iloc[lead_pos].set_axis(rows.index),
    )
