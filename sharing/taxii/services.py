"""Writing through TAXII: adding an envelope to a collection (section 5.5), the status of
what was added (section 4.3) and deleting an object's versions (section 5.7).

Adding goes through the portal's publishing service: the same validation, the same pipeline
and the same audit row as the web form and the REST API.
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction

from ledger.models import EntryState
from portal import permissions
from portal.audit import services as audit
from portal.models import User
from sharing import stix
from sharing.models import Publication, PublicationState, PublishedObject
from sharing.services import publishing
from sharing.stix import BundleError, Tlp
from sharing.taxii.collections import Collection
from sharing.taxii.media import timestamp
from sharing.taxii.models import TaxiiDeletion, TaxiiStatus


def envelope_tlp(objects: list[dict[str, Any]]) -> str:
    """The publication's TLP: the most restrictive marking among the objects, else the
    configured default (TAXII carries no TLP of its own)."""
    levels = [stix.most_restrictive_tlp(obj) for obj in objects if isinstance(obj, dict)]
    marked = [level for level in levels if level is not None]
    return max(marked, key=Tlp.rank) if marked else settings.TAXII_DEFAULT_TLP


def add_objects(
    *, acting_user: User, collection: Collection, objects: list[dict[str, Any]]
) -> TaxiiStatus:
    """Publish the envelope's objects to the collection's audience.

    The envelope is published whole or not at all: when the publishing service refuses it,
    nothing is stored but a status whose failures give each object its reasons.
    Raises PermissionDenied for a caller who may not publish.
    """
    permissions.require(permissions.can_publish(acting_user), "Only publishers may publish.")
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    with transaction.atomic():
        try:
            publication = publishing.publish_bundle(
                acting_user=acting_user,
                bundle=bundle,
                distribution=collection.distribution,
                tlp=envelope_tlp(objects),
                trust_group_ids=[collection.trust_group_id] if collection.trust_group_id else [],
            )
        except BundleError as exc:
            return TaxiiStatus.objects.create(
                organisation=acting_user.organisation,
                collection_id=collection.id,
                total_count=len(objects),
                failures=_failures(objects, exc.errors),
            )
        return TaxiiStatus.objects.create(
            organisation=acting_user.organisation,
            publication=publication,
            collection_id=collection.id,
            total_count=len(objects),
        )


def _failures(objects: list[dict[str, Any]], errors: list[str]) -> list[dict[str, str]]:
    """Each object with the errors that name it, or every error when none names it."""
    failures = []
    for obj in objects:
        object_id = str(obj.get("id", "")) if isinstance(obj, dict) else ""
        own = [error for error in errors if object_id and object_id in error]
        failures.append(
            {
                "id": object_id,
                "version": stix.object_version(obj) if isinstance(obj, dict) else "",
                "message": "; ".join(own or errors),
            }
        )
    return failures


# What a pending object is waiting for, by the state of its ledger entry.
_WAITING = {
    None: "received, waiting to be sealed",
    EntryState.SEALED: "sealed, waiting for a place in the log",
    EntryState.LOGGED: "sealed, waiting for its anchor",
    EntryState.ANCHORED: "anchored, waiting for delivery",
}


def status_resource(status: TaxiiStatus) -> dict[str, Any]:
    """The status resource: an object succeeds once its publication is delivered (sealed,
    anchored and visible in the collection); until then it is pending with its stage."""
    body: dict[str, Any] = {
        "id": str(status.id),
        "request_timestamp": timestamp(status.request_timestamp),
        "total_count": status.total_count,
    }
    successes, pendings = [], []
    if status.publication_id is not None:
        delivered = status.publication.state == PublicationState.DELIVERED
        items = status.publication.items.values_list("stix_id", "version", "entry__state")
        for stix_id, version, entry_state in items.order_by("id"):
            detail = {"id": stix_id, "version": version}
            if delivered:
                successes.append(detail)
            else:
                pendings.append({**detail, "message": _WAITING.get(entry_state, entry_state)})
    body.update(
        status="complete" if not pendings else "pending",
        success_count=len(successes),
        successes=successes,
        failure_count=len(status.failures),
        failures=status.failures,
        pending_count=len(pendings),
        pendings=pendings,
    )
    return body


def delete_object(
    *, acting_user: User, collection: Collection, objects: list[PublishedObject]
) -> int:
    """Delete object versions of the collection from every TAXII collection.

    Only a publisher of the organisation that published them may (an object's provenance,
    DESIGN.md). Their ledger entries and receipts stay: the log only grows. Returns how many
    versions were deleted; raises PermissionDenied, changing nothing, if any is not theirs.
    """
    permissions.require(permissions.can_publish(acting_user), "Only publishers may delete.")
    publication_ids = {obj.publication_id for obj in objects}
    own = set(
        Publication.objects.filter(
            id__in=publication_ids, organisation=acting_user.organisation_id
        ).values_list("id", flat=True)
    )
    permissions.require(
        own == publication_ids, "Only the organisation that published an object may delete it."
    )
    with transaction.atomic():
        TaxiiDeletion.objects.bulk_create(
            [TaxiiDeletion(published_object=obj, deleted_by=acting_user) for obj in objects],
            ignore_conflicts=True,
        )
        audit.record(
            action="taxii_objects_deleted",
            actor=acting_user,
            target=f"taxii-collection:{collection.id}",
            detail={"objects": sorted({f"{obj.stix_id}@{obj.version}" for obj in objects})},
        )
    return len(objects)
