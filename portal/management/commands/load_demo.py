"""Demo data: two organisations in a trust group, their users, and a publish token.

Idempotent: a second run finds everything and prints the same logins. Passwords are random,
made on the first run and kept in var/demo-logins.txt (git-ignored), never in the repository.
"""

import secrets

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from portal import services
from portal.models import Organisation, Role, Sector, TokenScope, TrustGroup, User

ORGANISATIONS = [
    ("Nordgrid Transmission", Sector.TRANSMISSION, "DE", "nordgrid.example"),
    ("Alpine Energy CSIRT", Sector.CSIRT, "AT", "alpine-csirt.example"),
]
ROLES = [("admin", Role.ORG_ADMIN), ("analyst", Role.PUBLISHER), ("reader", Role.READER)]
GROUP = "European Grid Operators ISAC"


class Command(BaseCommand):
    help = "Load demo organisations, users and a trust group; print their logins."

    def handle(self, *args, **options) -> None:
        logins_file = settings.VAR_DIR / "demo-logins.txt"
        if User.objects.filter(email="staff@portal.example").exists() and logins_file.exists():
            self.stdout.write(logins_file.read_text())
            return
        lines = ["Demo logins (email / password):"]
        with transaction.atomic():
            group, _ = TrustGroup.objects.get_or_create(
                name=GROUP, defaults={"description": "Demo trust group of two operators."}
            )
            for name, sector, country, domain in ORGANISATIONS:
                organisation = Organisation.objects.filter(name=name).first()
                if organisation is None:
                    organisation = services.create_organisation(
                        name=name, sector=sector, country=country
                    )
                services.add_to_trust_group(group=group, organisation=organisation)
                for local, role in ROLES:
                    email = f"{local}@{domain}"
                    password = self._password()
                    user = User.objects.filter(email=email).first()
                    if user is None:
                        user = services.create_member(
                            organisation=organisation, email=email, role=role, password=password
                        )
                    else:
                        user.set_password(password)
                        user.save(update_fields=["password"])
                    _verified_address(user)
                    lines.append(f"  {email:32} {password}   {name}, {role.label}")
                    if role == Role.PUBLISHER:
                        _, raw = services.create_api_token(
                            user=user,
                            name="demo",
                            scope=TokenScope.PUBLISH,
                            # Demo logins enrol their second factor at first login.
                            dangerously_skip_second_factor=True,
                        )
                        lines.append(f"    API token of {email}: {raw}")
            password = self._password()
            staff = User.objects.filter(email="staff@portal.example").first()
            if staff is None:
                staff = User.objects.create_superuser("staff@portal.example", password)
            staff.set_password(password)
            staff.save(update_fields=["password"])
            _verified_address(staff)
            lines.append(f"  {'staff@portal.example':32} {password}   platform admin")
            lines.append(
                "Publishers, organisation admins and the platform admin set up an authenticator "
                "app (TOTP) at their first login; readers may."
            )
            _publish_sample(group)
        logins_file.parent.mkdir(parents=True, exist_ok=True)
        logins_file.write_text("\n".join(lines) + "\n")
        logins_file.chmod(0o600)
        self.stdout.write(logins_file.read_text())

    def _password(self) -> str:
        return secrets.token_urlsafe(12)


def _verified_address(user: User) -> None:
    """Demo addresses cannot receive mail: count them as verified, as an invitation would."""
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )


def _publish_sample(group: TrustGroup) -> None:
    """One publication of Alpine Energy CSIRT to the demo trust group, so that the inboxes are
    not empty: the worker seals, anchors and delivers it once it runs."""
    from sharing.models import Publication
    from sharing.services.publishing import publish_bundle

    analyst = User.objects.get(email="analyst@alpine-csirt.example")
    if Publication.objects.filter(organisation=analyst.organisation).exists():
        return
    identity = analyst.organisation.stix_identity_id
    when = "2026-11-20T07:45:00.000Z"
    common = {"spec_version": "2.1", "created": when, "modified": when, "created_by_ref": identity}
    indicator = {
        "type": "indicator",
        "id": "indicator--6b8f3c1e-2f4d-4a7e-9c55-0d2a7e41b9a3",
        "name": "Phishing domain imitating a grid operator's supplier portal",
        "pattern": "[domain-name:value = 'grid-supplier-portal.example']",
        "pattern_type": "stix",
        "valid_from": when,
        **common,
    }
    report = {
        "type": "report",
        "id": "report--1d7c9a52-3e8b-4f0a-8b61-5a4c2e9d7f10",
        "name": "Credential phishing against substation engineers",
        "description": "Emails lure engineers to a fake supplier portal that harvests VPN "
        "credentials. Block the domain and reset the credentials of anyone who entered them.",
        "published": when,
        "object_refs": [indicator["id"]],
        **common,
    }
    publish_bundle(
        acting_user=analyst,
        bundle={
            "type": "bundle",
            "id": "bundle--0f3e6a2b-5c1d-4e7f-8a9b-2c4d6e8f0a1b",
            "objects": [indicator, report],
        },
        distribution="trust_groups",
        tlp="amber",
        trust_group_ids=[group.id],
    )
