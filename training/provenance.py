"""Where a model came from: the exact code and the exact training rows."""

from __future__ import annotations

import hashlib
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd


def code_version() -> str:
    """`git describe` of this checkout if there is one, else the installed package version."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    if described:
        return f"git:{described}"
    try:
        return f"leadscore=={version('leadscore')}"
    except PackageNotFoundError:
        return "unknown"


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A short content hash of a training frame (values and column names)."""
    h = hashlib.blake2b(digest_size=16)
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()
