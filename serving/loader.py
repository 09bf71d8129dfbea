"""Where the served model comes from: a registry alias resolved to its current version, a fixed
version, a run, or a directory; and which model that is (name, version, alias)."""

from __future__ import annotations

import re

from runtime.artifact import ScoringModel
from serving.schemas import ModelRef
from training.registry.tracking import (
    RegistrySettings,
    get_alias,
    load_model,
    quiet_mlflow,
    tracking,
)

_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/@]+)$")
_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")


def load_served_model(
    uri: str, registry: RegistrySettings | None = None
) -> tuple[ScoringModel, ModelRef, str]:
    """The model at `uri`, which model it is, and the exact URI it was loaded from.

    An alias is resolved to its version first, so the version reported is the one loaded even
    if the alias moves meanwhile; a reload resolves it again.
    """
    registry = registry or RegistrySettings()
    with quiet_mlflow():
        alias_match = _ALIAS_URI.match(uri)
        if alias_match:
            name, alias = alias_match["name"], alias_match["alias"]
            with tracking(registry) as client:
                version = get_alias(client, name, alias)
            if version is None:
                raise LookupError(
                    f"{uri}: no model {name!r} has the alias @{alias} in {registry.tracking_uri}. "
                    "Train and promote one (`leadscore quickstart`, or `leadscore models "
                    "promote`), or serve a directory with --model models/<name>."
                )
            exact = f"models:/{name}/{version.version}"
            model = load_model(exact, registry)
            return model, ModelRef(name=name, version=str(version.version), alias=alias), exact
        model = load_model(uri, registry)
    version_match = _VERSION_URI.match(uri)
    if version_match:
        ref = ModelRef(name=version_match["name"], version=version_match["version"], alias=None)
    else:
        ref = ModelRef(name=model.spec.metadata.name, version=None, alias=None)
    return model, ref, uri
