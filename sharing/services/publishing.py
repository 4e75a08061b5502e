"""Publishing: turn a validated bundle into a publication and start its pipeline.

Publishing is idempotent, because clients retry after a timeout or a 5xx: a request repeating
an `Idempotency-Key` the organisation already used, or the same bundle (same id, same content,
same distribution) within PUBLISH_DEDUPLICATION_SECONDS, returns the original publication
instead of creating another.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal import permissions
from portal.audit import services as audit
from portal.audit.models import AuditAction
from portal.celery import fire_once_on_commit
from portal.models import TrustGroup, User
from portal.selectors import trust_groups_of
from sharing import stix, tasks
from sharing.models import Distribution, Publication, PublishedObject
from sharing.services import indexing, pipeline, provenance, signed_submissions
from sharing.stix import BundleError, Tlp

MAX_IDEMPOTENCY_KEY_LENGTH = 255


class IdempotencyKeyReused(BundleError):
    """The Idempotency-Key was already used for a different request."""


@dataclass(frozen=True)
class Published:
    publication: Publication
    created: bool  # False when an earlier identical request's publication is returned


TITLED_TYPES = ("report", "grouping", "campaign", "intrusion-set", "malware", "indicator")


def publish_bundle(
    *,
    acting_user: User,
    bundle: bytes | str | dict[str, Any],
    distribution: str,
    tlp: str,
    trust_group_ids: list[int] | None = None,
    idempotency_key: str = "",
    title: str = "",
) -> Publication:
    """Validate and store a bundle; sealing starts once the transaction commits.

    Raises PermissionDenied for a user who may not publish and BundleError listing every
    problem of the input; in both cases nothing is stored. See `publish` for repeated requests.
    """
    return publish(
        acting_user=acting_user,
        bundle=bundle,
        distribution=distribution,
        tlp=tlp,
        trust_group_ids=trust_group_ids,
        idempotency_key=idempotency_key,
        title=title,
    ).publication


def publish(
    *,
    acting_user: User,
    bundle: bytes | str | dict[str, Any],
    distribution: str,
    tlp: str,
    trust_group_ids: list[int] | None = None,
    idempotency_key: str = "",
    title: str = "",
    signatures: Any = None,
) -> Published:
    """Like `publish_bundle`, and says whether the publication is new or the original of a
    repeated request. Raises IdempotencyKeyReused when the key came with a different request.

    With `signatures` (a client-signed submission: sharing.services.signed_submissions) every
    object must carry a valid signature under a usable organisation-held key of the publisher's
    organisation, or the whole submission is refused (BundleError, nothing stored); the objects
    are then stored verbatim and sealing keeps the client's salt and signature.
    """
    permissions.require(permissions.can_publish(acting_user), "Only publishers may publish.")
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
        raise BundleError([f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY_LENGTH}"])
    parsed = stix.parse_bundle(bundle, limits=provenance.limits())
    groups = _check_distribution(acting_user, distribution, tlp, trust_group_ids or [])
    _check_markings(parsed.objects, tlp)
    client_signatures: list[signed_submissions.ClientSignature] | None = None
    if signatures is not None:
        # Stored as signed: stamping provenance would change the signed bytes.
        client_signatures = signed_submissions.check_submission(
            organisation=acting_user.organisation,
            objects=parsed.objects,
            signatures=signatures,
            tlp=tlp,
        )
        objects = parsed.objects
    else:
        objects = provenance.stamp(parsed.objects, organisation=acting_user.organisation, tlp=tlp)
    fingerprint = _fingerprint(parsed, distribution, tlp, groups)
    organisation = acting_user.organisation

    try:
        with transaction.atomic():
            _lock_bundle(organisation.pk, parsed.id)
            original = _original(organisation, parsed.id, fingerprint, idempotency_key)
            if original is not None:
                return Published(original, created=False)
            publication = _store(
                acting_user,
                parsed,
                objects,
                distribution,
                tlp,
                groups,
                fingerprint,
                idempotency_key,
                title,
                client_signatures,
            )
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key committed first.
        original = _original(organisation, parsed.id, fingerprint, idempotency_key)
        if original is None:
            raise
        return Published(original, created=False)
    return Published(publication, created=True)


def _store(
    acting_user: User,
    parsed: stix.ParsedBundle,
    objects: list[dict[str, Any]],
    distribution: str,
    tlp: str,
    groups: list[TrustGroup],
    fingerprint: str,
    idempotency_key: str,
    title: str,
    client_signatures: list[signed_submissions.ClientSignature] | None = None,
) -> Publication:
    """Store a new publication of the stamped (or client-signed) `objects`, after the version
    rules (provenance) have locked and checked every lineage they touch."""
    lineages = provenance.lock_lineages(objects, organisation=acting_user.organisation)
    publication = Publication.objects.create(
        organisation=acting_user.organisation,
        author=acting_user,
        bundle_id=parsed.id,
        title=title[:300] or _title(parsed.objects),
        distribution=distribution,
        tlp=tlp,
        fingerprint=fingerprint,
        idempotency_key=idempotency_key,
    )
    if groups:
        publication.trust_groups.set(groups)
    provenance.record_lineages(lineages, publication=publication)
    audit.record(
        action=AuditAction.PUBLICATION_CREATED,
        actor=acting_user,
        organisation=publication.organisation,
        target=f"publication:{publication.pk}",
        detail={
            "title": publication.title,
            "bundle_id": publication.bundle_id,
            "distribution": distribution,
            "tlp": tlp,
            "trust_groups": [group.pk for group in groups],
            "objects": len(parsed.objects),
            **({"signed_with": client_signatures[0].key.key_id} if client_signatures else {}),
        },
    )
    signed = client_signatures or [None] * len(objects)
    stored = PublishedObject.objects.bulk_create(
        [
            PublishedObject(
                publication=publication,
                stix_id=obj["id"],
                stix_type=obj["type"],
                version=stix.object_version(obj),
                body=obj,
                client_key=client.key if client else None,
                client_salt=client.salt if client else None,
                client_signature=client.signature if client else None,
            )
            for obj, client in zip(objects, signed, strict=True)
        ],
        batch_size=1000,
    )
    indexing.index_objects(stored)
    # Who receives it, and by which channels, is decided now (DESIGN: "Recipients and their
    # channels are fixed when a publication is accepted"), not when it is delivered.
    pipeline.record_recipients([publication])
    fire_once_on_commit(tasks.seal_received)
    return publication


def _fingerprint(
    parsed: stix.ParsedBundle, distribution: str, tlp: str, groups: list[TrustGroup]
) -> str:
    """What makes two requests the same publication: the bundle and where it goes."""
    request = {
        "objects": parsed.objects,
        "distribution": distribution,
        "tlp": tlp,
        "trust_groups": sorted(group.pk for group in groups),
    }
    encoded = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _lock_bundle(organisation_id: int, bundle_id: str) -> None:
    """Serialise concurrent publications of one bundle by one organisation (only those), so
    two retries in flight at once cannot both create it."""
    if connection.vendor != "postgresql":
        return  # SQLite writes one transaction at a time anyway
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"cti-portal:publish:{organisation_id}:{bundle_id}"],
        )


def _original(organisation, bundle_id: str, fingerprint: str, idempotency_key: str):
    """The publication an identical earlier request created, if any."""
    if idempotency_key:
        earlier = Publication.objects.filter(
            organisation=organisation, idempotency_key=idempotency_key
        ).first()
        if earlier is not None and earlier.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                [
                    "this Idempotency-Key was already used for a different request "
                    f"(publication {earlier.pk}); use a new key for a new publication"
                ]
            )
        if earlier is not None:
            return earlier
    window = timedelta(seconds=settings.PUBLISH_DEDUPLICATION_SECONDS)
    return (
        Publication.objects.filter(
            organisation=organisation,
            bundle_id=bundle_id,
            fingerprint=fingerprint,
            created_at__gte=timezone.now() - window,
        )
        .order_by("id")
        .first()
    )


def _check_distribution(
    user: User, distribution: str, tlp: str, trust_group_ids: list[int]
) -> list[TrustGroup]:
    errors = []
    if distribution not in Distribution.values:
        errors.append(f"distribution must be one of {', '.join(Distribution.values)}")
    if tlp not in Tlp.ORDER:
        errors.append(f"tlp must be one of {', '.join(Tlp.ORDER)}")
    groups: list[TrustGroup] = []
    if distribution == Distribution.TRUST_GROUPS:
        own = trust_groups_of(organisation=user.organisation)
        groups = list(own.filter(id__in=trust_group_ids))
        if not trust_group_ids:
            errors.append("choose at least one trust group for trust-group distribution")
        elif len(groups) != len(set(trust_group_ids)):
            errors.append("you can only distribute to trust groups your organisation belongs to")
    elif trust_group_ids:
        errors.append("trust groups can only be chosen with trust-group distribution")
    if tlp == Tlp.RED and distribution == Distribution.COMMUNITY:
        errors.append("TLP:RED cannot be distributed to the whole community")
    if errors:
        raise BundleError(errors)
    return groups


def _check_markings(objects: list[dict[str, Any]], tlp: str) -> None:
    """An object may not carry a TLP marking more restrictive than the publication's."""
    if tlp not in Tlp.ORDER:
        return
    errors = []
    for obj in objects:
        marked = stix.most_restrictive_tlp(obj)
        if marked is not None and Tlp.rank(marked) > Tlp.rank(tlp):
            errors.append(
                f"{obj['id']} is marked {Tlp.LABELS[marked]}, more restrictive than the "
                f"publication's {Tlp.LABELS[tlp]}"
            )
    if errors:
        raise BundleError(errors)


def _title(objects: list[dict[str, Any]]) -> str:
    for wanted in TITLED_TYPES:
        for obj in objects:
            if obj.get("type") == wanted and obj.get("name"):
                return str(obj["name"])[:300]
    return f"{len(objects)} STIX object{'s' if len(objects) != 1 else ''}"
