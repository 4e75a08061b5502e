"""Reads about object versions: is a delivered object the latest version of its id, an older
(superseded) one, or revoked? Used by the inbox and the object tables.

Kept apart from the pages that show it so every page marks versions the same way. Queries
are few and independent of the page size: one for the items' lineages.
"""

from collections.abc import Iterable

from sharing.models import Delivery, ObjectLineage, PublishedObject

LATEST = "latest"
SUPERSEDED = "superseded"
REVOKED = "revoked"


def _lineages(stix_ids: Iterable[str]) -> dict[str, ObjectLineage]:
    return {
        lineage.stix_id: lineage
        for lineage in ObjectLineage.objects.filter(stix_id__in=set(stix_ids)).only(
            "stix_id", "latest_version", "revoked"
        )
    }


def _mark(stix_id: str, version: str, revoked: bool, lineages: dict) -> str:
    lineage = lineages.get(stix_id)
    if revoked or (lineage is not None and lineage.revoked):
        return REVOKED
    if lineage is not None and lineage.latest_version != version:
        return SUPERSEDED
    return LATEST


def mark_items(items: list[PublishedObject]) -> list[PublishedObject]:
    """Set `version_mark` (latest / superseded / revoked) and `latest_version` on each item."""
    lineages = _lineages(item.stix_id for item in items)
    for item in items:
        revoked = isinstance(item.body, dict) and item.body.get("revoked") is True
        item.version_mark = _mark(item.stix_id, item.version, revoked, lineages)
        lineage = lineages.get(item.stix_id)
        item.latest_version = lineage.latest_version if lineage else item.version
    return items


def mark_deliveries(deliveries: list[Delivery]) -> list[Delivery]:
    """Set `version_marks` on each delivery: the set of marks other than "latest" its
    objects carry (e.g. {"revoked"}), for the inbox list."""
    publication_ids = {delivery.publication_id for delivery in deliveries}
    rows = list(
        PublishedObject.objects.filter(publication_id__in=publication_ids).values_list(
            "publication_id", "stix_id", "version", "body__revoked"
        )
    )
    lineages = _lineages(stix_id for _, stix_id, _, _ in rows)
    marks: dict[int, set[str]] = {}
    for publication_id, stix_id, version, revoked in rows:
        mark = _mark(stix_id, version, revoked is True, lineages)
        if mark != LATEST:
            marks.setdefault(publication_id, set()).add(mark)
    for delivery in deliveries:
        delivery.version_marks = sorted(marks.get(delivery.publication_id, set()))
    return deliveries
