"""The scoring artifact as an MLflow pyfunc model, for `mlflow.pyfunc.load_model` and
`mlflow models serve`.

Input (the documented pyfunc format): a DataFrame with one column per model feature
(`ScoringModel.feature_names`), ENCODED as the booster sees them: numbers as they are,
categorical features as the model's integer codes (`ScoringModel.encode_frame`), NaN for
missing. Output: one row per input row with `probability` (calibrated), `score` (0-100) and
`tier`. Raw lead data (attributes and events) goes to the leadscore service instead, which
computes the features itself; this format exists so both servers can be compared on the
same encoded rows.

The logged model is "from code" (`pyfunc_model.py`, no pickle); it carries the artifact
directory as an MLflow artifact and the `features` and `training` packages as code, so it
loads wherever its pip requirements are installed.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ColSpec, Schema

import features
import runtime
from runtime.artifact import ScoringModel

ARTIFACT_KEY = "scoring_model"
MODEL_NAME = "model"
OUTPUT_COLUMNS = ("probability", "score", "tier")
# What `runtime.artifact` imports at inference time (besides MLflow itself), pinned to the
# versions the model was logged with.
INFERENCE_PACKAGES = ("mlflow", "lightgbm", "numba", "numpy", "pandas", "pydantic")
EXAMPLE_ROWS = 5


class LeadScoringPyfunc(mlflow.pyfunc.PythonModel):
    """Wraps a `ScoringModel` directory; predicts from encoded feature columns."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.model = ScoringModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Encoded feature rows -> probability, score and tier."""
        return predict_encoded(self.model, pd.DataFrame(model_input))


def predict_encoded(model: ScoringModel, encoded: pd.DataFrame) -> pd.DataFrame:
    """Probability, 0-100 score and tier of rows of encoded features (the pyfunc format)."""
    missing = [n for n in model.feature_names if n not in encoded.columns]
    if missing:
        raise ValueError(
            f"the input lacks {len(missing)} of the model's {len(model.feature_names)} feature "
            f"columns, e.g. {missing[:5]}; send one column per feature, encoded as "
            "`ScoringModel.encode_frame` does (see the model's signature and input example)."
        )
    matrix = encoded[list(model.feature_names)].to_numpy(dtype=np.float64, na_value=np.nan)
    probability = model.probability(matrix)
    return pd.DataFrame(
        {
            "probability": probability,
            "score": model.score_0_100(probability),
            "tier": model.tier(probability).astype(str),
        },
        index=encoded.index,
    )


def encoded_frame(model: ScoringModel, features_frame: pd.DataFrame) -> pd.DataFrame:
    """Feature frame (as made by the pipeline) -> the pyfunc input: encoded, named columns."""
    return pd.DataFrame(
        model.encode_frame(features_frame),
        columns=list(model.feature_names),
        index=features_frame.index,
    )


def signature(model: ScoringModel) -> ModelSignature:
    """Input: one double column per feature (NaN allowed); output: probability, score, tier."""
    inputs = Schema([ColSpec("double", name) for name in model.feature_names])
    outputs = Schema(
        [ColSpec("double", "probability"), ColSpec("double", "score"), ColSpec("string", "tier")]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """The inference packages pinned to the installed versions."""
    return [f"{package}=={version(package)}" for package in INFERENCE_PACKAGES]


def log_pyfunc(
    model_dir: Path, model: ScoringModel, example_features: pd.DataFrame | None = None
) -> ModelInfo:
    """Log the artifact directory as a pyfunc model in the active MLflow run.

    `example_features` (a feature frame) gives the input example; its first rows are used.
    """
    example = (
        encoded_frame(model, example_features.head(EXAMPLE_ROWS))
        if example_features is not None and len(example_features)
        else None
    )
    return mlflow.pyfunc.log_model(
        name=MODEL_NAME,
        python_model=str(Path(__file__).with_name("pyfunc_model.py")),
        artifacts={ARTIFACT_KEY: str(model_dir)},
        code_paths=[str(Path(features.__file__).parent), str(Path(runtime.__file__).parent)],
        signature=signature(model),
        input_example=example,
        pip_requirements=pip_requirements(),
    )
