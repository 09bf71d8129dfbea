"""The feature pipeline: behaviour + attribute features for (lead, as-of) rows.

`FeaturePipeline.frame` serves training and batch scoring (tables of many rows),
`FeaturePipeline.leads` serves the HTTP service and the MLflow pyfunc (lead records, usually
`as_of = now`). Both call the same behaviour kernel and the same attribute transforms; tests
prove they agree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from features.attributes import AttributeTransform
from features.behaviour import BEHAVIOUR_FEATURES, behaviour_features
from features.contract.schema import AS_OF, CREATED_AT, EVENT_CODE, LEAD_ID, OTHER_CODE, EventType
from features.journeys import Journeys, to_epoch_seconds


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
            # Journeys read for this leads table are in its order: no second lookup by id.
            same_order = np.array_equal(journeys.lead_ids, leads[LEAD_ID].to_numpy())
            matrix = behaviour_features(
                journeys,
                lead_pos if same_order else journeys.index_of(rows[LEAD_ID].to_numpy()),
                to_epoch_seconds(rows[AS_OF]),
                created,
            )
            # A view of the matrix, not a copy: it is the largest thing a build holds.
            behaviour = pd.DataFrame(
                matrix, columns=list(BEHAVIOUR_FEATURES), index=rows.index, copy=False
            )
            parts.append(behaviour)
        attrs = self.attributes.frame(leads)
        attrs = attrs.iloc[lead_pos].set_axis(rows.index)
        for name in attrs.columns:
            if attrs[name].dtype == object:
                attrs[name] = attrs[name].astype("category")
        parts.append(attrs)
        return pd.concat(parts, axis=1)

    def leads(
        self, leads: Sequence[LeadRecord], as_of: np.ndarray, created_at: np.ndarray
    ) -> LeadFeatures:
        """Features of each lead record as of its cut-off (`as_of`, `created_at`: epoch
        seconds; NaN `created_at` only for pipelines without behaviour features).

        The path of the service and of every caller that holds leads rather than tables:
        one journey structure and one kernel call for the whole request, no pandas.
        """
        n = len(leads)
        attributes = [self.attributes.one(lead.attributes) for lead in leads]
        events = [event for lead in leads for event in lead.events]
        counts = np.fromiter((len(lead.events) for lead in leads), dtype=np.int64, count=n)
        times = np.fromiter(
            (epoch_seconds(e["occurred_at"]) for e in events), dtype=np.float64, count=len(events)
        )
        codes = np.fromiter(
            (EVENT_CODE.get(e["event_type"], OTHER_CODE) for e in events),
            dtype=np.int8,
            count=len(events),
        )
        lead_index = np.repeat(np.arange(n), counts)
        late = np.bincount(lead_index[times >= as_of[lead_index]], minlength=n)
        unknown: list[list[str]] = [[] for _ in range(n)]
        for i in np.flatnonzero(codes == OTHER_CODE):
            kind = events[i]["event_type"]
            if kind != EventType.OTHER:
                unknown[lead_index[i]].append(kind)
        if self.use_behaviour:
            rows = np.arange(n)
            journeys = Journeys.from_arrays(rows, lead_index, times, codes)
            behaviour = behaviour_features(journeys, rows, as_of, created_at)
        else:
            behaviour = np.zeros((n, 0), dtype=np.float32)
        return LeadFeatures(behaviour, attributes, late, unknown)


class LeadRecord(Protocol):
    """A lead as callers send it (`runtime.leads.LeadIn` is one): attribute values by column
    name, and events as mappings with `event_type` (str) and `occurred_at` (datetime)."""

    attributes: Mapping[str, object]
    events: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class LeadFeatures:
    """Behaviour rows and attribute values per lead, and what the input needed worked around."""

    behaviour: np.ndarray  # float32 (leads x behaviour features)
    attributes: list[dict[str, float | str | None]]
    late_events: np.ndarray  # per lead: events at or after its as_of (ignored by the kernel)
    unknown_types: list[list[str]]  # per lead: event types read as `other`


def epoch_seconds(moment: datetime) -> float:
    """Seconds since the epoch; a timestamp without a zone is UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
