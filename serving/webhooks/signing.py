"""Signing deliveries: HMAC-SHA256 over `timestamp.body` with the subscription's secret.

The header carries both, `Leadscore-Signature: t=<unix seconds>,v1=<hex digest>`, so a
receiver checks the body is ours and recent: a replay of an old delivery fails the age check,
and a replay within it is caught by the delivery id (`Leadscore-Delivery`) it has seen.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Leadscore-Signature"
DELIVERY_HEADER = "Leadscore-Delivery"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """What a receiver does: the header's digest matches and its time is within `tolerance`
    seconds of `now` (the README shows the same check in a few lines of plain Python)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body)
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, header)
