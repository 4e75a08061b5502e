"""Canonical bytes and salted, domain-separated leaves for sealed items.

An item is sealed by canonicalising it with the JSON Canonicalization Scheme
(RFC 8785), so any party holding the same JSON value derives the same bytes,
then hashing those bytes with a random salt under a fixed domain tag. The salt
keeps a published leaf from confirming guesses about a private item; the tag
keeps an item leaf from ever being mistaken for any other SHA-256 in the system.

No Django here: the independent verifier imports this module.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import rfc8785

SALT_BYTES = 32
LEAF_TAG = b"cti-portal:item:v1\x00"

# RFC 8785 section 3.2.2.3 serialises numbers as IEEE 754 doubles, so only integers
# of magnitude <= 2**53 - 1 survive the round trip exactly (I-JSON, RFC 7493 2.2).
MAX_SAFE_INTEGER = 2**53 - 1


class CanonicalizationError(ValueError):
    """The value has no RFC 8785 canonical form; ``str()`` says why, for humans."""


def canonicalize(obj: Any) -> bytes:
    """Return the RFC 8785 (JCS) serialisation of ``obj`` as UTF-8 bytes.

    ``obj`` is a JSON value as Python sees it: dict with str keys, list, tuple,
    str, int, float, bool or None. Raises CanonicalizationError for anything JCS
    cannot represent: integers beyond +/-(2**53 - 1), NaN or infinities, non-str
    object keys, lone surrogates in strings, or other Python types.
    """
    try:
        if _plain(obj):
            return _PLAIN_ENCODER.encode(obj).encode("utf-8")
        return rfc8785.dumps(obj)
    except rfc8785.IntegerDomainError as exc:
        raise CanonicalizationError(
            f"{exc}: RFC 8785 numbers are IEEE 754 doubles, so integers must lie within "
            f"+/-{MAX_SAFE_INTEGER} (2**53 - 1); carry larger values as strings"
        ) from exc
    except rfc8785.FloatDomainError as exc:
        raise CanonicalizationError(
            f"{exc}: NaN and Infinity have no JSON representation (RFC 8785 3.2.2.3)"
        ) from exc
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"not canonicalizable under RFC 8785: {exc}") from exc
    except RecursionError as exc:
        raise CanonicalizationError("not canonicalizable: the value is nested too deeply") from exc


# The fast path for the common case (what STIX objects are): when every string and key is
# ASCII and every number a safe integer, RFC 8785 output is exactly what the C JSON encoder
# writes with sorted keys and no whitespace. Code-point order equals UTF-16 order for ASCII
# keys (3.2.3); ECMAScript and Python escape the same characters the same way (3.2.2.2:
# short forms for \b \f \n \r \t, lower-case \u00xx for other controls, '"' and '\\').
# Everything else (floats, non-ASCII text) goes through the reference implementation.
# tests/ledger/test_canonical.py checks both paths agree.
_PLAIN_ENCODER = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return value.isascii()
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if kind is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return value is None or kind is bool


def sha256(data: bytes) -> bytes:
    """The 32-byte SHA-256 digest of ``data``."""
    return hashlib.sha256(data).digest()


def new_salt() -> bytes:
    """A fresh 32-byte salt from the operating system's CSPRNG."""
    return secrets.token_bytes(SALT_BYTES)


def item_leaf(salt: bytes, canonical: bytes) -> bytes:
    """The 32-byte leaf SHA-256(LEAF_TAG || salt || canonical) for one sealed item.

    ``salt`` must be exactly 32 bytes (ValueError otherwise): a fixed length keeps
    the boundary between salt and canonical bytes unambiguous.
    """
    if len(salt) != SALT_BYTES:
        raise ValueError(f"salt must be {SALT_BYTES} bytes, got {len(salt)}")
    return sha256(LEAF_TAG + salt + canonical)
