"""Integrity state: signing keys, sealed entries, the Merkle log and its on-chain checkpoints.

The ledger seals opaque JSON objects; it knows nothing of STIX or of who receives what.
"""

from django.db import models
from django.utils import timezone


class Custody(models.TextChoices):
    """Who holds a key's private half (the trust root's ``custody``, ledger.trust_root)."""

    PORTAL = "portal-held", "Portal-held"  # generated here, stored encrypted, signs on publish
    ORGANISATION = "organisation-held", "Organisation-held"  # registered public key only


class SigningKey(models.Model):
    """An Ed25519 key of an owner (an opaque label, e.g. a STIX identity id).

    A key signs validly from ``valid_from`` until ``valid_until`` or ``revoked_at``, whichever
    comes first. Retired and revoked keys stay: old signatures remain verifiable with their
    public key. An organisation-held key has no private half here (``encrypted_private_key`` is
    empty), so the portal cannot sign with it.
    """

    owner = models.CharField(max_length=100, db_index=True)
    key_id = models.CharField(max_length=64, unique=True)
    public_key = models.BinaryField(max_length=32)
    custody = models.CharField(max_length=20, choices=Custody.choices, default=Custody.PORTAL)
    # AES-GCM under a key derived from settings.ENCRYPTION_SECRET; see ledger.signing. Empty for
    # organisation-held keys.
    encrypted_private_key = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=500, blank=True)
    # Who registered the key (an opaque label such as an e-mail address; the ledger knows no
    # users). Empty for keys the portal generated itself.
    registered_by = models.CharField(max_length=254, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["public_key"], name="one_signing_key_per_public_key"),
            models.CheckConstraint(
                condition=models.Q(custody="organisation-held", encrypted_private_key="")
                | models.Q(custody="portal-held"),
                name="organisation_held_keys_have_no_private_half",
            ),
        ]

    def __str__(self) -> str:
        return self.key_id

    @property
    def is_portal_held(self) -> bool:
        return self.custody == Custody.PORTAL

    def status_at(self, moment) -> str:
        """ "revoked", "expired", "not yet valid" or "valid" at ``moment``."""
        if self.revoked_at is not None and moment >= self.revoked_at:
            return "revoked"
        if self.valid_until is not None and moment >= self.valid_until:
            return "expired"
        if self.retired_at is not None and moment >= self.retired_at:
            return "retired"
        if moment < self.valid_from:
            return "not yet valid"
        return "valid"


class EntryState(models.TextChoices):
    SEALED = "sealed", "Sealed"  # signed, waiting for a place in the log
    LOGGED = "logged", "Logged"  # has a leaf index, waiting for an on-chain checkpoint
    ANCHORED = "anchored", "Anchored"  # covered by a confirmed checkpoint


class Entry(models.Model):
    """One sealed object version: its salted leaf, signature and place in the log."""

    subject = models.CharField(max_length=200)
    signing_key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="entries")
    canonical_hash = models.BinaryField(max_length=32)
    salt = models.BinaryField(max_length=32)
    leaf = models.BinaryField(max_length=32)
    signature = models.BinaryField(max_length=64)
    # 1: the signature covers the leaf; 2: the statement binding organisation, key id, leaf and
    # subject (ledger.signing.statement_bytes). The receipt is written in the same version.
    receipt_version = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=10, choices=EntryState.choices, default=EntryState.SEALED)
    leaf_index = models.BigIntegerField(null=True, blank=True, unique=True)
    checkpoint = models.ForeignKey(
        "Checkpoint", on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [models.Index(fields=["state", "id"])]

    def __str__(self) -> str:
        return f"{self.subject} #{self.leaf_index}"


class MerkleNode(models.Model):
    """The hash of a perfect subtree: leaves [index * 2^level, (index + 1) * 2^level)."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "index"], name="merkle_node_position")
        ]


class LogHead(models.Model):
    """The single row holding the log's current size and root (id is always 1)."""

    size = models.BigIntegerField(default=0)
    root = models.BinaryField(max_length=32)
    updated_at = models.DateTimeField(default=timezone.now)


class CheckpointState(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"  # signed transaction stored and broadcast
    CONFIRMED = "confirmed", "Confirmed"  # mined with enough confirmations
    FAILED = "failed", "Failed"  # reverted; the leaves go into the next checkpoint


class Checkpoint(models.Model):
    """A (tree size, root) commitment of the log, anchored by one transaction."""

    tree_size = models.BigIntegerField()
    root = models.BinaryField(max_length=32)
    state = models.CharField(max_length=10, choices=CheckpointState.choices)
    chain_id = models.BigIntegerField()
    contract = models.CharField(max_length=42)
    sender = models.CharField(max_length=42)
    nonce = models.BigIntegerField()
    transaction_hash = models.CharField(max_length=66, unique=True)
    raw_transaction = models.BinaryField()
    # Earlier transactions of this checkpoint, replaced by a higher fee or a new nonce: any of
    # them may still be the one that gets mined.
    replaced_transactions = models.JSONField(default=list, blank=True)
    block_number = models.BigIntegerField(null=True, blank=True)
    # The block that holds the anchoring transaction: a reorganisation shows as a receipt that
    # is gone or sits in a block with another hash (ledger.finality).
    block_hash = models.CharField(max_length=66, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # When its block became final (LEDGER_FINALITY_DEPTH deep, or the node's finalized block);
    # a final checkpoint is no longer watched.
    finalized_at = models.DateTimeField(null=True, blank=True)
    # Anchors of this checkpoint that a reorganisation took away, oldest first: each
    # {"transaction_hash", "block_number", "block_hash", "detected_at"}. Receipts citing them
    # were reissued (docs/receipts.md, "Reorganisations").
    reorganised = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-tree_size"]
        constraints = [
            models.UniqueConstraint(
                fields=["tree_size"],
                condition=models.Q(state="confirmed"),
                name="one_confirmed_checkpoint_per_size",
            )
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} ({self.state})"


class KeyEventKind(models.TextChoices):
    CREATED = "created", "Portal-held key created"
    REGISTERED = "registered", "Organisation key registered"
    ROTATED = "rotated", "Key rotated out"
    REVOKED = "revoked", "Key revoked"


class KeyEvent(models.Model):
    """One change of the key directory, sealed as an entry of the log (key transparency).

    ``payload`` is the exact JSON that was sealed (ledger.keys.event_payload): anyone holding
    it and the entry's receipt can check it against the chain with ``ledger.verify``.
    """

    signing_key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=12, choices=KeyEventKind.choices)
    payload = models.JSONField()
    entry = models.OneToOneField(Entry, on_delete=models.PROTECT, related_name="key_event")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["signing_key", "id"], name="key_event_by_key")]

    def __str__(self) -> str:
        return f"{self.kind} {self.signing_key_id}"


class Deployment(models.Model):
    """Where the anchor registry lives on a chain."""

    chain_id = models.BigIntegerField()
    address = models.CharField(max_length=42)
    transaction_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "address"], name="one_deployment_per_address"
            )
        ]
