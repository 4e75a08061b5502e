"""Reading a collection: which object versions it holds, the TAXII 2.1 filters (section 3.4)
and keyset pagination (section 3.7, `next`).

An object version is in a collection when its publication completed the pipeline (anchored and
delivered), was delivered to the caller's organisation (the inbox rule of the web and REST
paths, `sharing.selectors.inbox_for`), was distributed the way the collection stands for, and
was not deleted through TAXII. Its "date added" is the moment its publication was delivered.

Pages follow (date added, publication id, object id). `next` is that triple of the last row,
encoded: any web process can continue from it, and a page is one index range scan from the
cursor, whatever the collection's size. Objects added while a client pages come after its
cursor, so it neither misses nor repeats any.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Exists, F, OuterRef, Q, QuerySet, TextField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils.dateparse import parse_datetime

from portal.models import Organisation
from sharing.models import Distribution, Publication, PublicationState, PublishedObject
from sharing.selectors import inbox_for
from sharing.taxii.collections import Collection
from sharing.taxii.media import TaxiiError
from sharing.taxii.models import TaxiiDeletion

SPEC_VERSIONS = ("2.0", "2.1")


def collection_objects(
    *, organisation: Organisation, collection: Collection
) -> QuerySet[PublishedObject]:
    """Every object version of the collection that `organisation` may see."""
    objects = PublishedObject.objects.filter(
        publication__state=PublicationState.DELIVERED,
        publication__delivered_at__isnull=False,
        publication__distribution=collection.distribution,
    ).filter(
        Exists(inbox_for(organisation).filter(publication=OuterRef("publication"))),
        ~Exists(TaxiiDeletion.objects.filter(published_object=OuterRef("pk"))),
    )
    if collection.distribution == Distribution.TRUST_GROUPS:
        targeted = Publication.trust_groups.through.objects.filter(
            publication=OuterRef("publication"), trustgroup=collection.trust_group_id
        )
        objects = objects.filter(Exists(targeted))
    elif collection.distribution == Distribution.ORGANISATION:
        objects = objects.filter(publication__organisation=organisation)
    return objects


@dataclass(frozen=True)
class Filters:
    """The query parameters of a TAXII read, parsed and checked."""

    added_after: datetime | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()
    limit: int = 100
    cursor: tuple[datetime, int, int] | None = None


def _list(params, name: str) -> tuple[str, ...]:
    values = []
    for raw in params.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return tuple(values)


def _timestamp(value: str, name: str) -> datetime:
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well formed but impossible, such as month 13
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise TaxiiError(
            400, f"{name} must be a timestamp", f"{value!r} is not an RFC 3339 timestamp in UTC."
        )
    return parsed


def parse_filters(params, *, allowed: tuple[str, ...], default_version: str = "last") -> Filters:
    """Parse a query string (a QueryDict). Raises TaxiiError(400) naming the bad parameter."""
    unknown = sorted(set(params) - set(allowed) - {"limit", "next"})
    if unknown:
        raise TaxiiError(
            400, "Unsupported query parameter", f"This endpoint does not support {unknown}."
        )
    added_after = params.get("added_after")
    versions = _list(params, "match[version]") or ((default_version,) if default_version else ())
    for version in versions:
        if version not in ("last", "first", "all"):
            _timestamp(version, "match[version]")
    spec_versions = _list(params, "match[spec_version]")
    bad = [v for v in spec_versions if v not in SPEC_VERSIONS]
    if bad:
        raise TaxiiError(
            400, "Unknown spec version", f"match[spec_version] must be 2.0 or 2.1, not {bad}."
        )
    return Filters(
        added_after=_timestamp(added_after, "added_after") if added_after else None,
        ids=_list(params, "match[id]"),
        types=_list(params, "match[type]"),
        versions=versions,
        spec_versions=spec_versions,
        limit=_limit(params.get("limit")),
        cursor=decode_next(params["next"]) if params.get("next") else None,
    )


def _limit(raw: str | None) -> int:
    """The page size; 0 (which the OASIS client's `as_pages` sends by default) or none means
    the server's default."""
    if raw is None:
        return settings.TAXII_PAGE_SIZE
    if not raw.isdigit():
        raise TaxiiError(400, "limit must be a positive integer", f"{raw!r} is not one.")
    return min(int(raw) or settings.TAXII_PAGE_SIZE, settings.TAXII_MAX_PAGE_SIZE)


def encode_next(date_added: datetime, publication_id: int, object_id: int) -> str:
    raw = json.dumps([date_added.isoformat(), publication_id, object_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_next(token: str) -> tuple[datetime, int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        moment, publication_id, object_id = json.loads(base64.urlsafe_b64decode(padded))
        date_added = parse_datetime(moment)
        if date_added is None or not isinstance(publication_id, int):
            raise ValueError(token)
        if not isinstance(object_id, int):
            raise ValueError(token)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise TaxiiError(400, "Invalid next", "next must be a value this server returned.") from exc
    return date_added, publication_id, object_id


def _version_filter(base: QuerySet[PublishedObject], versions: tuple[str, ...]) -> Q | None:
    """match[version] (section 3.4.2): any of last, first, all and exact versions."""
    if "all" in versions:
        return None
    condition = Q(version__in=[v for v in versions if v not in ("last", "first")])
    same_object = base.filter(stix_id=OuterRef("stix_id"))
    if "last" in versions:
        condition |= ~Exists(same_object.filter(version__gt=OuterRef("version")))
    if "first" in versions:
        condition |= ~Exists(same_object.filter(version__lt=OuterRef("version")))
    return condition


def filtered(base: QuerySet[PublishedObject], filters: Filters) -> QuerySet[PublishedObject]:
    """`base` narrowed by the filters and the cursor, in page order."""
    objects = base
    if filters.ids:
        objects = objects.filter(stix_id__in=filters.ids)
    if filters.types:
        objects = objects.filter(stix_type__in=filters.types)
    if filters.added_after is not None:
        objects = objects.filter(publication__delivered_at__gt=filters.added_after)
    if filters.spec_versions:
        # STIX 2.1 objects without spec_version (cyber observables) are 2.1 (section 3.2).
        spec_version = Coalesce(KT("body__spec_version"), Value("2.1"), output_field=TextField())
        objects = objects.alias(spec_version=spec_version).filter(
            spec_version__in=filters.spec_versions
        )
    version_condition = _version_filter(base, filters.versions)
    if version_condition is not None:
        objects = objects.filter(version_condition)
    if filters.cursor is not None:
        moment, publication_id, object_id = filters.cursor
        # The index range starts at the cursor's date; rows of that same date up to the
        # cursor (few: one publication's) are skipped by the second condition.
        objects = objects.filter(publication__delivered_at__gte=moment).exclude(
            Q(publication__delivered_at=moment)
            & (
                Q(publication_id__lt=publication_id)
                | Q(publication_id=publication_id, id__lte=object_id)
            )
        )
    return objects.order_by("publication__delivered_at", "publication_id", "id")


@dataclass(frozen=True)
class Row:
    id: int
    publication_id: int
    date_added: datetime
    stix_id: str
    version: str
    body: str | None = None
    receipt: str | None = None


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    more: bool
    next: str | None


def page(
    base: QuerySet[PublishedObject], filters: Filters, *, body: bool = False, receipt: bool = False
) -> Page:
    """One page of rows; `body`/`receipt` add the stored JSON text of the object/receipt."""
    fields = ["id", "publication_id", "date_added", "stix_id", "version"]
    objects = filtered(base, filters).annotate(date_added=F("publication__delivered_at"))
    if body:
        objects = objects.annotate(body_text=Cast("body", TextField()))
        fields.append("body_text")
    if receipt:
        objects = objects.annotate(receipt_text=Cast("receipt", TextField()))
        fields.append("receipt_text")
    found = list(objects.values_list(*fields)[: filters.limit + 1])
    more = len(found) > filters.limit
    rows = [
        Row(
            *values[:5],
            body=values[5] if body else None,
            receipt=values[-1] if receipt else None,
        )
        for values in found[: filters.limit]
    ]
    last = rows[-1] if rows else None
    token = encode_next(last.date_added, last.publication_id, last.id) if more and last else None
    return Page(rows=rows, more=more, next=token)
