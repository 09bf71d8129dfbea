"""What MLflow executes to load the logged pyfunc model ("models from code": no pickle)."""

from mlflow.models import set_model

from training.registry.pyfunc import LeadScoringPyfunc

set_model(LeadScoringPyfunc())
