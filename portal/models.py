"""The community: organisations, their users and roles, trust groups and API tokens."""

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


def new_stix_identity_id() -> str:
    return f"identity--{uuid.uuid4()}"


class Sector(models.TextChoices):
    TRANSMISSION = "transmission", "Transmission system operator"
    DISTRIBUTION = "distribution", "Distribution system operator"
    GENERATION = "generation", "Generation"
    CSIRT = "csirt", "CSIRT"
    ISAC = "isac", "ISAC"
    REGULATOR = "regulator", "Regulator"
    VENDOR = "vendor", "Vendor"
    OTHER = "other", "Other"


class Organisation(models.Model):
    """A tenant: every shared item belongs to one, and every query is scoped to one."""

    name = models.CharField(max_length=200, unique=True)
    sector = models.CharField(max_length=20, choices=Sector.choices, default=Sector.OTHER)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    # STIX 2.1 identity object id, used as created_by_ref of what the organisation publishes.
    stix_identity_id = models.CharField(
        max_length=64, unique=True, editable=False, default=new_stix_identity_id
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set while platform admins have suspended the organisation: its members cannot log in or
    # use their tokens, and it receives no deliveries (portal.services.organisations).
    suspended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class Role(models.IntegerChoices):
    """Ordered, so checks read `user.role >= Role.PUBLISHER`."""

    READER = 10, "Reader"
    PUBLISHER = 20, "Publisher"
    ORG_ADMIN = 30, "Organisation admin"


class UserManager(BaseUserManager["User"]):
    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person, logging in with their email; belongs to one organisation with one role.

    Platform admins (`is_staff`) may have no organisation.
    """

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="members"
    )
    role = models.IntegerField(choices=Role.choices, default=Role.READER)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


class TrustGroup(models.Model):
    """A set of organisations that share with each other; publications may target groups."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(Organisation, related_name="trust_groups", blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Retired groups keep their history but take no new publications or members.
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    PUBLISH = "publish", "Read and publish"


class ApiToken(models.Model):
    """A personal access token for the REST API. Only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=10, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now


class RequestState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class JoinRequest(models.Model):
    """An organisation asking to join the community; platform admins decide."""

    organisation_name = models.CharField(max_length=200)
    sector = models.CharField(max_length=20, choices=Sector.choices)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    contact_name = models.CharField(max_length=200)
    contact_email = models.EmailField()
    justification = models.TextField(max_length=2000)
    state = models.CharField(
        max_length=10, choices=RequestState.choices, default=RequestState.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_reason = models.TextField(blank=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.organisation_name


class Invitation(models.Model):
    """A single-use, expiring invitation to become a member with a role.

    Only the SHA-256 of the token is stored; the link in the email carries the token.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.IntegerField(choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} → {self.organisation}"

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now


class TrustGroupJoinRequest(models.Model):
    """An organisation admin asking for their organisation to join a trust group."""

    group = models.ForeignKey(TrustGroup, on_delete=models.CASCADE, related_name="join_requests")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="+")
    requested_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, related_name="+")
    message = models.TextField(max_length=1000, blank=True)
    state = models.CharField(
        max_length=10, choices=RequestState.choices, default=RequestState.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "organisation"],
                condition=models.Q(state="pending"),
                name="one_pending_trust_group_request",
            )
        ]


from portal.audit.models import AuditAnchor, AuditEvent  # noqa: E402,F401
