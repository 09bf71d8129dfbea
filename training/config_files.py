"""`--config` YAML files: read, validated against a settings model, and any problem said on one
line naming the key, e.g. "crm.yaml: unknown key 'train.split.tets' (known: train_share, ...)".

Light on purpose (YAML and pydantic only): `leadscore --help` imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Settings = TypeVar("Settings", bound=BaseModel)


class SettingsError(ValueError):
    """A settings file that cannot be read or does not validate; the message is one line."""


def read_settings(path: Path) -> dict[str, Any]:
    """The mapping a YAML settings file holds (empty for an empty file)."""
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        # YAML's messages point at the line over several lines; one line keeps errors alike.
        raise SettingsError(f"{path}: {' '.join(str(exc).split())}") from None
    if not isinstance(values, dict):
        raise SettingsError(f"{path} must hold a mapping of settings")
    return values


def validate_settings(
    values: Mapping[str, Any],
    model: type[Settings],
    where: str | Path,
    missing_hints: Mapping[str, str] | None = None,
) -> Settings:
    """`values` as a `model`; `where` starts the error line, `missing_hints` replace the
    message of a missing field (by its dotted key) with how to give it."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise SettingsError(f"{where}: {settings_errors(exc, model, missing_hints)}") from None


def load_settings(path: Path, model: type[Settings]) -> Settings:
    """The settings file at `path` as a `model`, or a one-line `SettingsError`."""
    return validate_settings(read_settings(path), model, path)


def settings_errors(
    exc: ValidationError, model: type[BaseModel], missing_hints: Mapping[str, str] | None = None
) -> str:
    """The validation errors on one line; an unknown key is named with the keys it could be."""
    hints = missing_hints or {}
    problems = []
    for error in exc.errors():
        loc = ".".join(map(str, error["loc"]))
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {loc!r}{_known_keys(model, error['loc'][:-1])}")
        elif error["type"] == "missing" and loc in hints:
            problems.append(hints[loc])
        else:
            problems.append(f"{loc}: {error['msg']}")
    return "; ".join(problems)


def _known_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """ " (known: a, b, ...)": the keys of the section at `loc` (e.g. ("train", "split"))."""
    section: object = model
    for key in loc:
        field = section.model_fields.get(key) if isinstance(key, str) else None
        section = field.annotation if field else None
        if not (isinstance(section, type) and issubclass(section, BaseModel)):
            return ""  # inside a list or a union: no single set of keys to list
    return f" (known: {', '.join(section.model_fields)})"
