"""STIX 2.1 content for tests, made fresh each call (new ids)."""

import uuid
from typing import Any

TIMESTAMP = "2026-11-20T08:30:00.000Z"


def indicator(pattern: str = "[ipv4-addr:value = '203.0.113.7']", **fields: Any) -> dict:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": TIMESTAMP,
        "modified": TIMESTAMP,
        "name": "C2 server of the substation campaign",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": TIMESTAMP,
        **fields,
    }


def report(object_refs: list[str]) -> dict:
    return {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{uuid.uuid4()}",
        "created": TIMESTAMP,
        "modified": TIMESTAMP,
        "name": "Spear-phishing against grid operators",
        "published": TIMESTAMP,
        "object_refs": object_refs,
    }


def bundle(*objects: dict) -> dict:
    if not objects:
        first = indicator()
        objects = (first, report([first["id"]]))
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}
