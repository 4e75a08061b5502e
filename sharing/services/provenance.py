"""Provenance and versions of published objects, enforced for every way of publishing.

STIX 2.1 section 3.6: an object's versions share its `id` and differ by `modified`; only the
object's creator may version it, and a revoked object gets no further versions. The portal
stamps `created_by_ref` (the publishing organisation's identity) and the publication's TLP 2.0
marking on every domain and relationship object, and keeps one `ObjectLineage` row per id:
its owner, its latest version and whether it is revoked.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from portal.models import Organisation
from sharing import stix
from sharing.models import ObjectLineage, Publication, PublishedObject
from sharing.stix import BundleError


def limits() -> stix.Limits:
    """The size limits in force (settings STIX_MAX_*, PUBLISH_MAX_OBJECTS)."""
    return stix.Limits(
        name_chars=settings.STIX_MAX_NAME_CHARS,
        string_chars=settings.STIX_MAX_STRING_CHARS,
        text_chars=settings.STIX_MAX_TEXT_CHARS,
        objects=settings.PUBLISH_MAX_OBJECTS,
    )


def is_versioned(obj: dict[str, Any]) -> bool:
    """Domain and relationship objects have versions and an owner; cyber observables (no
    `created`, ids derived from their value) and marking definitions are shared by all."""
    return "created" in obj and obj.get("type") != "marking-definition"


def stamp(objects: list[dict[str, Any]], *, organisation: Organisation, tlp: str) -> list[dict]:
    """Copies of `objects` with the publication's TLP 2.0 marking in `object_marking_refs`
    (replacing any other TLP marking) and, on domain and relationship objects, `created_by_ref`
    set to the organisation's identity.

    Raises BundleError when an object names another creator in `created_by_ref`.
    """
    identity = organisation.stix_identity_id
    errors = [
        f"{obj['id']}: created_by_ref names {str(obj['created_by_ref'])[:100]}, not your "
        f"organisation's identity {identity}"
        for obj in objects
        if is_versioned(obj) and obj.get("created_by_ref") not in (None, identity)
    ]
    if errors:
        raise BundleError(errors)
    marking = stix.TLP2_MARKING_ID[tlp]
    stamped = []
    for obj in objects:
        if obj.get("type") == "marking-definition":
            stamped.append(obj)
            continue
        others = [
            ref for ref in obj.get("object_marking_refs", []) if ref not in stix.TLP_MARKING_IDS
        ]
        obj = {**obj, "object_marking_refs": [marking, *others]}
        if is_versioned(obj):
            # Cyber observables have no created_by_ref (STIX 2.1 section 6.1), only markings.
            obj["created_by_ref"] = identity
        stamped.append(obj)
    return stamped


@dataclass
class LineagePlan:
    """What publishing `objects` does to the lineages: ids new to the portal, and the latest
    version (and revocation) each id reaches."""

    new: dict[str, dict[str, Any]]
    existing: dict[str, ObjectLineage]
    latest: dict[str, dict[str, Any]]


def lock_lineages(objects: list[dict[str, Any]], *, organisation: Organisation) -> LineagePlan:
    """Lock the lineages the objects touch and check every version rule. Call inside the
    publishing transaction, before writing anything.

    Raises BundleError for another organisation's object id, a version already published,
    a version not later than the latest one, or a version of a revoked object.
    """
    versioned = sorted(
        (obj for obj in objects if is_versioned(obj)), key=lambda o: stix.object_version(o)
    )
    ids = {obj["id"] for obj in versioned}
    existing = {
        lineage.stix_id: lineage
        for lineage in ObjectLineage.objects.select_for_update().filter(stix_id__in=ids)
    }
    published = set(
        PublishedObject.objects.filter(stix_id__in=ids).values_list("stix_id", "version")
    )
    errors: list[str] = []
    latest: dict[str, dict[str, Any]] = {}
    for obj in versioned:
        stix_id, version = obj["id"], stix.object_version(obj)
        lineage = existing.get(stix_id)
        if lineage is not None and lineage.organisation_id != organisation.id:
            errors.append(
                f"{stix_id} was created by another organisation: only its creator may publish "
                "versions of it or revoke it"
            )
        elif (stix_id, version) in published:
            errors.append(
                f"{stix_id} version {version} is already published; a new version needs a "
                "later modified"
            )
        elif lineage is not None and lineage.revoked:
            errors.append(f"{stix_id} is revoked; a revoked object gets no further versions")
        elif lineage is not None and _instant(version) <= _instant(lineage.latest_version):
            errors.append(
                f"{stix_id} version {version} is not later than the latest published version "
                f"{lineage.latest_version}"
            )
        latest[stix_id] = obj
    errors.extend(
        f"{stix_id} is the identity of another organisation; only it may publish its identity"
        for stix_id in Organisation.objects.filter(stix_identity_id__in=ids)
        .exclude(pk=organisation.pk)
        .values_list("stix_identity_id", flat=True)
    )
    if errors:
        raise BundleError(errors[: stix.MAX_ERRORS])
    new = {stix_id: obj for stix_id, obj in latest.items() if stix_id not in existing}
    return LineagePlan(new=new, existing=existing, latest=latest)


def _instant(version: str) -> datetime:
    # Timestamps compare as instants: "...:00Z" and "...:00.000Z" are the same version.
    return datetime.fromisoformat(version)


def record_lineages(plan: LineagePlan, *, publication: Publication) -> None:
    """Create and advance the lineages of a publication being stored (same transaction)."""
    try:
        with transaction.atomic():
            ObjectLineage.objects.bulk_create(
                [
                    ObjectLineage(
                        stix_id=stix_id,
                        stix_type=obj["type"],
                        organisation=publication.organisation,
                        original_publication=publication,
                        latest_version=stix.object_version(obj),
                        revoked=obj.get("revoked") is True,
                    )
                    for stix_id, obj in plan.new.items()
                ]
            )
    except IntegrityError:
        # Another publication claimed one of these ids between our check and our insert.
        raise BundleError(
            ["one of these object ids was published by someone else a moment ago; try again"]
        ) from None
    for stix_id, lineage in plan.existing.items():
        obj = plan.latest[stix_id]
        lineage.latest_version = stix.object_version(obj)
        lineage.revoked = obj.get("revoked") is True
    ObjectLineage.objects.bulk_update(plan.existing.values(), ["latest_version", "revoked"])
