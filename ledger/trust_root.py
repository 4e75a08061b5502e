"""The trust root: what a verifier pins out of band before it believes any receipt.

A receipt names its own chain, contract and signing key, so a receipt alone proves only
that it is self-consistent: anyone can deploy a registry, anchor a root of their own and
sign with a key of their own. A trust root, obtained once over a channel the consumer
trusts (and compared with what colleagues obtained), names the real ones:

    {
      "type": "cti-portal-trust-root",
      "version": 1,
      "chain_id": 31337,
      "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
      "anchor_senders": ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],
      "confirmations": 1,
      "keys": [
        {"key_id": "ed25519:…", "public_key": "<64 hex>", "organisation": "identity--…",
         "custody": "portal-held", "valid_from": "2026-01-01T00:00:00Z",
         "valid_until": null, "revoked_at": null}
      ]
    }

``confirmations`` is the depth a checkpoint's block must have (1: mined), or the string
``"finalized"`` for the node's finalized block tag. A key signs validly only for
checkpoints anchored at or after ``valid_from`` and before ``valid_until`` and
``revoked_at`` (whichever comes first). No Django here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.signing import key_id as key_id_for

TRUST_ROOT_TYPE = "cti-portal-trust-root"
TRUST_ROOT_VERSION = 1
FINALIZED = "finalized"
CUSTODIES = ("portal-held", "organisation-held")

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_PUBLIC_KEY = re.compile(r"[0-9a-f]{64}")


class TrustRootError(ValueError):
    """The document is not a usable trust root; ``str()`` names the offending field."""


@dataclass(frozen=True)
class PinnedKey:
    key_id: str
    public_key: bytes
    organisation: str
    custody: str
    valid_from: datetime
    valid_until: datetime | None
    revoked_at: datetime | None

    def refusal_at(self, moment: datetime) -> str | None:
        """Why this key could not sign something anchored at ``moment``; None if it could."""
        if moment < self.valid_from:
            return f"key {self.key_id} is valid only from {_iso(self.valid_from)}"
        if self.revoked_at is not None and moment >= self.revoked_at:
            return f"key {self.key_id} was revoked at {_iso(self.revoked_at)}"
        if self.valid_until is not None and moment >= self.valid_until:
            return f"key {self.key_id} expired at {_iso(self.valid_until)}"
        return None


@dataclass(frozen=True)
class TrustRoot:
    chain_id: int
    contract: str
    anchor_senders: tuple[str, ...]
    confirmations: int | str
    keys: Mapping[str, PinnedKey]

    def is_sender(self, address: str | None) -> bool:
        return address is not None and address.lower() in {s.lower() for s in self.anchor_senders}


def parse_trust_root(doc: Any) -> TrustRoot:
    """Decode a trust root document (already parsed from JSON); TrustRootError if malformed."""
    if not isinstance(doc, Mapping):
        raise TrustRootError("the trust root must be a JSON object")
    if doc.get("type") != TRUST_ROOT_TYPE:
        raise TrustRootError(f"type must be {TRUST_ROOT_TYPE!r}")
    if doc.get("version") != TRUST_ROOT_VERSION:
        raise TrustRootError(f"unsupported trust root version {doc.get('version')!r}")
    chain_id = doc.get("chain_id")
    if not _positive_int(chain_id):
        raise TrustRootError("chain_id must be a positive integer")
    contract = doc.get("contract")
    if not isinstance(contract, str) or not _ADDRESS.fullmatch(contract):
        raise TrustRootError("contract must be a 0x-prefixed 20-byte hex address")
    senders = doc.get("anchor_senders")
    if (
        not isinstance(senders, list)
        or not senders
        or not all(isinstance(s, str) and _ADDRESS.fullmatch(s) for s in senders)
    ):
        raise TrustRootError("anchor_senders must be a non-empty list of addresses")
    confirmations = doc.get("confirmations", 1)
    if confirmations != FINALIZED and not _positive_int(confirmations):
        raise TrustRootError('confirmations must be a positive integer or "finalized"')
    raw_keys = doc.get("keys")
    if not isinstance(raw_keys, list):
        raise TrustRootError("keys must be a list")
    keys: dict[str, PinnedKey] = {}
    for position, raw in enumerate(raw_keys):
        key = _parse_key(raw, f"keys[{position}]")
        keys[key.key_id] = key
    return TrustRoot(
        chain_id=chain_id,
        contract=contract,
        anchor_senders=tuple(senders),
        confirmations=confirmations,
        keys=keys,
    )


def build_trust_root(
    *,
    chain_id: int,
    contract: str,
    anchor_senders: list[str],
    confirmations: int | str,
    keys: list[dict[str, Any]],
) -> dict[str, Any]:
    """The trust root document; each key a dict of PinnedKey's fields (datetimes, bytes)."""
    doc = {
        "type": TRUST_ROOT_TYPE,
        "version": TRUST_ROOT_VERSION,
        "chain_id": chain_id,
        "contract": contract,
        "anchor_senders": anchor_senders,
        "confirmations": confirmations,
        "keys": [
            {
                "key_id": key_id_for(bytes(key["public_key"])),
                "public_key": bytes(key["public_key"]).hex(),
                "organisation": key["organisation"],
                "custody": key["custody"],
                "valid_from": _iso(key["valid_from"]),
                "valid_until": _iso(key["valid_until"]) if key.get("valid_until") else None,
                "revoked_at": _iso(key["revoked_at"]) if key.get("revoked_at") else None,
            }
            for key in keys
        ],
    }
    parse_trust_root(doc)
    return doc


def _parse_key(raw: Any, name: str) -> PinnedKey:
    if not isinstance(raw, Mapping):
        raise TrustRootError(f"{name} must be an object")
    public_hex = raw.get("public_key")
    if not isinstance(public_hex, str) or not _PUBLIC_KEY.fullmatch(public_hex):
        raise TrustRootError(f"{name}.public_key must be 64 lower-case hex digits")
    public_key = bytes.fromhex(public_hex)
    key_id = raw.get("key_id")
    if key_id != key_id_for(public_key):
        raise TrustRootError(f"{name}.key_id does not match its public key")
    organisation = raw.get("organisation")
    if not isinstance(organisation, str) or not organisation:
        raise TrustRootError(f"{name}.organisation must be a non-empty string")
    custody = raw.get("custody")
    if custody not in CUSTODIES:
        raise TrustRootError(f"{name}.custody must be one of {', '.join(CUSTODIES)}")
    valid_from = _time(raw.get("valid_from"), f"{name}.valid_from")
    if valid_from is None:
        raise TrustRootError(f"{name}.valid_from is required")
    return PinnedKey(
        key_id=key_id,
        public_key=public_key,
        organisation=organisation,
        custody=custody,
        valid_from=valid_from,
        valid_until=_time(raw.get("valid_until"), f"{name}.valid_until"),
        revoked_at=_time(raw.get("revoked_at"), f"{name}.revoked_at"),
    )


def _time(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TrustRootError(f"{name} must be an RFC 3339 UTC time string or null")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise TrustRootError(f"{name} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise TrustRootError(f"{name} must carry a time zone")
    return moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
