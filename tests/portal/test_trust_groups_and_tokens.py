import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from portal.models import ApiToken, TokenScope, TrustGroup, TrustGroupJoinRequest
from portal.selectors import trust_groups_of
from portal.services import add_to_trust_group, create_api_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_platform_admins_create_groups_and_add_organisations(
    client, staff, alice, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    client.post("/trust-groups/", {"name": "Baltic operators", "description": "TSOs"})
    group = TrustGroup.objects.get(name="Baltic operators")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/trust-groups/{group.id}/", {"add": "1", "organisation": alice.organisation_id}
        )
    assert list(group.members.all()) == [alice.organisation]
    assert mail.outbox[0].to == [alice.email]  # the affected org admins are told
    question = client.post(f"/trust-groups/{group.id}/", {"remove": alice.organisation_id})
    assert (
        "will no longer receive what is shared with Baltic operators" in question.content.decode()
    )
    assert group.members.exists()  # not before the confirmation
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/trust-groups/{group.id}/", {"remove": alice.organisation_id, "confirmed": "yes"}
        )
    assert not group.members.exists()
    assert "removed from" in mail.outbox[1].subject
    page = client.get(response["Location"]).content.decode()
    assert "Nordgrid Transmission was removed from Baltic operators." in page


def test_community_mails_are_plain_text_in_subject_and_text_and_escaped_in_html(
    client, staff, alice, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    client.post("/trust-groups/", {"name": "Baltic & Alpine <TSOs>", "description": "R&D"})
    group = TrustGroup.objects.get(name="Baltic & Alpine <TSOs>")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/trust-groups/{group.id}/", {"add": "1", "organisation": alice.organisation_id}
        )
    (message,) = mail.outbox
    assert "Baltic & Alpine <TSOs>" in message.subject
    assert "Baltic & Alpine <TSOs>" in message.body and "&amp;" not in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "Baltic &amp; Alpine &lt;TSOs&gt;" in html and "<TSOs>" not in html


def test_org_admins_cannot_manage_groups(client, alice, trust_group):
    client.force_login(alice)
    assert client.post("/trust-groups/", {"name": "Mine"}).status_code == 403
    response = client.post(f"/trust-groups/{trust_group.id}/", {"description": "changed"})
    assert response.status_code == 403
    assert not TrustGroup.objects.filter(name="Mine").exists()


def test_members_see_their_groups_and_members_only(client, bob, charlie, trust_group):
    client.force_login(bob)
    page = client.get(f"/trust-groups/{trust_group.id}/").content.decode()
    assert "Alpine Energy CSIRT" in page
    client.force_login(charlie)
    assert client.get(f"/trust-groups/{trust_group.id}/").status_code == 404
    assert "Alpine Energy CSIRT" not in client.get("/trust-groups/").content.decode()


def test_an_org_admin_asks_to_join_and_a_platform_admin_admits(client, charlie, staff, trust_group):
    client.force_login(charlie)
    client.post(f"/trust-groups/{trust_group.id}/request/", {"message": "We are a generator"})
    client.post(f"/trust-groups/{trust_group.id}/request/", {"message": "again"})
    join = TrustGroupJoinRequest.objects.get()
    assert join.organisation == charlie.organisation
    client.force_login(staff)
    client.post(f"/trust-groups/requests/{join.id}/decide/", {"decision": "approve"})
    assert trust_group.members.filter(pk=charlie.organisation_id).exists()
    join.refresh_from_db()
    assert join.state == "approved"


def test_a_member_creates_a_token_shown_once_and_revokes_it(client, bob):
    client.force_login(bob)
    response = client.post("/tokens/", {"name": "siem", "scope": "read", "expires_in_days": 30})
    assert response.status_code == 302 and response["Location"] == "/tokens/"  # POST-redirect-GET
    secret = client.get("/tokens/").context["secret"]
    assert secret.startswith("ctp_")
    token = ApiToken.objects.get(user=bob)
    # Shown once: a reload neither shows it again nor makes a second token.
    assert token.key_hash != secret and secret not in client.get("/tokens/").content.decode()
    assert ApiToken.objects.count() == 1
    api = client.get("/api/inbox/", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200
    client.post(f"/tokens/{token.id}/revoke/", {"confirmed": "yes"})
    client.logout()
    api = client.get("/api/inbox/", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401


def test_a_token_of_someone_else_cannot_be_revoked(client, bob, alice):
    client.force_login(alice)
    client.post("/tokens/", {"name": "mine", "scope": "read", "expires_in_days": 30})
    token = ApiToken.objects.get(user=alice)
    client.force_login(bob)
    assert client.post(f"/tokens/{token.id}/revoke/", {"confirmed": "yes"}).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_token_with_a_bad_expiry_is_refused(client, bob):
    client.force_login(bob)
    response = client.post("/tokens/", {"name": "x", "scope": "read", "expires_in_days": 0})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_a_new_description_is_told_to_every_member_organisations_admins(
    client, staff, alice, alpine_admin, trust_group, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/trust-groups/{trust_group.id}/", {"description": "Grid operators of the EU"})
    trust_group.refresh_from_db()
    assert trust_group.description == "Grid operators of the EU"
    told = sorted(address for message in mail.outbox for address in message.to)
    assert told == sorted([alice.email, alpine_admin.email])
    assert "Grid operators of the EU" in mail.outbox[0].body


def test_a_reader_cannot_make_a_publish_token(client, bob):
    client.force_login(bob)
    page = client.get("/tokens/").content.decode()
    assert 'value="publish"' not in page  # not offered
    response = client.post("/tokens/", {"name": "x", "scope": "publish", "expires_in_days": 30})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()
    with pytest.raises(ValidationError, match="read tokens only"):
        create_api_token(user=bob, name="x", scope=TokenScope.PUBLISH)
    assert not ApiToken.objects.exists()


def test_a_platform_admin_renames_and_retires_a_group(
    client, staff, alice, trust_group, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/trust-groups/{trust_group.id}/",
            {"name": "Grid ISAC (EU)", "description": trust_group.description},
        )
    trust_group.refresh_from_db()
    assert trust_group.name == "Grid ISAC (EU)"
    assert "Grid ISAC is now called Grid ISAC (EU)." in mail.outbox[0].body
    question = client.post(f"/trust-groups/{trust_group.id}/", {"retire": "1"})
    assert "Nobody can share to it or ask to join it any more" in question.content.decode()
    client.post(f"/trust-groups/{trust_group.id}/", {"retire": "1", "confirmed": "yes"})
    trust_group.refresh_from_db()
    assert trust_group.retired_at is not None
    # Retired: no longer offered to publishers, and nobody can be added.
    assert not trust_groups_of(organisation=alice.organisation).exists()
    with pytest.raises(ValidationError, match="retired"):
        add_to_trust_group(group=trust_group, organisation=alice.organisation, acting_user=staff)


def test_renaming_to_an_existing_name_is_refused(client, staff, trust_group):
    TrustGroup.objects.create(name="Other")
    client.force_login(staff)
    response = client.post(f"/trust-groups/{trust_group.id}/", {"name": "other", "description": ""})
    assert "already exists" in client.get(response["Location"]).content.decode()
    trust_group.refresh_from_db()
    assert trust_group.name == "Grid ISAC"
