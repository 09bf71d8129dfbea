"""Which features are categories, and which of their values get a code of their own."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from features.pipeline import FeaturePipeline

# Attribute kinds the pipeline produces as numbers; every other kind is text.
_NUMERIC_KINDS = frozenset({"numeric", "boolean"})


def categorical_feature_names(pipeline: FeaturePipeline) -> tuple[str, ...]:
    """Features the pipeline produces as text: the booster treats them as categories."""
    return tuple(s.name for s in pipeline.attributes.specs if s.kind not in _NUMERIC_KINDS)


def learn_categories(
    features: pd.DataFrame, names: Sequence[str], min_count: int
) -> dict[str, tuple[str, ...]]:
    """Categories of each text feature seen at least `min_count` times (in training only).

    A rarer category gets no code of its own: it is encoded as missing, like an unseen one,
    so the model cannot memorise a handful of leads by a one-off value.
    """
    categories = {}
    for name in names:
        counts = features[name].astype(object).value_counts(dropna=True)
        categories[name] = tuple(sorted(str(v) for v in counts.index[counts >= min_count]))
    return categories
