"""Log a scoring artifact as an MLflow pyfunc model, for `mlflow.pyfunc.load_model` and
`mlflow models serve`.

The logged model takes the same lead records as the HTTP API (`runtime.leads.LeadIn`: lead_id,
created_at, attributes, events, as_of), one per row or list item, and answers lead_id,
probability, score, tier, fit, engagement, grade and reasons as the service does. It is a
model "from code" (`pyfunc_model.py`, no pickle) that carries the artifact directory and only
the runtime code scoring needs (`runtime/` and the parts of `features/` it imports): no
training code.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import mlflow
from mlflow.models.model import ModelInfo

from runtime.source import ARTIFACT_KEY

MODEL_NAME = "model"
# The packages whose modules the pyfunc ships; everything else comes from its requirements.
SHIPPED_PACKAGES = ("runtime", "features")
# What the runtime imports at inference time (besides MLflow itself), pinned to the
# versions the model was logged with.
INFERENCE_PACKAGES = (
    "mlflow",
    "lightgbm",
    "numba",
    "numpy",
    "pandas",
    "pydantic",
    "pydantic-settings",
    "pyyaml",
)
_ROOT = Path(__file__).resolve().parents[2]
_ENTRY = Path(__file__).with_name("pyfunc_model.py")


def shipped_modules(entry: Path = _ENTRY) -> list[Path]:
    """Source files of `SHIPPED_PACKAGES` that `entry` imports, directly or not (relative to
    the project root), with the `__init__.py` of each package on the way."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] not in SHIPPED_PACKAGES:
                    continue
                for path in _module_files(name):
                    if path not in seen:
                        seen.add(path)
                        todo.append(_ROOT / path)
    return sorted(seen)


def _module_files(name: str) -> Iterator[Path]:
    """The file of a module (or package `__init__`) and the `__init__` of its parents."""
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        base = Path(*parts[:depth])
        if (_ROOT / base / "__init__.py").exists():
            yield base / "__init__.py"
        elif (_ROOT / base).with_suffix(".py").exists():
            yield base.with_suffix(".py")


@contextmanager
def _code_tree(tmp: Path) -> Iterator[list[str]]:
    """The shipped modules copied under `tmp`, one directory per package (the code paths)."""
    for path in shipped_modules():
        target = tmp / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_ROOT / path, target)
    yield [str(tmp / package) for package in SHIPPED_PACKAGES]


def pip_requirements() -> list[str]:
    """The inference packages pinned to the installed versions."""
    return [f"{package}=={version(package)}" for package in INFERENCE_PACKAGES]


def log_pyfunc(model_dir: Path, code_dir: Path) -> ModelInfo:
    """Log the artifact directory as a pyfunc model in the active MLflow run; `code_dir` is an
    empty scratch directory for the shipped code."""
    with _code_tree(code_dir) as code_paths:
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=str(_ENTRY),
            artifacts={ARTIFACT_KEY: str(model_dir)},
            code_paths=code_paths,
            pip_requirements=pip_requirements(),
        )
