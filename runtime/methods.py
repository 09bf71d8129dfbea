"""How reasons are computed. A module of its own, so the CLI and the service settings can name
the methods without loading LightGBM."""

from enum import StrEnum


class ReasonsMethod(StrEnum):
    """`path`: one compiled pass over the trees, microseconds per row; `shap`: LightGBM's exact
    TreeSHAP, milliseconds per row."""

    PATH = "path"
    SHAP = "shap"
