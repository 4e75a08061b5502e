"""MISP event import: a MISP JSON export becomes a draft of STIX 2.1 objects for review.

The conversion is the MISP project's own (`misp-stix`, MISP to STIX 2.1). What the portal
sets itself is taken out of the converted bundle: the MISP instance's identity and its
`created_by_ref`, and marking definitions (the portal stamps the organisation's identity and
the publication's TLP marking when the draft is published).
"""

import json
from typing import Any

from portal.models import User
from sharing.models import Draft, DraftSource
from sharing.services import drafts
from sharing.stix import BundleError


def convert_event(event: bytes | str | dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """(event title, STIX 2.1 objects) of a MISP event. Raises BundleError if the input is
    not a MISP event the converter understands."""
    from misp_stix_converter import MISPtoSTIX21Parser

    document = _load(event)
    inner = document.get("Event", document)
    if not isinstance(inner, dict) or "info" not in inner:
        raise BundleError(['expected a MISP event: a JSON object with "Event" and its "info"'])
    parser = MISPtoSTIX21Parser()
    try:
        parser.parse_misp_event({"Event": inner})
        bundle = json.loads(parser.bundle.serialize())
    except KeyError as exc:
        raise BundleError([f"the MISP event lacks a field the conversion needs: {exc}"]) from None
    except Exception as exc:  # noqa: BLE001 - the converter raises many kinds of errors
        raise BundleError([f"the MISP event could not be converted to STIX 2.1: {exc}"]) from None
    return str(inner.get("info", ""))[:300], _without_portal_fields(bundle.get("objects", []))


def import_event(*, acting_user: User, event: bytes | str | dict[str, Any]) -> Draft:
    """Convert a MISP event, validate the objects as any bundle, and open them as a draft.
    Raises BundleError (nothing stored) when conversion or validation fails."""
    drafts.require_author(acting_user)
    title, objects = convert_event(event)
    # An empty event converts to its container and a note saying it is empty.
    if not any(obj.get("type") not in ("report", "grouping", "note") for obj in objects):
        raise BundleError(
            ["the MISP event holds nothing to convert: no attribute, object or galaxy"]
        )
    drafts.check_objects(objects)
    return drafts.create_draft(
        acting_user=acting_user,
        title=f"MISP: {title}" if title else "MISP event",
        source=DraftSource.MISP,
        objects=objects,
    )


def _load(event: bytes | str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(event, dict):
        return event
    try:
        document = json.loads(event)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError([f"the MISP event is not valid JSON: {exc}"]) from None
    if not isinstance(document, dict):
        raise BundleError(['expected a MISP event: a JSON object with "Event" and its "info"'])
    return document


def _without_portal_fields(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    creators = {obj.get("created_by_ref") for obj in objects} - {None}
    dropped = {
        obj["id"]
        for obj in objects
        if obj.get("type") == "marking-definition" or obj.get("id") in creators
    }
    kept = []
    for obj in objects:
        if obj["id"] in dropped:
            continue
        obj = {key: value for key, value in obj.items() if key != "created_by_ref"}
        markings = [ref for ref in obj.pop("object_marking_refs", []) if ref not in dropped]
        if markings:
            obj["object_marking_refs"] = markings
        if "object_refs" in obj:
            obj["object_refs"] = [ref for ref in obj["object_refs"] if ref not in dropped]
        kept.append(obj)
    return kept
