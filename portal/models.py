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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


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
