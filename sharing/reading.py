"""Reads behind the object pages, the downloads and the search.

An organisation sees an object when its publication is the organisation's own or was
delivered to it. `visible_objects_for` is the one definition of that; everything here starts
from it, and the `access_*` helpers answer 404 for "missing" and "not yours" alike.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchVectorField
from django.db import connection
from django.db.models import Exists, F, Func, OuterRef, Q, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from portal.models import Organisation, User
from sharing import observables
from sharing.models import Delivery, ObjectReference, ObservableValue, Publication, PublishedObject

PAGE_SIZE = 25
MAX_VERSIONS = 100
MAX_REFERRERS = 100
MAX_RESOLVED = 500
# References every object carries; listing the referrers of an identity or a marking by them
# would list everything.
UBIQUITOUS_REFERENCES = ("created_by_ref", "object_marking_refs")
# The text search configuration of the GIN index created by the migration `object_reading_indexes`.
TEXT_SEARCH_CONFIG = "english"


def organisation_of(user: User) -> Organisation:
    """The user's organisation; 404 for users without one (platform admins)."""
    if not user.is_authenticated or user.organisation_id is None:
        raise Http404
    return user.organisation


def visible_objects_for(organisation: Organisation) -> QuerySet[PublishedObject]:
    """Every object of the organisation's own publications and of those delivered to it."""
    return PublishedObject.objects.filter(
        Q(publication__organisation=organisation) | Q(_delivered_to(organisation))
    ).select_related("publication__organisation")


def _delivered_to(organisation: Organisation) -> Exists:
    # A correlated EXISTS: one probe of the (publication, organisation) unique index per
    # candidate row, rather than hashing every delivery of the organisation for each query.
    return Exists(
        Delivery.objects.filter(
            publication_id=OuterRef("publication_id"), organisation=organisation
        )
    )


def visible_objects_of(*, user: User) -> QuerySet[PublishedObject]:
    return visible_objects_for(organisation_of(user))


def access_object(*, user: User, object_id: int) -> PublishedObject:
    return get_object_or_404(visible_objects_of(user=user), pk=object_id)


def latest_visible_version(*, user: User, stix_id: str) -> PublishedObject:
    """The newest version of a STIX id the user may see (404 if none)."""
    found = visible_objects_of(user=user).filter(stix_id=stix_id).order_by("-version", "-id")
    obj = found.first()
    if obj is None:
        raise Http404
    return obj


def objects_by_ids(*, user: User, object_ids: list[int]) -> list[PublishedObject]:
    """The chosen objects, in the order given; 404 if any is missing or not the user's."""
    wanted = list(dict.fromkeys(object_ids))
    found = {obj.id: obj for obj in visible_objects_of(user=user).filter(id__in=wanted)}
    if len(found) != len(wanted):
        raise Http404
    return [found[object_id] for object_id in wanted]


def versions(*, user: User, obj: PublishedObject) -> list[PublishedObject]:
    """Every version of the object's STIX id the user may see, newest first (STIX 2.1
    section 3.6: versions share the id and differ by `modified`)."""
    found = visible_objects_of(user=user).filter(stix_id=obj.stix_id)
    return list(found.order_by("-version", "-id")[:MAX_VERSIONS])


@dataclass
class Link:
    """A STIX id as a reader sees it: with a page and a name when the object is visible."""

    stix_id: str
    object_id: int | None = None
    name: str = ""


@dataclass
class Relationships:
    outgoing: list[tuple[PublishedObject, Link]] = field(default_factory=list)
    incoming: list[tuple[PublishedObject, Link]] = field(default_factory=list)
    sightings: list[PublishedObject] = field(default_factory=list)
    referenced_by: list[PublishedObject] = field(default_factory=list)
    truncated: bool = False


def referrers(*, user: User, obj: PublishedObject) -> list[PublishedObject]:
    """Visible objects (other than `obj`'s own versions) that reference `obj`'s STIX id."""
    pointing = (
        ObjectReference.objects.filter(target_stix_id=obj.stix_id)
        .exclude(property__in=UBIQUITOUS_REFERENCES)
        .values("source_id")
    )
    found = visible_objects_of(user=user).filter(id__in=pointing).exclude(stix_id=obj.stix_id)
    return list(found.order_by("-id")[: MAX_REFERRERS + 1])


def relationships(
    *, obj: PublishedObject, found: list[PublishedObject], links: dict[str, Link]
) -> Relationships:
    """`obj`'s relationships both ways, the sightings of it and the other objects that
    reference it (reports, groupings, notes...), from its `referrers`. `links` resolves the
    far ends."""
    result = Relationships(truncated=len(found) > MAX_REFERRERS)
    for other in found[:MAX_REFERRERS]:
        body = other.body
        if other.stix_type == "relationship" and body.get("source_ref") == obj.stix_id:
            target = body.get("target_ref", "")
            result.outgoing.append((other, links.get(target) or Link(target)))
        elif other.stix_type == "relationship" and body.get("target_ref") == obj.stix_id:
            source = body.get("source_ref", "")
            result.incoming.append((other, links.get(source) or Link(source)))
        elif other.stix_type == "sighting" and body.get("sighting_of_ref") == obj.stix_id:
            result.sightings.append(other)
        else:
            result.referenced_by.append(other)
    return result


def far_ends(*, obj: PublishedObject, found: list[PublishedObject]) -> list[str]:
    """The STIX ids a page about `obj` links to: its own references and the other ends of
    the relationships among its `referrers`."""
    ids = [target for _, target in observables.references(obj.body)]
    for other in found:
        ids.extend(other.body.get(name, "") for name in ("source_ref", "target_ref"))
    return [stix_id for stix_id in dict.fromkeys(ids) if stix_id and stix_id != obj.stix_id]


def resolve_links(*, user: User, stix_ids: list[str]) -> dict[str, Link]:
    """For each STIX id, the newest visible version's page and name; ids the user may not
    see are left out (the page shows them as plain ids)."""
    wanted = list(dict.fromkeys(stix_ids))[:MAX_RESOLVED]
    if not wanted:
        return {}
    rows = (
        visible_objects_of(user=user)
        .filter(stix_id__in=wanted)
        .select_related(None)
        .order_by("stix_id", "-version", "-id")
        .values_list("stix_id", "id", "stix_type", KeyTextTransform("name", "body"))
    )
    links: dict[str, Link] = {}
    for stix_id, object_id, stix_type, name in rows:
        if stix_id not in links:
            links[stix_id] = Link(stix_id=stix_id, object_id=object_id, name=name or stix_type)
    return links


def delivery_of(*, user: User, publication: Publication) -> Delivery | None:
    """The user's organisation's inbox entry for the publication, if it was delivered."""
    return Delivery.objects.filter(
        publication=publication, organisation=organisation_of(user)
    ).first()


def verification_of(delivery: Delivery | None, obj: PublishedObject) -> dict[str, Any] | None:
    """The line of the delivery's verification report about this object version."""
    if delivery is None:
        return None
    for line in delivery.verification_report or []:
        if line.get("object") == obj.stix_id and line.get("version") == obj.version:
            return line
    return None


# --- Search ------------------------------------------------------------------------------


class Scope:
    ALL = "all"
    INBOX = "inbox"
    OWN = "own"
    CHOICES = [(ALL, "Inbox and own publications"), (INBOX, "Inbox"), (OWN, "Own publications")]


@dataclass(frozen=True)
class SearchFilters:
    text: str = ""
    observable: str = ""
    stix_type: str = ""
    tlp: str = ""
    publisher_id: int | None = None
    trust_group_id: int | None = None
    since: date | None = None
    until: date | None = None
    scope: str = Scope.ALL


@dataclass
class SearchPage:
    objects: list[PublishedObject]
    next_after: int | None


class _ObjectDocument(Func):
    """The text searched: an object's name and description. The same expression as the GIN
    index of the migration `object_reading_indexes`, so PostgreSQL answers from the index."""

    template = (
        f"to_tsvector('{TEXT_SEARCH_CONFIG}'::regconfig, "
        "COALESCE((%(expressions)s ->> 'name'), '') || ' ' || "
        "COALESCE((%(expressions)s ->> 'description'), ''))"
    )
    output_field = SearchVectorField()


def search_objects(
    *, user: User, filters: SearchFilters, after: int | None = None, limit: int = PAGE_SIZE
) -> SearchPage:
    """One page of the visible objects matching every filter, newest first.

    Keyset pagination: `after` is the last object id of the previous page, so every page
    costs the same however deep it is.
    """
    organisation = organisation_of(user)
    found = _scoped(organisation, filters.scope)
    if filters.text:
        found = _text_filter(found, filters.text)
    if filters.observable:
        values = observables.search_values(filters.observable)
        found = found.filter(
            id__in=ObservableValue.objects.filter(value__in=values).values("object_id")
        )
    if filters.stix_type:
        found = found.filter(stix_type=filters.stix_type)
    if filters.tlp:
        found = found.filter(publication__tlp=filters.tlp)
    if filters.publisher_id:
        found = found.filter(publication__organisation_id=filters.publisher_id)
    if filters.trust_group_id:
        found = found.filter(publication__trust_groups=filters.trust_group_id)
    if filters.since:
        found = found.filter(publication__created_at__gte=_start_of(filters.since))
    if filters.until:
        found = found.filter(
            publication__created_at__lt=_start_of(filters.until + timedelta(days=1))
        )
    if after:
        found = found.filter(id__lt=after)
    rows = list(found.order_by("-id")[: limit + 1])
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return SearchPage(objects=rows[:limit], next_after=next_after)


def _scoped(organisation: Organisation, scope: str) -> QuerySet[PublishedObject]:
    if scope == Scope.INBOX:
        found = PublishedObject.objects.filter(_delivered_to(organisation))
    elif scope == Scope.OWN:
        found = PublishedObject.objects.filter(publication__organisation=organisation)
    else:
        return visible_objects_for(organisation)
    return found.select_related("publication__organisation")


def _text_filter(found: QuerySet[PublishedObject], text: str) -> QuerySet[PublishedObject]:
    if connection.vendor == "postgresql":
        query = SearchQuery(text, config=TEXT_SEARCH_CONFIG, search_type="websearch")
        return found.alias(document=_ObjectDocument(F("body"))).filter(document=query)
    # SQLite (the embedded default): every word must appear in the name or description.
    for word in text.split():
        found = found.filter(Q(body__name__icontains=word) | Q(body__description__icontains=word))
    return found


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())
