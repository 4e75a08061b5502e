"""STIX 2.1 bundle parsing and validation. Touches no database.

A bundle is accepted only when the OASIS `stix2-validator` and the `stix2` library both accept
every object, every indicator pattern names known STIX cyber-observable types, and every object
has a canonical JSON form (RFC 8785) so it can be sealed.
"""

import json
from dataclasses import dataclass
from typing import Any

import stix2
import stix2.exceptions
from stix2patterns.pattern import Pattern
from stix2validator import ValidationOptions, validate_instance
from stix2validator.errors import ValidationError as ValidatorError

from ledger.canonical import CanonicalizationError, canonicalize


class BundleError(ValueError):
    """The input is not a bundle we accept; `errors` lists every reason found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class Tlp:
    """TLP 2.0 levels, ordered from least to most restrictive (FIRST TLP 2.0)."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"
    ORDER = [CLEAR, GREEN, AMBER, AMBER_STRICT, RED]
    LABELS = {
        CLEAR: "TLP:CLEAR",
        GREEN: "TLP:GREEN",
        AMBER: "TLP:AMBER",
        AMBER_STRICT: "TLP:AMBER+STRICT",
        RED: "TLP:RED",
    }

    @classmethod
    def rank(cls, level: str) -> int:
        return cls.ORDER.index(level)


# Marking-definition ids of the TLP 2.0 extension (STIX 2.1 common TLP 2.0 markings) and of
# the TLP 1.0 objects defined in STIX 2.1 section 7.2.1.4 (WHITE counts as CLEAR).
TLP_MARKING_IDS = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": Tlp.CLEAR,
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": Tlp.GREEN,
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": Tlp.AMBER,
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": Tlp.AMBER_STRICT,
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": Tlp.RED,
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": Tlp.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": Tlp.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": Tlp.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": Tlp.RED,
}

# STIX 2.1 section 6: cyber-observable object types a pattern may compare.
PATTERN_OBJECT_TYPES = frozenset(
    {
        "artifact",
        "autonomous-system",
        "directory",
        "domain-name",
        "email-addr",
        "email-message",
        "file",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "network-traffic",
        "process",
        "software",
        "url",
        "user-account",
        "windows-registry-key",
        "x509-certificate",
    }
)

MAX_ERRORS = 50


@dataclass(frozen=True)
class ParsedBundle:
    id: str
    objects: list[dict[str, Any]]


def object_version(obj: dict[str, Any]) -> str:
    """The version of an object: `modified`, else `created`, else "" (cyber observables)."""
    return str(obj.get("modified") or obj.get("created") or "")


def parse_bundle(raw: bytes | str | dict[str, Any]) -> ParsedBundle:
    """Parse and validate a STIX 2.1 bundle. Raises BundleError listing what is wrong."""
    document = _load_json(raw)
    if not isinstance(document, dict) or document.get("type") != "bundle":
        raise BundleError(['expected a STIX 2.1 bundle: a JSON object with "type": "bundle"'])
    objects = document.get("objects")
    if not isinstance(objects, list) or not objects:
        raise BundleError(['the bundle has no "objects" list, or it is empty'])
    if not all(isinstance(obj, dict) for obj in objects):
        raise BundleError(["every entry of the bundle's objects must be a JSON object"])
    # STIX 2.1 section 3.1: every object has a string type and id. Checked first, because the
    # validator below fails with a TypeError instead of a message on objects without them.
    shapeless = [
        f'object {index}: "type" and "id" must be strings'
        for index, obj in enumerate(objects)
        if not (isinstance(obj.get("type"), str) and isinstance(obj.get("id"), str))
    ]
    if shapeless:
        raise BundleError(shapeless[:MAX_ERRORS])

    errors = _validator_errors(document)
    for obj in objects:
        errors.extend(_library_errors(obj))
        errors.extend(_pattern_type_errors(obj))
        errors.extend(_canonical_errors(obj))
    errors.extend(_duplicate_errors(objects))
    if errors:
        raise BundleError(errors[:MAX_ERRORS])
    return ParsedBundle(id=str(document.get("id", "")), objects=objects)


def most_restrictive_tlp(obj: dict[str, Any]) -> str | None:
    """The most restrictive TLP level the object is marked with, if any."""
    levels = [
        TLP_MARKING_IDS[ref] for ref in obj.get("object_marking_refs", []) if ref in TLP_MARKING_IDS
    ]
    return max(levels, key=Tlp.rank) if levels else None


def _load_json(raw: bytes | str | dict[str, Any]) -> Any:
    if isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError([f"the body is not valid JSON: {exc}"]) from None


def _label(obj: dict[str, Any]) -> str:
    return str(obj.get("id") or obj.get("type") or "object")


def _validator_errors(document: dict[str, Any]) -> list[str]:
    try:
        result = validate_instance(document, ValidationOptions(version="2.1"))
    except (ValidatorError, TypeError, ValueError, KeyError, AttributeError) as exc:
        # The validator assumes well-formed objects; a malformed one is the sender's error.
        return [f"the bundle could not be validated: {exc}"]
    if result.is_valid:
        return []
    return [str(error.message if hasattr(error, "message") else error) for error in result.errors]


def _library_errors(obj: dict[str, Any]) -> list[str]:
    try:
        stix2.parse(obj, allow_custom=True, version="2.1")
    except (stix2.exceptions.STIXError, ValueError, TypeError) as exc:
        return [f"{_label(obj)}: {exc}"]
    return []


def _pattern_type_errors(obj: dict[str, Any]) -> list[str]:
    # stix2 and the validator check pattern syntax only; the object types are ours to check.
    if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
        return []
    try:
        comparisons = Pattern(str(obj.get("pattern", ""))).inspect().comparisons
    except Exception:  # noqa: BLE001 - syntax errors are already reported by the validator
        return []
    unknown = sorted(
        {
            object_type
            for object_type in comparisons
            if object_type not in PATTERN_OBJECT_TYPES and not object_type.startswith("x-")
        }
    )
    if unknown:
        return [f"{_label(obj)}: pattern compares unknown object type(s): {', '.join(unknown)}"]
    return []


def _canonical_errors(obj: dict[str, Any]) -> list[str]:
    try:
        canonicalize(obj)
    except CanonicalizationError as exc:
        return [f"{_label(obj)}: cannot be sealed: {exc}"]
    return []


def _duplicate_errors(objects: list[dict[str, Any]]) -> list[str]:
    seen: set[tuple[str, str]] = set()
    errors = []
    for obj in objects:
        key = (_label(obj), object_version(obj))
        if key in seen:
            errors.append(f"{key[0]}: the same version appears twice in the bundle")
        seen.add(key)
    return errors
