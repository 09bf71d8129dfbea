"""What MLflow executes to load the logged pyfunc model ("models from code": no pickle).

It imports only the runtime: the model scores lead records exactly as the service does.
"""

from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import set_model

from runtime.leads import predict_records
from runtime.model import Reasons, ScoringModel
from runtime.source import ARTIFACT_KEY


class LeadScoringPyfunc(mlflow.pyfunc.PythonModel):
    """Wraps a `ScoringModel` directory; predicts from lead records (the HTTP API's shape)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.model = ScoringModel.load(Path(context.artifacts[ARTIFACT_KEY]))

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        """Lead records -> lead_id, probability, score, tier, fit, engagement, grade and
        reasons."""
        return predict_records(self.model, model_input, reasons=Reasons())


set_model(LeadScoringPyfunc())
