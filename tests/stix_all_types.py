"""One object of every STIX 2.1 type, each with every common property (STIX 2.1 sections 3.2,
4 to 7), and user-authored text that would run as script if a page did not escape it."""

import uuid
from typing import Any

T = "2026-11-20T08:30:00.000Z"
EVIL = "<script>window.__xss=1</script><img src=x onerror=alert(1)>"
IDENTITY = "identity--0b7f6e8c-7a1e-4d8e-9f3a-2c5b1d4e6f70"
MARKING = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"  # TLP:CLEAR (TLP 2.0)
EXTENSION = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"

SDO_TYPES = [
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
]
SRO_TYPES = ["relationship", "sighting"]
SCO_TYPES = [
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
]
META_TYPES = ["marking-definition", "language-content", "extension-definition"]
ALL_TYPES = SDO_TYPES + SRO_TYPES + SCO_TYPES + META_TYPES


def _id(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid4()}"


def _sdo_common(stix_type: str) -> dict[str, Any]:
    """The common properties of domain, relationship and meta objects (section 3.2)."""
    return {
        "type": stix_type,
        "spec_version": "2.1",
        "id": _id(stix_type),
        "created_by_ref": IDENTITY,
        "created": T,
        "modified": T,
        "revoked": False,
        "labels": [f"label {EVIL}"],
        "confidence": 80,
        "lang": "en",
        "external_references": [
            {
                "source_name": "mitre-attack",
                "external_id": "T1566",
                "url": "https://attack.mitre.org/techniques/T1566/",
                "description": f"Phishing {EVIL}",
            },
            {"source_name": f"evil {EVIL}", "url": "javascript:alert(1)"},
        ],
        "object_marking_refs": [MARKING],
        "granular_markings": [{"marking_ref": MARKING, "selectors": ["labels"]}],
        "extensions": {EXTENSION: {"extension_type": "property-extension", "x_note": EVIL}},
    }


def _sco_common(stix_type: str) -> dict[str, Any]:
    """The common properties of cyber-observable objects (section 6.1)."""
    return {
        "type": stix_type,
        "spec_version": "2.1",
        "id": _id(stix_type),
        "object_marking_refs": [MARKING],
        "granular_markings": [{"marking_ref": MARKING, "selectors": ["defanged"]}],
        "defanged": False,
        "extensions": {EXTENSION: {"extension_type": "property-extension", "x_note": EVIL}},
    }


def all_types() -> dict[str, dict[str, Any]]:
    """Every STIX 2.1 type, by type name, with fresh ids."""
    objects: dict[str, dict[str, Any]] = {}
    named = {"name": f"Name {EVIL}", "description": f"Line one {EVIL}\nline two"}
    specific: dict[str, dict[str, Any]] = {
        "attack-pattern": {**named, "aliases": [f"alias {EVIL}"]},
        "campaign": {**named, "aliases": ["Grid Storm"], "objective": EVIL},
        "course-of-action": named,
        "grouping": {**named, "context": "suspicious-activity", "object_refs": [IDENTITY]},
        "identity": {**named, "identity_class": "organization", "sectors": ["energy"]},
        "incident": named,
        "indicator": {
            **named,
            "pattern": f"[ipv4-addr:value = '203.0.113.7'] AND [url:value = '{EVIL}']",
            "pattern_type": "stix",
            "valid_from": T,
            "indicator_types": ["malicious-activity"],
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": EVIL}],
        },
        "infrastructure": {**named, "infrastructure_types": ["command-and-control"]},
        "intrusion-set": {**named, "aliases": [EVIL], "goals": [EVIL]},
        "location": {**named, "country": "DE", "latitude": 52.5, "longitude": 13.4},
        "malware": {**named, "is_family": True, "malware_types": ["backdoor"]},
        "malware-analysis": {"product": EVIL, "result": "malicious"},
        "note": {"abstract": EVIL, "content": f"{EVIL}\nsecond line", "object_refs": [IDENTITY]},
        "observed-data": {
            "first_observed": T,
            "last_observed": T,
            "number_observed": 3,
            "object_refs": [f"ipv4-addr--{uuid.uuid4()}"],
        },
        "opinion": {"opinion": "agree", "explanation": EVIL, "object_refs": [IDENTITY]},
        "report": {**named, "published": T, "object_refs": [IDENTITY]},
        "threat-actor": {**named, "threat_actor_types": ["nation-state"], "roles": [EVIL]},
        "tool": {**named, "tool_types": ["remote-access"]},
        "vulnerability": {
            **named,
            "external_references": [{"source_name": "cve", "external_id": "CVE-2026-0001"}],
        },
        "relationship": {
            "relationship_type": "indicates",
            "source_ref": f"indicator--{uuid.uuid4()}",
            "target_ref": f"malware--{uuid.uuid4()}",
            "description": EVIL,
        },
        "sighting": {
            "sighting_of_ref": f"indicator--{uuid.uuid4()}",
            "count": 2,
            "where_sighted_refs": [IDENTITY],
            "description": EVIL,
        },
        "artifact": {"mime_type": "text/plain", "payload_bin": "PHNjcmlwdD4="},
        "autonomous-system": {"number": 64500, "name": EVIL},
        "directory": {"path": EVIL},
        "domain-name": {"value": "evil.example"},
        "email-addr": {"value": "a@evil.example", "display_name": EVIL},
        "email-message": {"is_multipart": False, "subject": EVIL, "body": f"{EVIL}\nbye"},
        "file": {"name": EVIL, "hashes": {"SHA-256": "a" * 64}, "size": 10},
        "ipv4-addr": {"value": "203.0.113.9"},
        "ipv6-addr": {"value": "2001:db8::1"},
        "mac-addr": {"value": "00:00:5e:00:53:01"},
        "mutex": {"name": EVIL},
        "network-traffic": {"protocols": ["tcp"], "dst_port": 443},
        "process": {"pid": 1234, "command_line": EVIL},
        "software": {"name": EVIL, "vendor": EVIL},
        "url": {"value": f"https://evil.example/{EVIL}"},
        "user-account": {"user_id": "1001", "display_name": EVIL},
        "windows-registry-key": {"key": "HKEY_LOCAL_MACHINE\\System\\Evil"},
        "x509-certificate": {"serial_number": "36:f7:d4:32", "subject": EVIL},
        "marking-definition": {
            "name": EVIL,
            "definition_type": "statement",
            "definition": {"statement": EVIL},
        },
        "language-content": {
            "object_ref": IDENTITY,
            "object_modified": T,
            "contents": {"de": {"name": EVIL}},
        },
        "extension-definition": {
            "name": EVIL,
            "schema": "https://example.org/schema.json",
            "version": "1.0.0",
            "extension_types": ["property-extension"],
        },
    }
    for stix_type in ALL_TYPES:
        base = _sco_common(stix_type) if stix_type in SCO_TYPES else _sdo_common(stix_type)
        if stix_type == "marking-definition":
            for absent in ("modified", "revoked", "labels", "confidence", "lang"):
                base.pop(absent)
        objects[stix_type] = {**base, **specific[stix_type]}
    return objects
