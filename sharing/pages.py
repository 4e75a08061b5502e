"""What the object and publication pages show, assembled from the reading selectors.

Each function loads a fixed number of queries whatever the number of rows, so the pages'
query counts do not grow with the content (tests hold them to it).
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.models import EntryState
from portal.models import User
from sharing import graph, reading, rendering, selectors
from sharing.models import (
    Delivery,
    Publication,
    PublicationState,
    PublishedObject,
    VerificationState,
)

REFRESH_SECONDS = 5


@dataclass
class ObjectPage:
    obj: PublishedObject
    title: str
    properties: list[rendering.Property]
    relationships: reading.Relationships
    versions: list[PublishedObject]
    delivery: Delivery | None
    verification: dict[str, Any] | None
    own: bool
    raw_json: str
    pending: bool


def object_page(*, user: User, object_id: int) -> ObjectPage:
    """Everything the object page shows; 404 if the user's organisation may not see it."""
    obj = reading.access_object(user=user, object_id=object_id)
    found = reading.referrers(user=user, obj=obj)
    links = reading.resolve_links(user=user, stix_ids=reading.far_ends(obj=obj, found=found))

    def link_for(stix_id: str) -> tuple[str | None, str]:
        link = links.get(stix_id)
        if link is None or link.object_id is None:
            return None, ""
        return rendering.object_url(link.object_id), link.name

    delivery = reading.delivery_of(user=user, publication=obj.publication)
    verification = reading.verification_of(delivery, obj)
    return ObjectPage(
        obj=obj,
        title=rendering.title(obj.body),
        properties=rendering.properties(obj.body, link_for),
        relationships=reading.relationships(obj=obj, found=found, links=links),
        versions=reading.versions(user=user, obj=obj),
        delivery=delivery,
        verification=verification,
        own=obj.publication.organisation_id == user.organisation_id,
        raw_json=json.dumps(obj.body, indent=2, ensure_ascii=False),
        pending=obj.receipt is None
        or (delivery is not None and delivery.verification == VerificationState.PENDING),
    )


@dataclass
class Integrity:
    """One object's place in the ledger, as far as it got."""

    obj: PublishedObject
    title: str
    leaf: str = ""
    key_id: str = ""
    custody: str = ""  # "portal-held" or "organisation-held": who could have signed
    tree_size: int | None = None
    root: str = ""
    transaction_hash: str = ""
    block_number: int | None = None
    anchored: bool = False
    verification: dict[str, Any] | None = None


@dataclass
class Step:
    name: str
    at: datetime | None
    after: timedelta | None = None


@dataclass
class PublicationPage:
    publication: Publication
    items: list[PublishedObject]
    objects: list[Integrity]
    deliveries: list[Delivery]
    recipients: list[selectors.RecipientStatus]
    timeline: list[Step]
    time_to_share: timedelta | None
    graph: graph.Graph
    pending: bool
    refresh_seconds: int = REFRESH_SECONDS


def publication_page(*, user: User, publication_id: int) -> PublicationPage:
    """The publisher's view of a publication: objects, graph, integrity, recipients and
    timeline. 404 unless it is the user's organisation's publication."""
    publication = selectors.access_publication(user=user, publication_id=publication_id)
    items = list(
        publication.items.select_related("entry__signing_key", "entry__checkpoint").order_by("id")
    )
    recipients = selectors.recipient_statuses(publication=publication)
    deliveries = [recipient.delivery for recipient in recipients]
    own = next((d for d in deliveries if d.organisation_id == publication.organisation_id), None)
    objects = [_integrity(obj, own) for obj in items]

    entries = [obj.entry for obj in items]
    sealed = max((e.created_at for e in entries if e), default=None) if all(entries) else None
    anchored_at = None
    if entries and all(e and e.state == EntryState.ANCHORED and e.checkpoint for e in entries):
        anchored_at = max((e.checkpoint.confirmed_at or e.checkpoint.created_at) for e in entries)
    verified = [d.verified_at for d in deliveries if d.verified_at]
    start = publication.created_at
    steps = [
        ("Received", start),
        ("Sealed (signed)", sealed),
        ("Anchored on chain", anchored_at),
        ("Delivered", publication.delivered_at),
        (
            "Verified by every recipient",
            max(verified) if deliveries and len(verified) == len(deliveries) else None,
        ),
    ]
    timeline = [Step(name, at, at - start if at else None) for name, at in steps]
    pending = publication.state != PublicationState.DELIVERED or any(
        d.verification == VerificationState.PENDING for d in deliveries
    )
    return PublicationPage(
        publication=publication,
        items=items,
        objects=objects,
        deliveries=deliveries,
        recipients=recipients,
        timeline=timeline,
        time_to_share=publication.delivered_at - start if publication.delivered_at else None,
        graph=graph.layout([(obj.id, obj.body) for obj in items]),
        pending=pending,
    )


def _integrity(obj: PublishedObject, own: Delivery | None) -> Integrity:
    result = Integrity(obj=obj, title=rendering.title(obj.body))
    entry = obj.entry
    if entry is not None:
        result.leaf = bytes(entry.leaf).hex()
        result.key_id = entry.signing_key.key_id
        result.custody = entry.signing_key.custody
        checkpoint = entry.checkpoint
        if checkpoint is not None:
            result.tree_size = checkpoint.tree_size
            result.root = bytes(checkpoint.root).hex()
            result.transaction_hash = checkpoint.transaction_hash
            result.block_number = checkpoint.block_number
            result.anchored = entry.state == EntryState.ANCHORED
    receipt = obj.receipt or {}
    if receipt:  # the receipt is what recipients got: it wins over the live rows
        result.leaf = receipt.get("leaf", result.leaf)
        result.key_id = receipt.get("signature", {}).get("key_id", result.key_id)
        log, anchor = receipt.get("log", {}), receipt.get("anchor", {})
        result.tree_size = log.get("tree_size", result.tree_size)
        result.root = log.get("root", result.root)
        result.transaction_hash = anchor.get("transaction_hash", result.transaction_hash)
        result.block_number = anchor.get("block_number", result.block_number)
        result.anchored = True
    result.verification = reading.verification_of(own, obj)
    return result
