"""Features -> the booster's numeric matrix: numbers as they are, categories as codes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from features.pipeline import FeaturePipeline


class FeatureEncoder:
    """Features -> the booster's numeric matrix: numbers as they are, categories as codes.

    Training encodes its slices with this before any booster exists; `ScoringModel`
    encodes with the same object, so both see the same matrix.
    """

    def __init__(self, pipeline: FeaturePipeline, categories: Mapping[str, Iterable[str]]) -> None:
        self.feature_names: tuple[str, ...] = pipeline.feature_names
        self._n_behaviour = len(pipeline.behaviour_names)
        self._codes = {
            name: {value: float(i) for i, value in enumerate(values)}
            for name, values in categories.items()
        }
        self.categorical_features = tuple(self._codes)

    def encode_frame(self, features: pd.DataFrame) -> np.ndarray:
        """Feature frame (as made by `FeaturePipeline.frame`) -> float64 matrix in model order.

        A category not in the model's list (unseen or too rare in training) is missing.
        """
        matrix = np.empty((len(features), len(self.feature_names)), dtype=np.float64)
        for j, name in enumerate(self.feature_names):
            column = features[name]
            if name not in self._codes:
                matrix[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
                continue
            codes = self._codes[name]
            if isinstance(column.dtype, pd.CategoricalDtype):
                # Look up each distinct category once; code -1 (missing) reads the NaN at the end.
                lookup = np.array([codes.get(c, np.nan) for c in column.cat.categories] + [np.nan])
                matrix[:, j] = lookup[column.cat.codes.to_numpy()]
            else:
                matrix[:, j] = column.astype(object).map(codes).astype(np.float64).to_numpy()
        return matrix

    def encode_leads(
        self, behaviour: np.ndarray, attributes: Sequence[Mapping[str, float | str | None]]
    ) -> np.ndarray:
        """Behaviour rows and attribute values of many leads (`FeaturePipeline.leads`)."""
        matrix = np.empty((len(attributes), len(self.feature_names)), dtype=np.float64)
        matrix[:, : self._n_behaviour] = behaviour
        names = self.feature_names[self._n_behaviour :]
        for r, values in enumerate(attributes):
            for j, name in enumerate(names, self._n_behaviour):
                value = values.get(name)
                if name in self._codes:
                    matrix[r, j] = self._codes[name].get(value, np.nan)
                else:
                    matrix[r, j] = np.nan if value is None else float(value)
        return matrix
