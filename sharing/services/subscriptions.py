"""Who gets pushed what: members' notification settings, organisation defaults, the filters
of members and webhook endpoints, and the recipients and channels fixed at publish time.

The recipients and channels of a publication are fixed when it is published
(sharing.services.pipeline.record_recipients), with these filters and settings.

The inbox always receives everything an organisation is entitled to (`recipients_of`); the
filters here only decide what is pushed by email or webhook. A filter with no values lets
everything through; a filter with values lets a publication through when it matches any value.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import permissions
from portal.audit import services as audit
from portal.audit.models import AuditAction
from portal.models import Organisation, User
from portal.selectors import trust_groups_of
from sharing import stix
from sharing.models import (
    DeliveryFilter,
    NotificationChannel,
    NotificationSettings,
    Publication,
    PublishedObject,
    WebhookEndpoint,
)
from sharing.services import webhooks
from sharing.stix import Tlp

# STIX 2.1 domain and relationship object types (sections 4 and 5) a filter may name.
FILTERABLE_TYPES = [*stix.DOMAIN_OBJECT_TYPES, *stix.RELATIONSHIP_OBJECT_TYPES]
MAX_LABELS = 20
MAX_LABEL_LENGTH = 100
FILTER_FIELDS = ("publisher_ids", "trust_group_ids", "stix_types", "min_tlp", "labels")
UNSUBSCRIBE_SALT = "sharing.unsubscribe"


# --- Matching ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicationFacts:
    """What filters look at: who published, where it went, how sensitive, what it holds."""

    publisher_id: int
    tlp: str
    trust_group_ids: frozenset[int] = field(default_factory=frozenset)
    stix_types: frozenset[str] = field(default_factory=frozenset)
    labels: frozenset[str] = field(default_factory=frozenset)


def matches(subscriber: DeliveryFilter, facts: PublicationFacts) -> bool:
    """Whether a publication passes every non-empty filter of `subscriber`."""
    if subscriber.publisher_ids and facts.publisher_id not in set(subscriber.publisher_ids):
        return False
    if subscriber.trust_group_ids and not facts.trust_group_ids & set(subscriber.trust_group_ids):
        return False
    if subscriber.stix_types and not facts.stix_types & set(subscriber.stix_types):
        return False
    if subscriber.min_tlp and Tlp.rank(facts.tlp) < Tlp.rank(subscriber.min_tlp):
        return False
    if subscriber.labels and not facts.labels & {label.lower() for label in subscriber.labels}:
        return False
    return True


def facts_of(publications: list[Publication]) -> dict[int, PublicationFacts]:
    """The facts of each publication, in three queries however many publications."""
    groups: dict[int, set[int]] = defaultdict(set)
    for publication_id, group_id in Publication.trust_groups.through.objects.filter(
        publication_id__in=[p.id for p in publications]
    ).values_list("publication_id", "trustgroup_id"):
        groups[publication_id].add(group_id)
    types: dict[int, set[str]] = defaultdict(set)
    labels: dict[int, set[str]] = defaultdict(set)
    for publication_id, stix_type, object_labels in PublishedObject.objects.filter(
        publication_id__in=[p.id for p in publications]
    ).values_list("publication_id", "stix_type", "body__labels"):
        types[publication_id].add(stix_type)
        if isinstance(object_labels, list):
            labels[publication_id] |= {str(label).lower() for label in object_labels}
    return {
        p.id: PublicationFacts(
            publisher_id=p.organisation_id,
            tlp=p.tlp,
            trust_group_ids=frozenset(groups[p.id]),
            stix_types=frozenset(types[p.id]),
            labels=frozenset(labels[p.id]),
        )
        for p in publications
    }


def effective_settings(
    *, organisation_ids: set[int]
) -> dict[int, tuple[int, NotificationSettings]]:
    """For every active member of these organisations: (organisation id, the settings in force:
    their own, else their organisation's defaults, else the built-in default)."""
    rows = list(NotificationSettings.objects.filter(organisation_id__in=organisation_ids))
    own = {row.user_id: row for row in rows if row.user_id is not None}
    defaults = {row.organisation_id: row for row in rows if row.user_id is None}
    return {
        user_id: (
            organisation_id,
            own.get(user_id)
            or defaults.get(organisation_id)
            or NotificationSettings(organisation_id=organisation_id),
        )
        for user_id, organisation_id in User.objects.filter(
            organisation_id__in=organisation_ids, is_active=True
        ).values_list("id", "organisation_id")
    }


# --- Settings of members and organisations ------------------------------------------------


def settings_of(*, user: User) -> tuple[NotificationSettings, bool]:
    """The settings in force for `user`, and whether they are the member's own (False: their
    organisation's defaults or the built-in default, not saved yet)."""
    own = NotificationSettings.objects.filter(user=user).first()
    if own is not None:
        return own, True
    return defaults_of(organisation=user.organisation), False


def defaults_of(*, organisation: Organisation) -> NotificationSettings:
    """The organisation's defaults for its members (unsaved built-in ones if none)."""
    return NotificationSettings.objects.filter(
        organisation=organisation, user__isnull=True
    ).first() or NotificationSettings(organisation=organisation)


def clean_filters(*, organisation: Organisation, filters: dict[str, Any]) -> dict[str, Any]:
    """Check filter values against what `organisation` may name and return them normalised.

    Raises ValidationError listing every problem: unknown organisations, trust groups the
    organisation does not belong to (another tenant's groups are as unknown as missing ones),
    unknown STIX types or TLP levels, too many or too long labels.
    """
    errors = []
    publisher_ids = _ids(filters.get("publisher_ids") or [], "publisher_ids", errors)
    known = set(Organisation.objects.filter(id__in=publisher_ids).values_list("id", flat=True))
    if set(publisher_ids) - known:
        errors.append(f"publisher_ids: no organisation {sorted(set(publisher_ids) - known)}")
    group_ids = _ids(filters.get("trust_group_ids") or [], "trust_group_ids", errors)
    own = set(
        trust_groups_of(organisation=organisation)
        .filter(id__in=group_ids)
        .values_list("id", flat=True)
    )
    if set(group_ids) - own:
        errors.append(
            "trust_group_ids: your organisation belongs to no trust group "
            f"{sorted(set(group_ids) - own)}"
        )
    stix_types = filters.get("stix_types") or []
    if not isinstance(stix_types, list) or not all(isinstance(t, str) for t in stix_types):
        errors.append("stix_types: must be a list of STIX type names")
        stix_types = []
    unknown = sorted(set(stix_types) - set(FILTERABLE_TYPES))
    if unknown:
        errors.append(f"stix_types: unknown STIX types {unknown}")
    min_tlp = filters.get("min_tlp") or ""
    if min_tlp and min_tlp not in Tlp.ORDER:
        errors.append(f"min_tlp: must be one of {', '.join(Tlp.ORDER)} or empty")
    labels = filters.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        errors.append("labels: must be a list of strings")
        labels = []
    labels = sorted({label.strip().lower() for label in labels if label.strip()})
    if len(labels) > MAX_LABELS:
        errors.append(f"labels: at most {MAX_LABELS}")
    if any(len(label) > MAX_LABEL_LENGTH for label in labels):
        errors.append(f"labels: each at most {MAX_LABEL_LENGTH} characters")
    if errors:
        raise ValidationError(errors)
    return {
        "publisher_ids": sorted(set(publisher_ids)),
        "trust_group_ids": sorted(set(group_ids)),
        "stix_types": sorted(set(stix_types)),
        "min_tlp": min_tlp,
        "labels": labels,
    }


def _ids(value: Any, name: str, errors: list[str]) -> list[int]:
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        errors.append(f"{name}: must be a list of ids")
        return []
    return list(value)


def _check_channel(channel: str) -> None:
    if channel not in NotificationChannel.values:
        raise ValidationError(f"channel: must be one of {', '.join(NotificationChannel.values)}")


def save_settings(*, acting_user: User, channel: str, filters: dict[str, Any]) -> None:
    """Save the acting member's own notification settings (from then on their organisation's
    defaults no longer apply to them). Raises PermissionDenied for a user without an
    organisation and ValidationError for a bad value; nothing is saved then."""
    permissions.require(permissions.is_member(acting_user), "Only members have notifications.")
    _check_channel(channel)
    cleaned = clean_filters(organisation=acting_user.organisation, filters=filters)
    with transaction.atomic():
        NotificationSettings.objects.update_or_create(
            user=acting_user,
            defaults={
                "organisation": acting_user.organisation,
                "channel": channel,
                "updated_at": timezone.now(),
                **cleaned,
            },
        )
        audit.record(
            action=AuditAction.NOTIFICATIONS_CHANGED,
            actor=acting_user,
            target=f"user:{acting_user.pk}",
            detail={"channel": channel, **cleaned},
        )


def save_defaults(*, acting_user: User, channel: str, filters: dict[str, Any]) -> None:
    """Save the defaults of the acting admin's organisation, used by every member who has not
    saved their own settings. Raises PermissionDenied for anyone but an organisation admin."""
    permissions.require_org_admin(acting_user)
    _check_channel(channel)
    cleaned = clean_filters(organisation=acting_user.organisation, filters=filters)
    with transaction.atomic():
        NotificationSettings.objects.update_or_create(
            organisation=acting_user.organisation,
            user=None,
            defaults={"channel": channel, "updated_at": timezone.now(), **cleaned},
        )
        audit.record(
            action=AuditAction.NOTIFICATION_DEFAULTS_CHANGED,
            actor=acting_user,
            target=f"organisation:{acting_user.organisation_id}",
            detail={"channel": channel, **cleaned},
        )


# --- One-click unsubscribe (RFC 8058) -------------------------------------------------------


def unsubscribe_token(user: User) -> str:
    """A signed token naming the member (HMAC with SECRET_KEY, its own salt). It does not
    expire, so an old email's link still works, and it is the same in every email."""
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object({"u": user.pk})


def user_of_token(token: str) -> User | None:
    """The active member a token names, or None for a bad signature or an unknown member."""
    try:
        user_id = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(token)["u"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
    return User.objects.filter(pk=user_id, is_active=True, organisation__isnull=False).first()


def unsubscribe(*, token: str) -> User | None:
    """Stop every email to the member the token names (their own settings: channel none, the
    filters kept). Returns the member, or None for an invalid token (nothing changes)."""
    user = user_of_token(token)
    if user is None:
        return None
    current, _ = settings_of(user=user)
    with transaction.atomic():
        NotificationSettings.objects.update_or_create(
            user=user,
            defaults={
                "organisation_id": user.organisation_id,
                "channel": NotificationChannel.NONE,
                "updated_at": timezone.now(),
                **{name: getattr(current, name) for name in FILTER_FIELDS},
            },
        )
        audit.record(
            action=AuditAction.EMAIL_UNSUBSCRIBED,
            actor=user,
            target=f"user:{user.pk}",
            detail={"via": "one-click unsubscribe"},
        )
    return user


# --- Webhook endpoints with filters ----------------------------------------------------------


def register_endpoint(
    *, acting_user: User, url: str, description: str = "", filters: dict[str, Any] | None = None
) -> tuple[WebhookEndpoint, str]:
    """Register a webhook endpoint (sharing.services.webhooks) with its filters, in one
    transaction. Returns the endpoint and its signing secret (shown once). Raises
    PermissionDenied for non-admins and ValidationError for a bad URL or filter."""
    webhooks.require_webhook_admin(acting_user)
    cleaned = clean_filters(organisation=acting_user.organisation, filters=filters or {})
    with transaction.atomic():
        endpoint, secret = webhooks.register_endpoint(
            acting_user=acting_user, url=url, description=description
        )
        if any(cleaned.values()):
            _set_endpoint_filters(acting_user, endpoint, cleaned)
    return endpoint, secret


def set_endpoint_filters(
    *, acting_user: User, endpoint: WebhookEndpoint, filters: dict[str, Any]
) -> WebhookEndpoint:
    """Replace an endpoint's filters. The endpoint comes from `access_webhook` (tenant-checked);
    raises PermissionDenied for non-admins and ValidationError for a bad filter."""
    permissions.require_org_admin(acting_user, endpoint.organisation_id)
    cleaned = clean_filters(organisation=acting_user.organisation, filters=filters)
    with transaction.atomic():
        _set_endpoint_filters(acting_user, endpoint, cleaned)
    return endpoint


def _set_endpoint_filters(
    acting_user: User, endpoint: WebhookEndpoint, cleaned: dict[str, Any]
) -> None:
    for name, value in cleaned.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=list(cleaned))
    audit.record(
        action=AuditAction.WEBHOOK_FILTERS_CHANGED,
        actor=acting_user,
        organisation=endpoint.organisation,
        target=f"webhook:{endpoint.pk}",
        detail=cleaned,
    )
