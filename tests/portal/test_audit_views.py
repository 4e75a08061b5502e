"""The audit trail pages: alice (Nordgrid admin) sees Nordgrid's events, bob (reader) nothing,
charlie (admin elsewhere) only his own organisation's; platform admins see all."""

import csv
import io
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.shortcuts import resolve_url
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_second_factor_needed(settings):
    settings.MFA_REQUIRED_FOR_PRIVILEGED = False  # what is tested here is who sees what


@pytest.fixture
def events(alice, bob, charlie):
    record(action="token_created", actor=alice, target="token:alice")
    record(action="member_role_changed", actor=alice, target="user:bob", detail={"to": "Reader"})
    record(action="token_created", actor=charlie, target="token:charlie")


@pytest.fixture
def staff(db):
    return User.objects.create_user("ops@portal.example", "pw", is_staff=True)


def page(client, user, **params) -> str:
    client.force_login(user)
    response = client.get(reverse("audit"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_an_org_admin_sees_their_organisations_events(client, alice, events):
    content = page(client, alice)
    assert "token:alice" in content and "user:bob" in content
    assert "token:charlie" not in content


def test_another_organisations_admin_does_not_see_them(client, charlie, events):
    content = page(client, charlie)
    assert "token:charlie" in content
    assert "token:alice" not in content and "user:bob" not in content


def test_a_reader_is_refused(client, bob, events):
    client.force_login(bob)
    assert client.get(reverse("audit")).status_code == 403
    assert client.get(reverse("audit-export")).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, settings, events):
    for name in ("audit", "audit-export"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))


def test_platform_admins_see_every_organisation(client, staff, events):
    content = page(client, staff)
    assert "token:alice" in content and "token:charlie" in content


def test_filters_narrow_the_list(client, alice, events):
    by_action = page(client, alice, action="member_role_changed")
    assert "user:bob" in by_action and "token:alice" not in by_action

    record(action="login_failed", organisation=alice.organisation, target="user:someone")
    by_actor = page(client, alice, actor="ALICE@nordgrid")
    assert "token:alice" in by_actor and "user:someone" not in by_actor


def test_dates_narrow_the_list(client, alice, events):
    with mock.patch("django.utils.timezone.now", return_value=datetime(2024, 3, 1, tzinfo=UTC)):
        record(action="token_revoked", actor=alice, target="token:old")
    old = page(client, alice, date_from="2024-02-29", date_to="2024-03-01")
    assert "token:old" in old and "token:alice" not in old
    recent = page(client, alice, date_from="2024-03-02")
    assert "token:alice" in recent and "token:old" not in recent


def test_the_pager_keeps_the_filters(client, alice, events):
    for n in range(60):
        record(action="login_failed", organisation=alice.organisation, target=f"user:{n}")
    content = page(client, alice, action="login_failed")
    assert "?action=login_failed&amp;page=2" in content


def test_the_csv_export_has_a_header_and_the_filtered_rows(client, alice, events):
    client.force_login(alice)
    response = client.get(reverse("audit-export"), {"action": "token_created"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["target"] for row in rows] == ["token:alice"]
    assert rows[0]["hash"] == AuditEvent.objects.get(target="token:alice").hash


def test_the_csv_export_defuses_formulas(client, alice, events):
    record(action="token_created", actor=alice, target='=HYPERLINK("http://x")')
    record(action="token_created", actor=alice, target="@SUM(1)", detail={"name": "-1"})
    client.force_login(alice)
    response = client.get(reverse("audit-export"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "seq"
    targets = [row[6] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in targets and "'@SUM(1)" in targets
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_org_admins_and_staff_get_the_nav_link(client, alice, bob):
    assert 'href="/audit/"' in page(client, alice)
    client.force_login(bob)
    assert 'href="/audit/"' not in client.get(reverse("home")).content.decode()
