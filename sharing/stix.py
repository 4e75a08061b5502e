"""STIX 2.1 bundle parsing and validation. Touches no database.

A bundle is accepted only when the OASIS `stix2-validator` accepts it (JSON schemas and every
MUST check), every reference property points to an object of an allowed type, every indicator
pattern names known STIX cyber-observable types, and every object has a canonical JSON form
(RFC 8785) so it can be sealed.

Each object is validated once: the `stix2` library, which checked the same things again while
building every object, is not run; the reference-type rules it added are checked here.
"""

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import stix2validator.v21.musts
import stix2validator.validator
from stix2patterns.v21.pattern import Pattern
from stix2patterns.validator import run_validator
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

# The TLP 2.0 marking-definition id of each level, stamped on every published object.
TLP2_MARKING_ID = {level: marking_id for marking_id, level in list(TLP_MARKING_IDS.items())[:5]}

# STIX 2.1 object types by section: domain objects (4), relationship objects (5), meta objects (7).
DOMAIN_OBJECT_TYPES = (
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
)
RELATIONSHIP_OBJECT_TYPES = ("relationship", "sighting")
META_OBJECT_TYPES = ("marking-definition", "language-content", "extension-definition")

# STIX 2.1 section 6: cyber-observable object types (the ones a pattern may compare).
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
# Only the MUST checks: the SHOULD (best-practice) checks yield warnings, which are not refusals,
# and cost as much again.
_OPTIONS = ValidationOptions(version="2.1", disabled=["all"])


def _reuse_schema_validators() -> None:
    """Give `stix2-validator`'s JSON-schema validators a registry that already holds every
    schema they reference.

    The library builds each validator with a registry holding only its own schema: every
    `$ref` is then retrieved (from the library's cache) into a new registry that is crawled
    again and thrown away, for every object checked. That is most of the cost of validating a
    single-object bundle (about 50 ms on a 2-core machine). Here the validator of each schema
    is built once with every schema the library has retrieved so far, crawled once, and
    rebuilt only when the library retrieves a schema it had not seen. What is validated, and
    how, does not change.
    """
    module = stix2validator.validator
    if getattr(module.load_validator, "reused", False):
        return
    build = module.load_validator
    validators: dict[tuple[str, str], tuple[int, Any]] = {}

    def known() -> list[tuple[str, Any]]:
        return [*module._FILE_SCHEMAS.items(), *module._HTTP_SCHEMAS.items()]

    def load_validator(schema_path: str, schema: dict, schema_dir: str) -> Any:
        key = (schema_path, schema_dir)
        resources = known()
        cached = validators.get(key)
        if cached is not None and cached[0] == len(resources):
            return cached[1]
        built = build(schema_path, schema, schema_dir)
        registry = built._registry.with_resources(resources).crawl()
        # A new instance: evolve() would keep the resolver bound to the old registry.
        validator = type(built)(
            built.schema, registry=registry, format_checker=built.format_checker
        )
        validators[key] = (len(resources), validator)
        return validator

    load_validator.reused = True  # type: ignore[attr-defined]
    module.load_validator = load_validator


_reuse_schema_validators()

# A STIX 2.1 pattern parsed once serves both the validator's MUST check and ours below; a
# pattern is parsed by an ANTLR grammar, the costliest step of validating an indicator.
parsed_pattern = functools.lru_cache(maxsize=4096)(Pattern)
stix2validator.v21.musts.Pattern = parsed_pattern

# Keys whose strings are names or short labels, and keys holding free text (STIX 2.1 common
# and SDO properties). Every other string is bounded by `Limits.string_chars`.
NAME_KEYS = frozenset({"name", "aliases", "labels", "roles", "sectors", "goals"})
TEXT_KEYS = frozenset(
    {"description", "content", "abstract", "explanation", "opinion", "pattern", "objective"}
)


@dataclass(frozen=True)
class Limits:
    """Size bounds applied to every bundle, whether typed in a form, uploaded or posted."""

    name_chars: int = 300
    string_chars: int = 2048
    text_chars: int = 20000
    objects: int = 1000


@dataclass(frozen=True)
class ParsedBundle:
    id: str
    objects: list[dict[str, Any]]


def object_version(obj: dict[str, Any]) -> str:
    """The version of an object: `modified`, else `created`, else "" (cyber observables)."""
    return str(obj.get("modified") or obj.get("created") or "")


def parse_bundle(
    raw: bytes | str | dict[str, Any], *, limits: Limits | None = None
) -> ParsedBundle:
    """Parse and validate a STIX 2.1 bundle. Raises BundleError listing what is wrong.

    Size limits are checked first, so an oversized bundle is refused before the validators
    spend time on it.
    """
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
    size_errors = limit_errors(objects, limits or Limits())
    if size_errors:
        raise BundleError(size_errors[:MAX_ERRORS])

    errors = _validator_errors(document)
    for obj in objects:
        errors.extend(_reference_errors(obj))
        errors.extend(_pattern_type_errors(obj))
        errors.extend(_canonical_errors(obj))
    errors.extend(_duplicate_errors(objects))
    if errors:
        raise BundleError(errors[:MAX_ERRORS])
    return ParsedBundle(id=str(document.get("id", "")), objects=objects)


def limit_errors(objects: list[dict[str, Any]], limits: Limits) -> list[str]:
    """Every size limit the objects exceed, one message per offending field."""
    if len(objects) > limits.objects:
        return [f"the bundle has {len(objects)} objects; the limit is {limits.objects}"]
    errors: list[str] = []
    for obj in objects:
        for path, key, text in _strings(obj, ""):
            if key in NAME_KEYS:
                limit, kind = limits.name_chars, "names and labels"
            elif key in TEXT_KEYS:
                limit, kind = limits.text_chars, "descriptions and other text"
            else:
                limit, kind = limits.string_chars, "short strings"
            if len(text) > limit:
                errors.append(
                    f"{_label(obj)}: {path} is {len(text)} characters long; the limit for "
                    f"{kind} is {limit}"
                )
    return errors


def _strings(value: Any, path: str, key: str = ""):
    """(path, nearest key, string) of every string inside `value`."""
    if isinstance(value, str):
        yield path or key, key, value
    elif isinstance(value, dict):
        for child_key, child in value.items():
            child_path = f"{path}.{child_key}" if path else str(child_key)
            yield from _strings(child, child_path, str(child_key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, f"{path}[{index}]", key)


@dataclass(frozen=True)
class PatternCheck:
    ok: bool
    message: str = ""
    column: int | None = None


_POSITION = re.compile(r"line (\d+):(\d+)")


def check_pattern(pattern: str) -> PatternCheck:
    """Check one STIX pattern as an indicator would be checked; on failure give the
    validator's message and the (0-based) column it points at, when it names one."""
    if not pattern.strip():
        return PatternCheck(ok=False, message="The pattern is empty.", column=0)
    errors = run_validator(pattern, stix_version="2.1")
    if errors:
        message = str(errors[0]).removeprefix("FAIL: ")
        found = _POSITION.search(message)
        return PatternCheck(ok=False, message=message, column=int(found[2]) if found else None)
    unknown = _pattern_type_errors(
        {"type": "indicator", "pattern_type": "stix", "pattern": pattern}
    )
    if unknown:
        return PatternCheck(ok=False, message=unknown[0].split(": ", 1)[1])
    return PatternCheck(ok=True)


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
    return str(obj.get("id") or obj.get("type") or "object")[:120]


def _validator_errors(document: dict[str, Any]) -> list[str]:
    try:
        result = validate_instance(document, _OPTIONS)
    except (ValidatorError, TypeError, ValueError, KeyError, AttributeError) as exc:
        # The validator assumes well-formed objects; a malformed one is the sender's error.
        return [f"the bundle could not be validated: {exc}"]
    if result.is_valid:
        return []
    return [str(error.message if hasattr(error, "message") else error) for error in result.errors]


# STIX 2.1 sections 3.2 (common properties), 5.1 (relationship), 5.2 (sighting), 7.2: the object
# types each reference property may point to. The JSON schemas check only that a reference is
# an identifier; the `stix2` library checks these too, at the price of building every object.
REFERENCE_TYPES: dict[str, frozenset[str]] = {
    "created_by_ref": frozenset({"identity"}),
    "object_marking_refs": frozenset({"marking-definition"}),
    "observed_data_refs": frozenset({"observed-data"}),
    "where_sighted_refs": frozenset({"identity", "location"}),
}
NOT_RELATABLE = frozenset({"bundle", "language-content", "marking-definition", "relationship"})


def _reference_errors(obj: dict[str, Any]) -> list[str]:
    errors = []
    for prop, allowed in REFERENCE_TYPES.items():
        value = obj.get(prop)
        refs = value if isinstance(value, list) else [value] if value is not None else []
        for ref in refs:
            if isinstance(ref, str) and ref.split("--", 1)[0] not in allowed:
                errors.append(
                    f"{_label(obj)}: {prop} must refer to {' or '.join(sorted(allowed))}, not {ref}"
                )
    for marking in obj.get("granular_markings") or []:
        ref = marking.get("marking_ref") if isinstance(marking, dict) else None
        if isinstance(ref, str) and not ref.startswith("marking-definition--"):
            errors.append(f"{_label(obj)}: a granular marking must refer to a marking-definition")
    if obj.get("type") in ("relationship", "sighting"):
        for prop in ("source_ref", "target_ref", "sighting_of_ref"):
            ref = obj.get(prop)
            if isinstance(ref, str) and ref.split("--", 1)[0] in NOT_RELATABLE:
                errors.append(f"{_label(obj)}: {prop} cannot refer to a {ref.split('--')[0]}")
    sighted = obj.get("sighting_of_ref") if obj.get("type") == "sighting" else None
    if isinstance(sighted, str) and sighted.split("--", 1)[0] in PATTERN_OBJECT_TYPES:
        errors.append(f"{_label(obj)}: sighting_of_ref must refer to an SDO, not {sighted}")
    return errors


def _pattern_type_errors(obj: dict[str, Any]) -> list[str]:
    # stix2 and the validator check pattern syntax only; the object types are ours to check.
    if obj.get("type") != "indicator" or obj.get("pattern_type") != "stix":
        return []
    try:
        comparisons = parsed_pattern(str(obj.get("pattern", ""))).inspect().comparisons
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
