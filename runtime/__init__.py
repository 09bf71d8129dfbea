"""The runtime scoring model: load an exported artifact, compute features, predict,
calibrate, tier and explain.

It imports neither training code nor MLflow (MLflow only when a registry URI is resolved)."""

import os

# LightGBM's OpenMP threads spin while they wait for work. On a machine whose cores are
# busy with other work (a CI runner, the API server beside a retrain) two spinning threads
# made a 12k-row fit 50x slower in our measurements; passive waiting costs little when the
# cores are free. It must be set before the OpenMP runtime loads, i.e. before `lightgbm`
# is imported; an explicit setting by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
