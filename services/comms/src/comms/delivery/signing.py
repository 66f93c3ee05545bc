"""HMAC-SHA256 webhook signatures: `X-Teke-Signature: sha256=<hex of HMAC(secret, ts + "." + body)>`."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Teke-Signature"
TIMESTAMP_HEADER = "X-Teke-Timestamp"
DELIVERY_HEADER = "X-Teke-Delivery-Id"
EVENT_HEADER = "X-Teke-Event-Type"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, delivery_id: str, event_type: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, ts, body),
        TIMESTAMP_HEADER: ts,
        DELIVERY_HEADER: delivery_id,
        EVENT_HEADER: event_type,
        "User-Agent": "TEKE-webhooks/1",
    }


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    ts = headers.get(TIMESTAMP_HEADER.lower()) or headers.get(TIMESTAMP_HEADER) or ""
    sig = headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER) or ""
    if not ts.isdigit() or abs(time.time() - int(ts)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), sig)
