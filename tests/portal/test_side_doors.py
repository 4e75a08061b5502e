"""The side doors around the community's controls stay shut: the Django admin edits nothing
that a service owns, the frame shows only usable links, error pages stay in the portal's
frame, and DEBUG is off unless the environment says development."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from portal.audit.models import AuditAction, AuditEvent
from portal.models import ApiToken, Role, TokenScope, User
from portal.services import create_api_token, revoke_api_token

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def admin_client(client, staff):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)
    return client


def test_the_admin_cannot_unrevoke_a_token(admin_client, bob, staff):
    token, _ = create_api_token(user=bob, name="ci", scope=TokenScope.READ)
    revoke_api_token(token=token, acting_user=staff)
    revoked_at = ApiToken.objects.get().revoked_at
    url = f"/admin/portal/apitoken/{token.id}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and 'name="revoked_at' not in page.content.decode()
    response = admin_client.post(url, {"revoked_at_0": "", "revoked_at_1": "", "name": "x"})
    assert response.status_code == 403
    assert ApiToken.objects.get().revoked_at == revoked_at


def test_the_admin_revokes_tokens_through_the_service(admin_client, bob):
    token, _ = create_api_token(user=bob, name="ci", scope=TokenScope.READ)
    response = admin_client.post(
        "/admin/portal/apitoken/", {"action": "revoke", "_selected_action": [token.id]}
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_REVOKED).count() == 1


@pytest.mark.parametrize(
    "field, value", [("role", Role.ORG_ADMIN), ("is_staff", "on"), ("is_superuser", "on")]
)
def test_the_admin_cannot_change_roles_or_privileges(admin_client, bob, field, value):
    response = admin_client.post(
        f"/admin/portal/user/{bob.id}/change/", {"email": bob.email, field: value}
    )
    assert response.status_code == 403
    bob.refresh_from_db()
    assert (bob.role, bob.is_staff, bob.is_superuser) == (Role.READER, False, False)
    assert (
        admin_client.post(f"/admin/portal/user/{bob.id}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert User.objects.filter(pk=bob.pk).exists()


def test_the_admin_cannot_edit_organisations_or_trust_groups(admin_client, nordgrid, trust_group):
    url = f"/admin/portal/organisation/{nordgrid.id}/change/"
    assert admin_client.post(url, {"name": "Renamed"}).status_code == 403
    url = f"/admin/portal/trustgroup/{trust_group.id}/change/"
    assert admin_client.post(url, {"name": "Renamed", "members": []}).status_code == 403
    nordgrid.refresh_from_db()
    assert nordgrid.name == "Nordgrid Transmission" and trust_group.members.count() == 2


def nav_links(page: str) -> list[str]:
    nav = page[page.index('<nav aria-label="Main">') : page.index("</nav>")]
    return [part.split(">", 1)[1].split("<", 1)[0] for part in nav.split("<a ")[1:]]


def test_a_platform_admin_without_organisation_sees_only_pages_they_can_use(client, staff):
    client.force_login(staff)
    page = client.get("/trust-groups/").content.decode()
    links = nav_links(page)
    assert links == [
        "Trust groups",
        "Tokens",
        "Join requests",
        "Organisations",
        "Pipeline",
        "Audit",
    ]
    assert 'aria-current="page">Trust groups' in page
    for path in ("/inbox/", "/publications/", "/webhooks/"):
        assert client.get(path).status_code == 404  # so no link leads there


def test_a_reader_sees_no_publish_or_admin_links(client, bob):
    client.force_login(bob)
    links = nav_links(client.get("/").content.decode())
    assert links == [
        "Inbox",
        "Publications",
        "Search",
        "Webhooks",
        "Notifications",
        "Trust groups",
        "Members",
        "Signing keys",
        "Tokens",
    ]


@override_settings(DEBUG=False)
def test_not_found_and_forbidden_pages_are_in_the_portal_frame(client, bob):
    client.force_login(bob)
    missing = client.get("/publications/999999/")
    assert missing.status_code == 404
    assert "skip-link" in missing.content.decode() and "Not found" in missing.content.decode()
    forbidden = client.get("/staff/join-requests/")
    assert forbidden.status_code == 403
    page = forbidden.content.decode()
    assert "skip-link" in page and "Only platform admins may do this." in page


def test_the_server_error_page_is_in_the_portal_frame(rf):
    from portal.errors import server_error

    page = server_error(rf.get("/inbox/")).content.decode()
    assert "Something went wrong" in page and "skip-link" in page
    api = server_error(rf.get("/api/inbox/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "environment, expected",
    [
        ({}, "False"),
        ({"DEBUG": "true"}, "False"),
        ({"PORTAL_ENV": "development"}, "True"),
        ({"PORTAL_ENV": "development", "DEBUG": "false"}, "False"),
    ],
)
def test_debug_is_on_only_where_the_environment_says_development(environment, expected):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "PORTAL_ENV")}
    env.update(environment, DJANGO_SETTINGS_MODULE="portal.settings")  # settings alone, no apps
    # Without PORTAL_ENV=development the secrets have no default.
    env.update(SECRET_KEY="side-doors-secret-key", ENCRYPTION_SECRET="side-doors-encryption")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings; print(settings.DEBUG)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == expected, result.stderr
