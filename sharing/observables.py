"""What a STIX object mentions: observable values and references to other objects.

Pure functions over parsed STIX 2.1 JSON; no database. They feed the reading indexes
(sharing.services.indexing) and the search (sharing.selectors_reading).
"""

import ipaddress
from collections.abc import Iterator
from typing import Any

from stix2patterns.pattern import Pattern

MAX_VALUE_LENGTH = 512

# Observable object types (STIX 2.1 section 6) and the properties whose values a reader would
# paste into a search box. Hashes (`hashes` dictionaries) are taken from every type.
VALUE_PROPERTIES = {
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "domain-name": ("value",),
    "url": ("value",),
    "email-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "autonomous-system": ("number",),
    "file": ("name",),
    "directory": ("path",),
    "windows-registry-key": ("key",),
    "user-account": ("user_id", "account_login"),
    "x509-certificate": ("serial_number", "subject"),
    "email-message": ("subject",),
}

# Operators whose right-hand side names the value itself (STIX 2.1 section 9.5).
EQUALITY_OPERATORS = {"=", "ISSUBSET", "IN"}


def normalise(value: Any) -> str | None:
    """The form values are stored and searched in: stripped, lower-case, networks in CIDR
    form (`203.0.113.7/32` and `203.0.113.7` are the same), None for what cannot be indexed."""
    text = str(value).strip().lower()
    if not text or len(text) > MAX_VALUE_LENGTH:
        return None
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return text
    if network.num_addresses == 1:
        return str(network.network_address)
    return str(network)


def search_values(query: str) -> list[str]:
    """The stored values that match what a reader pasted: the value itself and, for an IP
    address, every network that contains it (so `203.0.113.7` finds an indicator of
    `203.0.113.0/24`)."""
    value = normalise(query)
    if value is None:
        return []
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return [value]
    networks = [
        str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
        for prefix in range(address.max_prefixlen)
    ]
    return [value, *networks]


def observable_values(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, normalised value) of every observable value the object mentions: the constants
    an indicator's STIX pattern compares for equality, or the values of an observable
    object. Duplicates are dropped; the order is stable."""
    found: dict[tuple[str, str], None] = {}
    for path, raw in _raw_values(obj):
        value = normalise(raw)
        if value is not None:
            found[(path[:200], value)] = None
    return list(found)


def references(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, STIX id) of every top-level `*_ref` and `*_refs` property (STIX 2.1
    section 3.4), in the order they appear."""
    found = []
    for name, value in obj.items():
        if name.endswith("_ref") and isinstance(value, str):
            found.append((name, value))
        elif name.endswith("_refs") and isinstance(value, list):
            found.extend((name, item) for item in value if isinstance(item, str))
    return found


def _raw_values(obj: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    stix_type = obj.get("type")
    if stix_type == "indicator" and obj.get("pattern_type") == "stix":
        yield from _pattern_values(str(obj.get("pattern", "")))
        return
    for name in VALUE_PROPERTIES.get(str(stix_type), ()):
        if isinstance(obj.get(name), str | int) and not isinstance(obj.get(name), bool):
            yield f"{stix_type}:{name}", obj[name]
    hashes = obj.get("hashes")
    if isinstance(hashes, dict):
        for algorithm, digest in hashes.items():
            if isinstance(digest, str):
                yield f"{stix_type}:hashes.'{algorithm}'", digest


def _pattern_values(pattern: str) -> Iterator[tuple[str, Any]]:
    try:
        comparisons = Pattern(pattern).inspect().comparisons
    except Exception:  # noqa: BLE001 - published patterns are valid; a bad one indexes nothing
        return
    for object_type, tests in comparisons.items():
        for path, operator, constant in tests:
            if operator not in EQUALITY_OPERATORS:
                continue
            name = ".".join(_path_part(part) for part in path)
            for value in _constants(constant):
                yield f"{object_type}:{name}", value


def _path_part(part: Any) -> str:
    if part == "*" or isinstance(part, int):
        return "[*]"
    return f"'{part}'" if "-" in str(part) else str(part)


def _constants(constant: str) -> list[str]:
    """The values of a pattern constant as stix2patterns reports it: a quoted string, a
    number, or a set of them `('a', 'b')`."""
    text = constant.strip()
    if text.startswith("(") and text.endswith(")"):
        return [value for part in _split_set(text[1:-1]) for value in _constants(part)]
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return [text[1:-1].replace("\\'", "'").replace("\\\\", "\\")]
    if text.startswith(("h'", "b'")):  # hex and binary constants are not searchable text
        return []
    return [text]


def _split_set(text: str) -> list[str]:
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == "'":
            current.append(char)
            quoted = not quoted
        elif char == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in (p.strip() for p in parts) if part]
