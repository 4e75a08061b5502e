"""The collections an organisation sees (the trust model, DESIGN.md): one per trust group it
belongs to, one for the community and one for itself.

Collection ids are derived, not stored: a UUID 5 of the collection's kind and key, so they stay
the same across processes and restarts. A caller may only name a collection in its own list;
any other id, whoever's it is, is 404.
"""

import uuid
from dataclasses import dataclass

from django.http import Http404

from portal.models import Organisation, TokenScope, User
from portal.permissions import can_publish
from portal.selectors import trust_groups_of
from sharing.models import Distribution

# Fixed namespace of this server's collection ids (RFC 4122 UUID 5).
NAMESPACE = uuid.UUID("6f1d2c3e-6a0b-5d8e-9c41-7b2a8e0f4d15")


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    alias: str
    distribution: str
    trust_group_id: int | None = None


def _collection_id(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, key))


def collections_for(organisation: Organisation) -> list[Collection]:
    """The organisation's collections: its own first, then the community, then its groups."""
    found = [
        Collection(
            id=_collection_id(f"organisation:{organisation.stix_identity_id}"),
            title=organisation.name,
            description=f"What {organisation.name} shared with its own organisation only.",
            alias="organisation",
            distribution=Distribution.ORGANISATION,
        ),
        Collection(
            id=_collection_id("community"),
            title="Community",
            description="What members shared with the whole community.",
            alias="community",
            distribution=Distribution.COMMUNITY,
        ),
    ]
    for group in trust_groups_of(organisation=organisation).order_by("name"):
        found.append(
            Collection(
                id=_collection_id(f"trust-group:{group.pk}"),
                title=group.name,
                description=f"What members shared with the trust group {group.name}.",
                alias=f"trust-group-{group.pk}",
                distribution=Distribution.TRUST_GROUPS,
                trust_group_id=group.pk,
            )
        )
    return found


def access_collection(*, user: User, collection_id: str) -> Collection:
    """The caller's collection with this id; 404 when it is not one of theirs."""
    if not user.is_authenticated or user.organisation_id is None:
        raise Http404
    for collection in collections_for(user.organisation):
        if collection.id == collection_id:
            return collection
    raise Http404


def can_write(user: User, token) -> bool:
    """Publishers and admins write, unless their token is read-only."""
    if token is not None and getattr(token, "scope", TokenScope.PUBLISH) != TokenScope.PUBLISH:
        return False
    return can_publish(user)
