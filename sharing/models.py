"""Shared content and its delivery: publications, their objects, inbox entries and webhooks."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from ledger.models import Entry, SigningKey
from portal.models import Organisation, TrustGroup
from sharing.stix import Tlp


class Distribution(models.TextChoices):
    ORGANISATION = "organisation", "Own organisation"
    TRUST_GROUPS = "trust_groups", "Chosen trust groups"
    COMMUNITY = "community", "Whole community"


class TlpLevel(models.TextChoices):
    CLEAR = Tlp.CLEAR, "TLP:CLEAR"
    GREEN = Tlp.GREEN, "TLP:GREEN"
    AMBER = Tlp.AMBER, "TLP:AMBER"
    AMBER_STRICT = Tlp.AMBER_STRICT, "TLP:AMBER+STRICT"
    RED = Tlp.RED, "TLP:RED"


class PublicationState(models.TextChoices):
    RECEIVED = "received", "Received"  # stored, waiting to be sealed
    SEALED = "sealed", "Sealed"  # every object signed, waiting for its anchor
    ANCHORED = "anchored", "Anchored"  # every object in a confirmed checkpoint
    DELIVERED = "delivered", "Delivered"  # inbox entries and webhook messages created


class Publication(models.Model):
    """One STIX bundle published by an organisation, with who may see it."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="publications"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    bundle_id = models.CharField(max_length=100, blank=True)
    title = models.CharField(max_length=300)
    distribution = models.CharField(max_length=20, choices=Distribution.choices)
    trust_groups = models.ManyToManyField(TrustGroup, blank=True, related_name="publications")
    tlp = models.CharField(max_length=15, choices=TlpLevel.choices)
    state = models.CharField(
        max_length=10, choices=PublicationState.choices, default=PublicationState.RECEIVED
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    state_changed_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the bundle's objects and distribution: a repeated request is recognised by it.
    fingerprint = models.CharField(max_length=64, blank=True)
    # The client's Idempotency-Key header, if it sent one.
    idempotency_key = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "state_changed_at"]),
            models.Index(fields=["organisation", "bundle_id"]),
            # TAXII reads a collection in (date added, id) order from a cursor: keyset
            # pagination that walks this index instead of counting or scanning.
            models.Index(
                fields=["distribution", "delivered_at", "id"],
                condition=models.Q(state="delivered"),
                name="delivered_by_date_added",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="one_publication_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return self.title


class PublishedObject(models.Model):
    """One STIX object version of a publication, with its ledger entry and, once anchored,
    its receipt (immutable from then on)."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="items")
    stix_id = models.CharField(max_length=100)
    stix_type = models.CharField(max_length=100)
    version = models.CharField(max_length=40, blank=True)
    body = models.JSONField()
    entry = models.OneToOneField(
        Entry, on_delete=models.PROTECT, null=True, blank=True, related_name="published_object"
    )
    receipt = models.JSONField(null=True, blank=True)
    # A client-signed submission (sharing.services.signed_submissions): the organisation-held
    # key, salt and signature the client sent; sealing stores them instead of signing.
    client_key = models.ForeignKey(
        SigningKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    client_salt = models.BinaryField(max_length=32, null=True, blank=True)
    client_signature = models.BinaryField(max_length=64, null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "stix_id", "version"], name="one_version_per_publication"
            )
        ]
        indexes = [
            # Version history, relationship targets and TAXII match[version] look objects up
            # by STIX id and version; a publication's objects are read in id order (TAXII).
            models.Index(fields=["stix_id", "version"], name="published_object_stix_id"),
            models.Index(fields=["publication", "id"], name="object_in_publication"),
        ]

    def __str__(self) -> str:
        return self.stix_id


class VerificationState(models.TextChoices):
    PENDING = "pending", "Not yet verified"
    VERIFIED = "verified", "Verified against the chain"
    FAILED = "failed", "Verification failed"


class AcknowledgementOutcome(models.TextChoices):
    VERIFIED = "verified", "Verified by the recipient"
    FAILED = "failed", "Failed the recipient's verification"


class Delivery(models.Model):
    """An inbox entry: a publication delivered to one organisation, and what its own
    verification against the chain found."""

    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="deliveries"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="deliveries"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    verification = models.CharField(
        max_length=10, choices=VerificationState.choices, default=VerificationState.PENDING
    )
    verification_requested_at = models.DateTimeField(default=timezone.now)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_report = models.JSONField(default=list, blank=True)
    # The recipient's own acknowledgement (sharing.services.acknowledgements): what its
    # verification found, in its words. A later acknowledgement replaces this one; each is
    # kept in the audit trail.
    acknowledgement = models.CharField(
        max_length=10, choices=AcknowledgementOutcome.choices, blank=True
    )
    acknowledgement_comment = models.TextField(blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "organisation"], name="one_delivery_per_organisation"
            )
        ]
        # The inbox lists an organisation's deliveries newest first.
        indexes = [
            models.Index(fields=["organisation", "-created_at", "-id"], name="delivery_inbox_order")
        ]


class DeliveryRead(models.Model):
    """A user opened a delivery of their inbox (sharing.services.inbox).

    A delivery is unread for a user when it is newer than their high-water mark
    (`InboxReadMark`, else the day they joined) and they have no such row. Rows exist only for
    deliveries newer than the mark ("mark all read" moves it and drops the rows below it), so
    the table and the unread count grow with what arrived since, not with the whole inbox.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="delivery_reads"
    )
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="reads")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "delivery"], name="one_read_per_user")
        ]


class InboxReadMark(models.Model):
    """A user's inbox high-water mark: every delivery created up to `read_before` counts as
    read for them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    read_before = models.DateTimeField()


def new_webhook_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


class DeliveryFilter(models.Model):
    """What a subscriber (a member's notification settings, a webhook endpoint) wants pushed.

    Every empty filter lets everything through; a filter with values lets a publication through
    when it matches at least one of them (sharing.services.subscriptions.matches). Filters never
    widen what an organisation is entitled to: the inbox receives everything regardless.
    """

    # Ids of publishing organisations.
    publisher_ids = models.JSONField(default=list, blank=True)
    # Ids of trust groups a publication is distributed to.
    trust_group_ids = models.JSONField(default=list, blank=True)
    # STIX object types (STIX 2.1 section 2.9), any of which the publication contains.
    stix_types = models.JSONField(default=list, blank=True)
    # Only publications at least this sensitive (TLP 2.0 order); blank means any.
    min_tlp = models.CharField(max_length=15, choices=TlpLevel.choices, blank=True)
    # STIX `labels` (STIX 2.1 section 3.2), any of which an object of the publication carries.
    labels = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True


class WebhookEndpoint(DeliveryFilter):
    """Where an organisation wants its deliveries POSTed (Standard Webhooks)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # The "whsec_..." signing secret, encrypted at rest like signing keys.
    encrypted_secret = models.TextField()
    # After a rotation, the previous secret also signs until `previous_secret_expires_at`
    # (Standard Webhooks: several space-separated signatures in `webhook-signature`).
    previous_encrypted_secret = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Since when every attempt has failed (None after a success); too long disables it.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookMessageState(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Gave up"


class WebhookMessage(models.Model):
    """One publication to send to one endpoint; retried with backoff until it succeeds."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="messages")
    # The event's type (Standard Webhooks `type`); only a delivery carries a publication.
    event_type = models.CharField(max_length=50, default="publication.delivered")
    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    message_id = models.CharField(max_length=40, unique=True, default=new_webhook_message_id)
    state = models.CharField(
        max_length=10, choices=WebhookMessageState.choices, default=WebhookMessageState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "publication"], name="one_message_per_endpoint"
            )
        ]


class WebhookAttempt(models.Model):
    """One HTTP POST of a webhook message and its outcome."""

    message = models.ForeignKey(
        WebhookMessage, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        # An endpoint's delivery log lists its attempts newest first.
        indexes = [models.Index(fields=["message", "-started_at"], name="webhook_attempt_log")]


# --- Recipients, subscriptions and email notices ------------------------------------------


class PublicationRecipient(models.Model):
    """An organisation entitled to a publication, fixed in the publishing transaction: the
    deliver stage creates inbox entries from these rows, not from the trust groups of the day."""

    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="recipient_rows"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "organisation"], name="one_recipient_row_per_organisation"
            )
        ]


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email per publication"
    DIGEST = "digest", "Daily digest"
    WEBHOOK = "webhook", "Webhook"


class PublicationChannel(models.Model):
    """A channel that matched a publication when it was published: a member's email or digest,
    or a webhook endpoint. `notice` is the email that carried it, once sent or queued."""

    publication = models.ForeignKey(
        Publication, on_delete=models.CASCADE, related_name="channel_rows"
    )
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    notice = models.ForeignKey(
        "EmailNotice", on_delete=models.SET_NULL, null=True, blank=True, related_name="channels"
    )

    class Meta:
        indexes = [models.Index(fields=["kind", "notice"], name="channel_kind_notice")]
        constraints = [
            models.UniqueConstraint(
                fields=["publication", "kind", "user"],
                condition=models.Q(user__isnull=False),
                name="one_email_channel_per_member",
            ),
            models.UniqueConstraint(
                fields=["publication", "endpoint"],
                condition=models.Q(endpoint__isnull=False),
                name="one_channel_per_endpoint",
            ),
        ]


class NotificationChannel(models.TextChoices):
    EMAIL = "email", "An email for each publication"
    DIGEST = "digest", "A daily digest"
    NONE = "none", "No email (the inbox only)"


class NotificationSettings(DeliveryFilter):
    """What a member wants by email (`user` set), or an organisation's default for members
    who have not saved their own (`user` empty)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="notification_settings"
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notification_settings",
    )
    channel = models.CharField(
        max_length=10, choices=NotificationChannel.choices, default=NotificationChannel.DIGEST
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organisation"],
                condition=models.Q(user__isnull=True),
                name="one_default_per_organisation",
            )
        ]


class EmailKind(models.TextChoices):
    NOTICE = "notice", "Notice of one publication"
    DIGEST = "digest", "Daily digest"


class EmailState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Gave up"


class EmailNotice(models.Model):
    """One email to one member: a notice of a publication or a digest of several (their
    PublicationChannel rows); retried with backoff until it is accepted or EMAIL_MAX_ATTEMPTS."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=EmailKind.choices)
    state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="email_due")]


class EmailAttempt(models.Model):
    """One hand-over of an email to the mail server and its outcome."""

    notice = models.ForeignKey(EmailNotice, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]


# --- Reading indexes -----------------------------------------------------------------------
# Written once when a publication's objects are stored (sharing.services.indexing), never
# changed after: they let the object pages and the search find objects without reading every
# object's JSON.


class ObservableValue(models.Model):
    """A cyber-observable value an object mentions (an indicator's pattern compares it, or an
    observable object holds it), lower-cased, so pasting an IP address or a hash finds it."""

    object = models.ForeignKey(
        PublishedObject, on_delete=models.CASCADE, related_name="observable_values"
    )
    # The STIX object path, e.g. "ipv4-addr:value" or "file:hashes.'SHA-256'".
    path = models.CharField(max_length=200)
    value = models.CharField(max_length=512, db_index=True)

    def __str__(self) -> str:
        return f"{self.path} = {self.value}"


class ObjectReference(models.Model):
    """One `*_ref` / `*_refs` value of an object (STIX 2.1 section 3.4), so the objects that
    point at a STIX id are found from the pointed-at side too."""

    source = models.ForeignKey(
        PublishedObject, on_delete=models.CASCADE, related_name="outgoing_references"
    )
    property = models.CharField(max_length=100)
    target_stix_id = models.CharField(max_length=100, db_index=True)

    def __str__(self) -> str:
        return f"{self.property} -> {self.target_stix_id}"


# --- Authoring: object lineages and drafts ---------------------------------------------------


class ObjectLineage(models.Model):
    """Every published version of one STIX domain or relationship object id: who owns the id
    (the organisation that first published it; only it may version or revoke), its latest
    version, whether it is revoked, and the publication whose recipients get every version."""

    stix_id = models.CharField(max_length=100, unique=True)
    stix_type = models.CharField(max_length=100)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="object_lineages"
    )
    original_publication = models.ForeignKey(
        Publication, on_delete=models.PROTECT, related_name="+"
    )
    latest_version = models.CharField(max_length=40)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.stix_id


class DraftSource(models.TextChoices):
    FORMS = "forms", "Written in the forms"
    MISP = "misp", "Imported from a MISP event"
    VERSION = "version", "New version of published objects"


class Draft(models.Model):
    """A publication being written: objects added one by one, private to the organisation
    (its publishers and admins) until published."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="drafts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    title = models.CharField(max_length=300)
    source = models.CharField(max_length=10, choices=DraftSource.choices, default=DraftSource.FORMS)
    # For new versions: the publication whose distribution and TLP the versions keep.
    based_on = models.ForeignKey(
        Publication, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title


class DraftObject(models.Model):
    """One STIX object of a draft, as the forms built it (not yet stamped or sealed)."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="items")
    stix_id = models.CharField(max_length=100)
    stix_type = models.CharField(max_length=100)
    body = models.JSONField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["draft", "stix_id"], name="one_object_per_draft")
        ]

    def __str__(self) -> str:
        return self.stix_id


from sharing.taxii.models import TaxiiDeletion, TaxiiStatus  # noqa: E402,F401
