"""Joining the community: a public request, a platform admin's decision, the invitation."""

import re

import pytest
from django.core import mail

from ledger.models import SigningKey
from portal.models import Invitation, JoinRequest, Organisation, Role, User

pytestmark = pytest.mark.django_db

REQUEST = {
    "organisation_name": "Baltic Wind Generation",
    "sector": "generation",
    "country": "lt",
    "contact_name": "Rūta Jonaitė",
    "contact_email": "ruta@balticwind.example",
    "justification": "We run 2 GW of offshore wind and want to share and receive alerts.",
}


@pytest.fixture
def mailbox(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return mail.outbox


def submit(client, **changes):
    return client.post("/join/", {**REQUEST, **changes})


def test_anyone_can_ask_to_join(client):
    response = submit(client)
    assert response.status_code == 302 and response["Location"] == "/join/sent/"
    assert b"We will contact you" in client.get(response["Location"]).content
    request = JoinRequest.objects.get()
    assert request.country == "LT" and request.state == "pending"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"contact_email": "not-an-email"}, "Enter a valid email address."),
        ({"country": "Lithuania"}, "two-letter ISO country code"),
        ({"justification": "pls"}, "at least 20 characters"),
        ({"sector": "mining"}, "Select a valid choice"),
    ],
)
def test_a_malformed_request_is_refused_with_a_clear_error(client, changes, message):
    response = submit(client, **changes)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not JoinRequest.objects.exists()


def test_a_second_request_from_the_same_address_is_answered_alike_and_by_email(
    client, mailbox, django_capture_on_commit_callbacks
):
    first = submit(client)
    with django_capture_on_commit_callbacks(execute=True):
        second = submit(client, organisation_name="Another name")
    assert (second.status_code, second["Location"]) == (first.status_code, first["Location"])
    assert JoinRequest.objects.count() == 1
    assert mailbox[-1].to == [REQUEST["contact_email"]]
    assert "already waiting for review" in mailbox[-1].body


def test_join_does_not_reveal_accounts_or_member_organisations(
    client, nordgrid, bob, mailbox, django_capture_on_commit_callbacks
):
    """A known address, a member organisation's name and a newcomer get the same answer."""
    answers = []
    for changes in (
        {"contact_email": bob.email},
        {"organisation_name": "nordgrid transmission", "contact_email": "new@nordgrid.example"},
        {"organisation_name": "Fresh Energy", "contact_email": "x@fresh.example"},
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = submit(client, **changes)
        answers.append((response.status_code, response["Location"]))
    assert answers == [(302, "/join/sent/")] * 3
    # bob is told by email; no second account request is stored for him.
    assert not JoinRequest.objects.filter(contact_email=bob.email).exists()
    assert [m.to for m in mailbox] == [[bob.email]]
    assert "already has an account" in mailbox[0].body


def test_an_admin_sees_that_a_requested_name_is_taken_and_corrects_it(client, nordgrid, staff):
    submit(client, organisation_name="Nordgrid Transmission")
    request = JoinRequest.objects.get()
    client.force_login(staff)
    page = client.get(f"/staff/join-requests/{request.id}/").content.decode()
    assert "is already a member: correct the name" in page
    client.post(
        f"/staff/join-requests/{request.id}/",
        {"decision": "rename", "organisation_name": "Nordgrid Distribution"},
    )
    client.post(f"/staff/join-requests/{request.id}/", {"decision": "approve"})
    assert Organisation.objects.filter(name="Nordgrid Distribution").exists()


def test_requests_are_throttled_per_address(client, settings):
    settings.JOIN_REQUESTS_PER_HOUR = 1
    from django.core.cache import cache

    cache.clear()
    submit(client)
    response = submit(client, organisation_name="Another Org", contact_email="x@another.example")
    assert response.status_code == 429
    assert "Too many requests" in response.content.decode()
    assert JoinRequest.objects.count() == 1


def test_the_throttle_counts_every_attempt_even_invalid_ones(client, settings):
    settings.JOIN_REQUESTS_PER_HOUR = 3
    for _ in range(3):
        assert submit(client, contact_email="not-an-email").status_code == 400
    response = submit(client)  # valid, but the address used up its attempts probing
    assert response.status_code == 429
    assert not JoinRequest.objects.exists()


def test_approval_creates_the_organisation_and_invites_its_contact(
    client, staff, mailbox, django_capture_on_commit_callbacks
):
    submit(client)
    request = JoinRequest.objects.get()
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/staff/join-requests/{request.id}/", {"decision": "approve"})
    assert response.status_code == 302
    organisation = Organisation.objects.get(name="Baltic Wind Generation")
    assert organisation.stix_identity_id.startswith("identity--")
    assert SigningKey.objects.filter(owner=organisation.stix_identity_id).exists()
    invitation = Invitation.objects.get()
    assert invitation.role == Role.ORG_ADMIN and invitation.email == REQUEST["contact_email"]
    [message] = mailbox
    assert message.to == [REQUEST["contact_email"]]
    assert "Baltic Wind Generation" in message.subject
    assert message.alternatives and "text/html" in message.alternatives[0][1]

    # The contact follows the link, chooses a password and is its first org admin.
    token = re.search(r"/invitations/([^/]+)/", message.body).group(1)
    client.logout()
    response = client.post(
        f"/invitations/{token}/",
        {
            "full_name": "Rūta",
            "password": "a long passphrase 42",
            "password_again": "a long passphrase 42",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(email=REQUEST["contact_email"])
    assert user.organisation == organisation and user.role == Role.ORG_ADMIN
    # Single use: the same link no longer works.
    client.logout()
    again = client.get(f"/invitations/{token}/")
    assert again.status_code == 404 and b"already used" in again.content


def test_rejection_needs_a_reason_and_emails_it(
    client, staff, mailbox, django_capture_on_commit_callbacks
):
    submit(client)
    request = JoinRequest.objects.get()
    client.force_login(staff)
    response = client.post(
        f"/staff/join-requests/{request.id}/", {"decision": "reject", "reason": ""}
    )
    assert response.status_code == 400
    request.refresh_from_db()
    assert request.state == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/staff/join-requests/{request.id}/",
            {"decision": "reject", "reason": "We could not confirm the organisation exists."},
        )
    request.refresh_from_db()
    assert request.state == "rejected"
    assert not Organisation.objects.filter(name=REQUEST["organisation_name"]).exists()
    assert "could not confirm" in mailbox[0].body


def test_only_platform_admins_review_requests(client, alice, charlie):
    submit(client)
    request = JoinRequest.objects.get()
    client.force_login(alice)
    assert client.get("/staff/join-requests/").status_code == 403
    assert client.get(f"/staff/join-requests/{request.id}/").status_code == 404
    response = client.post(f"/staff/join-requests/{request.id}/", {"decision": "approve"})
    assert response.status_code == 404
    assert not Organisation.objects.filter(name=REQUEST["organisation_name"]).exists()


def test_a_decided_request_cannot_be_decided_again(client, staff):
    submit(client)
    request = JoinRequest.objects.get()
    client.force_login(staff)
    client.post(f"/staff/join-requests/{request.id}/", {"decision": "approve"})
    response = client.post(f"/staff/join-requests/{request.id}/", {"decision": "approve"})
    assert response.status_code == 400
    assert Organisation.objects.filter(name=REQUEST["organisation_name"]).count() == 1
