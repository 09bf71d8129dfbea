"""The feature pipeline: behaviour + attribute features for (lead, as-of) rows.

`FeaturePipeline.frame` serves training and batch scoring (many rows), `FeaturePipeline.one`
serves the HTTP service (one lead, usually `as_of = now`). Both call the same behaviour
kernel and the same attribute transforms; tests prove they agree.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from features.attributes import AttributeTransform
from features.behaviour import BEHAVIOUR_FEATURES, behaviour_features
from features.contract.schema import CREATED_AT, LEAD_ID
from features.journeys import Journeys, to_epoch_seconds

AS_OF = "as_of"


class FeaturePipeline(BaseModel):
    """Every feature a model uses, and how to compute it from raw lead data."""

    model_config = ConfigDict(frozen=True)

    attributes: AttributeTransform = AttributeTransform()
    use_behaviour: bool = True

    @property
    def behaviour_names(self) -> tuple[str, ...]:
        return BEHAVIOUR_FEATURES if self.use_behaviour else ()

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.behaviour_names + self.attributes.names

    def without(self, names: Collection[str]) -> FeaturePipeline:
        """This pipeline without the named attribute features (e.g. ones the leakage audit
        flagged). Behaviour features come from one kernel pass and cannot be left out singly."""
        behaviour = sorted(set(names) & set(self.behaviour_names))
        if behaviour:
            raise ValueError(
                f"{behaviour} are behaviour features, computed together from the events: "
                "they cannot be left out one by one; fix the events that cause them instead"
            )
        specs = tuple(s for s in self.attributes.specs if s.name not in names)
        return self.model_copy(
            update={"attributes": self.attributes.model_copy(update={"specs": specs})}
        )

    def frame(
        self, leads: pd.DataFrame, journeys: Journeys | None, rows: pd.DataFrame
    ) -> pd.DataFrame:
        """Features for each (lead_id, as_of) row; `leads` has one row per lead id.

        The result is aligned with `rows`: behaviour columns are float32, attribute columns
        float64 (numeric) or category (text).
        """
        lead_pos = pd.Index(leads[LEAD_ID]).get_indexer(rows[LEAD_ID])
        if (lead_pos < 0).any():
            missing = rows.loc[lead_pos < 0, LEAD_ID].iloc[:5].tolist()
            raise ValueError(f"rows name leads that are not in the leads table, e.g. {missing}")
        parts = []
        if self.use_behaviour:
            if journeys is None:
                raise ValueError("this pipeline uses behaviour features: pass the events")
            created = to_epoch_seconds(leads[CREATED_AT])[lead_pos]
            matrix = behaviour_features(
                journeys,
                journeys.index_of(rows[LEAD_ID].to_numpy()),
                to_epoch_seconds(rows[AS_OF]),
                created,
            )
            parts.append(pd.DataFrame(matrix, columns=list(BEHAVIOUR_FEATURES), index=rows.index))
        attrs = self.attributes.frame(leads)
        attrs = attrs.iloc[lead_pos].set_axis(rows.index)
        for name in attrs.columns:
            if attrs[name].dtype == object:
                attrs[name] = attrs[name].astype("category")
        parts.append(attrs)
        return pd.concat(parts, axis=1)

    def one(
        self,
        lead: Mapping[str, object],
        events: Iterable[tuple[datetime, str]],
        as_of: datetime,
    ) -> tuple[np.ndarray, dict[str, float | str | None]]:
        """Behaviour row (float32) and attribute values of one lead as of `as_of`."""
        attributes = self.attributes.one(lead)
        if not self.use_behaviour:
            return np.zeros(0, dtype=np.float32), attributes
        created = lead[CREATED_AT]
        created_s = created.timestamp() if isinstance(created, datetime) else float(created)
        journeys = Journeys.single(str(lead.get(LEAD_ID, "")), events)
        row = behaviour_features(
            journeys,
            np.zeros(1, dtype=np.int64),
            np.array([as_of.timestamp()]),
            np.array([created_s]),
        )[0]
        return row, attributes
