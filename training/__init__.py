"""Training: time split, LightGBM, calibration, tiers, evaluation.

It only produces artifacts; `runtime` scores with them.
"""

import runtime  # noqa: F401  (sets OMP_WAIT_POLICY before LightGBM loads)
