"""Audit events, the head of their hash chain, and the chain heads anchored through the ledger.

These models belong to the `portal` app: portal/models.py imports them.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.audit.hashing import GENESIS_HASH, event_fields

ANCHOR_PAYLOAD_TYPE = "cti-portal-audit-head"


class AuditAction(models.TextChoices):
    LOGIN = "login", "Logged in"
    LOGIN_FAILED = "login_failed", "Failed login"
    LOGOUT = "logout", "Logged out"
    MFA_ADDED = "mfa_added", "Second factor added"
    MFA_REMOVED = "mfa_removed", "Second factor removed"
    INVITATION_SENT = "invitation_sent", "Invitation sent"
    INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
    INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member role changed"
    MEMBER_DEACTIVATED = "member_deactivated", "Member deactivated"
    MEMBER_REACTIVATED = "member_reactivated", "Member reactivated"
    TOKEN_CREATED = "token_created", "API token created"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    TRUST_GROUP_CREATED = "trust_group_created", "Trust group created"
    TRUST_GROUP_CHANGED = "trust_group_changed", "Trust group changed"
    TRUST_GROUP_MEMBER_ADDED = "trust_group_member_added", "Added to trust group"
    TRUST_GROUP_MEMBER_REMOVED = "trust_group_member_removed", "Removed from trust group"
    TRUST_GROUP_JOIN_REQUESTED = "trust_group_join_requested", "Trust group join requested"
    JOIN_REQUEST_SUBMITTED = "join_request_submitted", "Join request submitted"
    JOIN_REQUEST_APPROVED = "join_request_approved", "Join request approved"
    JOIN_REQUEST_REJECTED = "join_request_rejected", "Join request rejected"
    ORGANISATION_CREATED = "organisation_created", "Organisation created"
    PUBLICATION_CREATED = "publication_created", "Publication created"
    WEBHOOK_REGISTERED = "webhook_registered", "Webhook registered"
    WEBHOOK_REMOVED = "webhook_removed", "Webhook removed"
    WEBHOOK_DISABLED = "webhook_disabled", "Webhook disabled"
    WEBHOOK_ENABLED = "webhook_enabled", "Webhook re-enabled"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated", "Webhook secret rotated"
    WEBHOOK_TEST_SENT = "webhook_test_sent", "Webhook test event sent"
    WEBHOOK_REDELIVERED = "webhook_redelivered", "Webhook message redelivered"
    DRAFT_CREATED = "draft_created", "Draft created"
    DRAFT_DELETED = "draft_deleted", "Draft deleted"
    OBJECT_REVOKED = "object_revoked", "Object revoked"
    TAXII_OBJECTS_DELETED = "taxii_objects_deleted", "Objects deleted from TAXII"
    JOIN_REQUEST_DUPLICATE = "join_request_duplicate", "Join request from a known address"
    JOIN_REQUEST_RENAMED = "join_request_renamed", "Join request name corrected"
    SESSIONS_ENDED = "sessions_ended", "Member's sessions ended"
    TOKEN_SCOPE_REDUCED = "token_scope_reduced", "API token narrowed to the role"
    TRUST_GROUP_RETIRED = "trust_group_retired", "Trust group retired"
    RECEIPTS_REISSUED = "receipts_reissued", "Receipts reissued after a chain reorganisation"
    ORGANISATION_SUSPENDED = "organisation_suspended", "Organisation suspended"
    ORGANISATION_REINSTATED = "organisation_reinstated", "Organisation reinstated"
    DELIVERY_ACKNOWLEDGED = "delivery_acknowledged", "Delivery acknowledged"
    SIGNING_KEY_REGISTERED = "signing_key_registered", "Signing key registered"
    SIGNING_KEY_ROTATED = "signing_key_rotated", "Signing key rotated"
    SIGNING_KEY_REVOKED = "signing_key_revoked", "Signing key revoked"
    NOTIFICATIONS_CHANGED = "notifications_changed", "Notification settings changed"
    NOTIFICATION_DEFAULTS_CHANGED = (
        "notification_defaults_changed",
        "Organisation notification defaults changed",
    )
    EMAIL_UNSUBSCRIBED = "email_unsubscribed", "Unsubscribed from email"
    WEBHOOK_FILTERS_CHANGED = "webhook_filters_changed", "Webhook filters changed"


class AuditEvent(models.Model):
    """One security-relevant action. Rows are only ever appended (portal.audit.services.record).

    `hash` chains each row to the one before it (portal.audit.hashing); on PostgreSQL a trigger
    refuses UPDATE and DELETE, except clearing `actor` when a user is deleted (the hash covers
    `actor_email`, which stays).
    """

    seq = models.BigIntegerField(unique=True)
    created_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_email = models.CharField(max_length=254, blank=True)
    # PROTECT: the hash covers the organisation id, so it must never be cleared.
    organisation = models.ForeignKey(
        "portal.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    target = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [models.Index(fields=["organisation", "-seq"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.actor_email}".strip()

    def hashed_fields(self) -> dict:
        """The JSON object this row's hash covers."""
        return event_fields(
            seq=self.seq,
            created_at=self.created_at,
            action=self.action,
            actor_email=self.actor_email,
            organisation_id=self.organisation_id,
            target=self.target,
            detail=self.detail,
            ip=self.ip,
        )


class AuditHead(models.Model):
    """The single row (id 1) holding the chain's last seq and hash.

    Appending locks it (SELECT ... FOR UPDATE), so appends are serialised and the chain never
    forks; it also remembers how long the chain was, should its tail be deleted.
    """

    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"audit head #{self.seq}"


class AuditAnchor(models.Model):
    """A chain head (seq, hash) sealed as a ledger entry, and so anchored on-chain."""

    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    entry = models.OneToOneField("ledger.Entry", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"audit anchor #{self.seq}"

    @property
    def payload(self) -> dict:
        """The JSON object sealed in the ledger entry."""
        return anchor_payload(seq=self.seq, hash=self.hash)


def anchor_payload(*, seq: int, hash: str) -> dict:
    return {"type": ANCHOR_PAYLOAD_TYPE, "seq": seq, "hash": hash}
