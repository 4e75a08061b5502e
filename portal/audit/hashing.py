"""The audit trail's hash chain, as a pure function (no Django: anyone can recompute it).

hash(n) = SHA-256(TAG || bytes(previous_hash) || JCS(fields of event n)), where JCS is the
RFC 8785 canonical JSON of {seq, created_at, action, actor_email, organisation, target, detail,
ip} and previous_hash is the hash of event n - 1 (64 zeros for the first event).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from ledger.canonical import canonicalize

TAG = b"cti-portal:audit:v1\x00"
GENESIS_HASH = "0" * 64


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a "Z", e.g. 2025-01-31T09:15:00.000123Z."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_fields(
    *,
    seq: int,
    created_at: datetime,
    action: str,
    actor_email: str,
    organisation_id: int | None,
    target: str,
    detail: Any,
    ip: str | None,
) -> dict[str, Any]:
    """The JSON object an event's hash covers."""
    return {
        "seq": seq,
        "created_at": format_timestamp(created_at),
        "action": action,
        "actor_email": actor_email,
        "organisation": organisation_id,
        "target": target,
        "detail": detail,
        "ip": ip,
    }


def chain_hash(previous_hash: str, fields: dict[str, Any]) -> str:
    """The hex SHA-256 linking `fields` to the event before it.

    Raises ValueError if `previous_hash` is not 64 hex digits, and
    ledger.canonical.CanonicalizationError if the fields have no RFC 8785 form.
    """
    previous = bytes.fromhex(previous_hash)
    if len(previous) != 32:
        raise ValueError("previous_hash must be 32 bytes as 64 hex digits")
    return hashlib.sha256(TAG + previous + canonicalize(fields)).hexdigest()
