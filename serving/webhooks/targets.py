"""Where webhooks may be sent: http(s) only, and the hosts an operator allows.

Without a list any host is allowed (documented): a service reachable only by its admins may
notify any receiver. With LEADSCORE_WEBHOOK_ALLOWED_HOSTS set, the service cannot be made a
proxy to internal addresses by whoever holds an admin key.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


def check_target(url: str, allowed_hosts: Sequence[str]) -> str | None:
    """Why `url` may not receive webhooks, or None if it may. An allowed host is a name or
    address (`crm.example.com`, `10.0.0.5`) or a domain and its subdomains (`.example.com`)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 address
        return f"{url!r} is not a URL: {exc}"
    if parts.scheme not in ("http", "https"):
        return f"webhook URLs are http:// or https://, not {parts.scheme or 'without a scheme'}"
    try:
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        return f"{url!r} has an invalid port"
    if not host:
        return f"{url!r} names no host"
    if parts.username or parts.password:
        return "webhook URLs may not carry credentials: the signature authenticates us"
    if allowed_hosts and not any(_allowed(host, entry.lower()) for entry in allowed_hosts):
        return (
            f"{host} is not an allowed webhook host: add it to LEADSCORE_WEBHOOK_ALLOWED_HOSTS "
            f"(now {', '.join(allowed_hosts)})"
        )
    return None


def _allowed(host: str, entry: str) -> bool:
    if entry.startswith("."):
        return host == entry[1:] or host.endswith(entry)
    return host == entry
