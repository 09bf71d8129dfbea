"""Where the journey store lives: one default for the service and the CLI."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

# A SQLite file next to the service: no setup. PostgreSQL when several processes or hosts
# share one store: LEADSCORE_STORE_URL=postgresql://USER:PASSWORD@HOST/DB.
DEFAULT_STORE_URL = "sqlite:///leadscore-store.db"
STORE_URL_VARIABLE = "LEADSCORE_STORE_URL"


def store_url(explicit: str | None = None) -> str:
    """The store to use: `explicit` if given, else LEADSCORE_STORE_URL, else the default."""
    return explicit or os.environ.get(STORE_URL_VARIABLE) or DEFAULT_STORE_URL


def without_password(url: str) -> str:
    """The URL as logs and messages may show it: a password becomes ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
