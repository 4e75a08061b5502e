"""Drafts: publications being written object by object, new versions and revocations.

A draft is private to its organisation's publishers and admins and kept server-side until it
is published (then it is gone: the publication is the record) or deleted. Publishing a draft
goes through `publishing.publish_bundle`, so a draft meets every rule an upload meets.
"""

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal import permissions
from portal.audit import services as audit
from portal.audit.models import AuditAction
from portal.models import User
from sharing import object_forms, stix
from sharing.models import (
    Draft,
    DraftObject,
    DraftSource,
    ObjectLineage,
    Publication,
    PublishedObject,
)
from sharing.services import provenance, publishing
from sharing.stix import BundleError

DRAFT_TITLE_CHARS = 300


def require_author(user: User) -> None:
    permissions.require(
        permissions.can_publish(user), "Only publishers and admins may write drafts."
    )


def create_draft(
    *,
    acting_user: User,
    title: str,
    source: str = DraftSource.FORMS,
    based_on: Publication | None = None,
    objects: list[dict[str, Any]] | None = None,
) -> Draft:
    """A new draft of the user's organisation, optionally holding `objects` already."""
    require_author(acting_user)
    with transaction.atomic():
        draft = Draft.objects.create(
            organisation=acting_user.organisation,
            author=acting_user,
            title=title.strip()[:DRAFT_TITLE_CHARS] or "Untitled draft",
            source=source,
            based_on=based_on,
        )
        DraftObject.objects.bulk_create(
            [
                DraftObject(draft=draft, stix_id=obj["id"], stix_type=obj["type"], body=obj)
                for obj in objects or []
            ]
        )
        audit.record(
            action=AuditAction.DRAFT_CREATED,
            actor=acting_user,
            target=f"draft:{draft.pk}",
            detail={"title": draft.title, "source": source, "objects": len(objects or [])},
        )
    return draft


def delete_draft(*, acting_user: User, draft: Draft) -> None:
    require_author(acting_user)
    with transaction.atomic():
        audit.record(
            action=AuditAction.DRAFT_DELETED,
            actor=acting_user,
            target=f"draft:{draft.pk}",
            detail={"title": draft.title},
        )
        draft.delete()


def save_object(
    *,
    acting_user: User,
    draft: Draft,
    stix_type: str,
    data: dict[str, Any],
    draft_object: DraftObject | None = None,
    now: datetime | None = None,
) -> DraftObject:
    """Add an object built from cleaned form `data` to the draft, or replace `draft_object`
    with its edited form (same id, later `modified`).

    Raises BundleError when the object fails the validation every bundle gets; then nothing
    changes.
    """
    require_author(acting_user)
    previous = draft_object.body if draft_object else None
    obj = object_forms.build_object(
        stix_type=stix_type, data=data, now=now or timezone.now(), previous=previous
    )
    check_objects([obj])
    with transaction.atomic():
        if draft_object is None:
            draft_object = DraftObject(draft=draft, stix_id=obj["id"], stix_type=stix_type)
        draft_object.body = obj
        draft_object.updated_at = timezone.now()
        draft_object.save()
        Draft.objects.filter(pk=draft.pk).update(updated_at=timezone.now())
    return draft_object


def remove_object(*, acting_user: User, draft_object: DraftObject) -> None:
    require_author(acting_user)
    draft_object.delete()


def check_objects(objects: list[dict[str, Any]]) -> None:
    """Validate objects as part of a bundle (validators, patterns, sizes); BundleError if not."""
    stix.parse_bundle(
        {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects},
        limits=provenance.limits(),
    )


def bundle_of(draft: Draft) -> dict[str, Any]:
    """The STIX bundle the draft would publish (before the portal stamps provenance)."""
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid5(uuid.NAMESPACE_URL, f'draft:{draft.pk}')}",
        "objects": [item.body for item in draft.items.all()],
    }


def publish_draft(
    *,
    acting_user: User,
    draft: Draft,
    distribution: str = "",
    tlp: str = "",
    trust_group_ids: list[int] | None = None,
) -> Publication:
    """Publish the draft's objects as one publication and delete the draft.

    A draft of new versions keeps the distribution and TLP of the publication it is based
    on, so every version reaches the recipients of the original. Raises BundleError (nothing
    stored, the draft kept) when the bundle is refused.
    """
    require_author(acting_user)
    bundle = bundle_of(draft)
    if not bundle["objects"]:
        raise BundleError(["the draft has no objects yet"])
    if draft.source == DraftSource.VERSION and draft.based_on is not None:
        original = draft.based_on
        distribution, tlp = original.distribution, original.tlp
        trust_group_ids = list(original.trust_groups.values_list("id", flat=True))
    with transaction.atomic():
        publication = publishing.publish_bundle(
            acting_user=acting_user,
            bundle=bundle,
            distribution=distribution,
            tlp=tlp,
            trust_group_ids=trust_group_ids or [],
            title=draft.title,
        )
        draft.delete()
    return publication


def latest_version(lineage: ObjectLineage) -> PublishedObject:
    return PublishedObject.objects.filter(
        stix_id=lineage.stix_id, version=lineage.latest_version
    ).first()


def access_own_lineage(*, user: User, stix_id: str) -> ObjectLineage:
    """The lineage of an object the user's organisation created; 404 for any other id."""
    return get_object_or_404(
        ObjectLineage.objects.select_related("original_publication"),
        stix_id=stix_id,
        organisation_id=user.organisation_id,
    )


def start_new_version(*, acting_user: User, lineage: ObjectLineage) -> Draft:
    """A draft holding the latest version of a published object, ready to be edited into
    the next version and published to the recipients of the original publication."""
    require_author(acting_user)
    if lineage.revoked:
        raise BundleError([f"{lineage.stix_id} is revoked; a revoked object gets no new version"])
    current = latest_version(lineage).body
    return create_draft(
        acting_user=acting_user,
        title=f"New version: {object_forms.display_name(current)}",
        source=DraftSource.VERSION,
        based_on=lineage.original_publication,
        objects=[current],
    )


def revoke(
    *, acting_user: User, lineage: ObjectLineage, now: datetime | None = None
) -> Publication:
    """Publish the object's last version with `revoked: true` (STIX 2.1 section 3.6.3) to the
    recipients of the original publication."""
    require_author(acting_user)
    current = dict(latest_version(lineage).body)
    current["modified"] = object_forms.timestamp(now or timezone.now())
    current["revoked"] = True
    original = lineage.original_publication
    with transaction.atomic():
        publication = publishing.publish_bundle(
            acting_user=acting_user,
            bundle={"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [current]},
            distribution=original.distribution,
            tlp=original.tlp,
            trust_group_ids=list(original.trust_groups.values_list("id", flat=True)),
            title=f"Revoked: {object_forms.display_name(current)}",
        )
        audit.record(
            action=AuditAction.OBJECT_REVOKED,
            actor=acting_user,
            target=lineage.stix_id,
            detail={"publication": publication.pk, "version": current["modified"]},
        )
    return publication
