"""Publishing: turn a validated bundle into a publication and start its pipeline."""

from typing import Any

from django.db import transaction

from portal import permissions
from portal.audit import services as audit
from portal.audit.models import AuditAction
from portal.models import TrustGroup, User
from portal.selectors import trust_groups_of
from sharing import stix
from sharing.models import Distribution, Publication, PublishedObject
from sharing.stix import BundleError, Tlp

TITLED_TYPES = ("report", "grouping", "campaign", "intrusion-set", "malware", "indicator")


def publish_bundle(
    *,
    acting_user: User,
    bundle: bytes | str | dict[str, Any],
    distribution: str,
    tlp: str,
    trust_group_ids: list[int] | None = None,
) -> Publication:
    """Validate and store a bundle; sealing starts once the transaction commits.

    Raises PermissionDenied for a user who may not publish and BundleError listing every
    problem of the input; in both cases nothing is stored.
    """
    from sharing import tasks

    permissions.require(permissions.can_publish(acting_user), "Only publishers may publish.")
    parsed = stix.parse_bundle(bundle)
    groups = _check_distribution(acting_user, distribution, tlp, trust_group_ids or [])
    _check_markings(parsed.objects, tlp)

    with transaction.atomic():
        publication = Publication.objects.create(
            organisation=acting_user.organisation,
            author=acting_user,
            bundle_id=parsed.id,
            title=_title(parsed.objects),
            distribution=distribution,
            tlp=tlp,
        )
        publication.trust_groups.set(groups)
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
            },
        )
        PublishedObject.objects.bulk_create(
            [
                PublishedObject(
                    publication=publication,
                    stix_id=obj["id"],
                    stix_type=obj["type"],
                    version=stix.object_version(obj),
                    body=obj,
                )
                for obj in parsed.objects
            ]
        )
        transaction.on_commit(lambda: tasks.seal_publication.delay(publication.id))
    return publication


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
