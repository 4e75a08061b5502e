"""Recipients fixed at publish time, members' notification settings, organisation defaults and
webhook filters: pages, API, tenant isolation and permissions."""

import pytest
from django.test import Client

from portal.audit.models import AuditAction, AuditEvent
from portal.models import TrustGroup
from portal.services import add_to_trust_group, remove_from_trust_group
from sharing.models import (
    ChannelKind,
    Delivery,
    NotificationChannel,
    NotificationSettings,
    PublicationChannel,
    PublicationRecipient,
    WebhookEndpoint,
    WebhookMessage,
)
from sharing.services import subscriptions
from sharing.services.subscriptions import PublicationFacts, matches
from tests import stix_samples
from tests.sharing.test_pipeline import publish, run_pipeline

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def endpoint_of(user, url: str = "http://127.0.0.1:9/hook", **filters) -> WebhookEndpoint:
    endpoint, _ = subscriptions.register_endpoint(acting_user=user, url=url, filters=filters)
    return endpoint


# --- Matching ------------------------------------------------------------------------------


FACTS = PublicationFacts(
    publisher_id=1,
    tlp="amber",
    trust_group_ids=frozenset({7}),
    stix_types=frozenset({"indicator", "report"}),
    labels=frozenset({"phishing"}),
)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, True),
        ({"publisher_ids": [1, 2]}, True),
        ({"publisher_ids": [2]}, False),
        ({"trust_group_ids": [7]}, True),
        ({"trust_group_ids": [8]}, False),
        ({"stix_types": ["malware", "indicator"]}, True),
        ({"stix_types": ["malware"]}, False),
        ({"min_tlp": "green"}, True),
        ({"min_tlp": "amber"}, True),
        ({"min_tlp": "red"}, False),
        ({"labels": ["Phishing"]}, True),
        ({"labels": ["ransomware"]}, False),
        ({"publisher_ids": [1], "stix_types": ["malware"]}, False),
    ],
)
def test_filters_match_when_every_filter_with_values_matches(filters, expected):
    assert matches(NotificationSettings(**filters), FACTS) is expected


# --- Recipients fixed at publish time --------------------------------------------------------


@pytest.mark.parametrize("tlp", ["red", "amber+strict"])
def test_trust_group_changes_after_publishing_change_nobody_s_delivery(
    chain, trust_group, publisher, alpine_admin, charlie, staff, tlp
):
    alpine_hook = endpoint_of(alpine_admin, "http://127.0.0.1:9/alpine")
    outsider_hook = endpoint_of(charlie, "http://127.0.0.1:9/outsider")
    publication = publish(publisher, tlp=tlp)

    # During the anchoring delay: Alpine leaves the group, the outsider joins it.
    remove_from_trust_group(
        acting_user=staff, group=trust_group, organisation=alpine_admin.organisation
    )
    add_to_trust_group(group=trust_group, organisation=charlie.organisation)
    run_pipeline(publication)

    delivered = set(
        Delivery.objects.filter(publication=publication).values_list("organisation", flat=True)
    )
    assert delivered == {publisher.organisation_id, alpine_admin.organisation_id}
    hooks = set(
        WebhookMessage.objects.filter(publication=publication).values_list("endpoint", flat=True)
    )
    assert hooks == {alpine_hook.id}
    assert outsider_hook.id not in hooks


def test_recipients_and_channels_are_recorded_in_the_publishing_transaction(
    trust_group, publisher, alpine_admin, bob, charlie
):
    subscriptions.save_settings(acting_user=bob, channel="email", filters={})
    publication = publish(publisher)

    assert set(
        PublicationRecipient.objects.filter(publication=publication).values_list(
            "organisation", flat=True
        )
    ) == {publisher.organisation_id, alpine_admin.organisation_id}
    channels = set(
        PublicationChannel.objects.filter(publication=publication).values_list("kind", "user")
    )
    # Bob chose email; the others have the built-in default (a daily digest); Charlie's
    # organisation is not entitled.
    assert channels == {
        (ChannelKind.EMAIL, bob.id),
        (ChannelKind.DIGEST, publisher.id),
        (ChannelKind.DIGEST, alpine_admin.id),
    }


def test_the_inbox_receives_everything_and_filters_only_decide_what_is_pushed(
    chain, trust_group, publisher, alpine_admin
):
    subscriptions.save_settings(
        acting_user=alpine_admin, channel="email", filters={"stix_types": ["malware"]}
    )
    hook = endpoint_of(alpine_admin, min_tlp="red")
    publication = run_pipeline(publish(publisher, tlp="amber"))

    assert Delivery.objects.filter(
        publication=publication, organisation=alpine_admin.organisation
    ).exists()
    assert not PublicationChannel.objects.filter(
        publication=publication, user=alpine_admin
    ).exists()
    assert not WebhookMessage.objects.filter(endpoint=hook).exists()


def test_a_webhook_filter_on_labels_and_publishers_lets_matching_publications_through(
    chain, trust_group, publisher, alpine_admin
):
    wanted = endpoint_of(
        alpine_admin,
        "http://127.0.0.1:9/wanted",
        labels=["Phishing"],
        publisher_ids=[publisher.organisation_id],
    )
    unwanted = endpoint_of(alpine_admin, "http://127.0.0.1:9/unwanted", labels=["ransomware"])
    labelled = stix_samples.indicator(labels=["phishing"])
    publication = run_pipeline(publish(publisher, bundle=stix_samples.bundle(labelled)))

    endpoints = set(
        WebhookMessage.objects.filter(publication=publication).values_list("endpoint", flat=True)
    )
    assert wanted.id in endpoints and unwanted.id not in endpoints


# --- Members' settings and organisation defaults ---------------------------------------------


def test_a_member_saves_their_settings_on_the_notifications_page(trust_group, bob):
    client = client_for(bob)
    page = client.get("/notifications/")
    assert page.status_code == 200
    assert b"your organisation's defaults apply" in page.content
    assert b'href="/notifications/"' in page.content  # in the navigation

    response = client.post(
        "/notifications/",
        {
            "channel": "email",
            "trust_groups": [trust_group.id],
            "stix_types": ["indicator", "malware"],
            "min_tlp": "amber",
            "labels": "Phishing, ransomware ,",
        },
    )
    assert response.status_code == 302, response.content.decode()
    saved = NotificationSettings.objects.get(user=bob)
    assert saved.channel == NotificationChannel.EMAIL
    assert saved.trust_group_ids == [trust_group.id]
    assert saved.stix_types == ["indicator", "malware"]
    assert saved.min_tlp == "amber"
    assert saved.labels == ["phishing", "ransomware"]
    event = AuditEvent.objects.get(action=AuditAction.NOTIFICATIONS_CHANGED)
    assert event.actor == bob and event.detail["channel"] == "email"


def test_organisation_defaults_apply_until_a_member_saves_their_own(
    trust_group, alice, bob, publisher, charlie
):
    response = client_for(alice).post(
        "/notifications/defaults/", {"channel": "none", "min_tlp": "red"}
    )
    assert response.status_code == 302, response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.NOTIFICATION_DEFAULTS_CHANGED).exists()

    current, own = subscriptions.settings_of(user=bob)
    assert (current.channel, current.min_tlp, own) == ("none", "red", False)
    # Another organisation keeps its own defaults (here the built-in ones).
    theirs, _ = subscriptions.settings_of(user=charlie)
    assert (theirs.channel, theirs.min_tlp) == ("digest", "")
    subscriptions.save_settings(acting_user=bob, channel="digest", filters={})
    current, own = subscriptions.settings_of(user=bob)
    assert (current.channel, own) == ("digest", True)

    publication = publish(publisher)
    kinds = dict(
        PublicationChannel.objects.filter(publication=publication).values_list("user", "kind")
    )
    # Bob has his own digest; Alice and the publisher follow the defaults: no email.
    assert kinds == {bob.id: ChannelKind.DIGEST}


def test_only_organisation_admins_set_defaults(bob, publisher):
    for user in (bob, publisher):
        client = client_for(user)
        assert client.get("/notifications/defaults/").status_code == 403
        assert client.post("/notifications/defaults/", {"channel": "none"}).status_code == 403
    assert not NotificationSettings.objects.exists()


def test_a_member_cannot_filter_on_another_organisation_s_trust_group(trust_group, charlie):
    response = client_for(charlie).post(
        "/notifications/", {"channel": "email", "trust_groups": [trust_group.id]}
    )
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    with pytest.raises(subscriptions.ValidationError) as raised:
        subscriptions.save_settings(
            acting_user=charlie, channel="email", filters={"trust_group_ids": [trust_group.id]}
        )
    assert "your organisation belongs to no trust group" in str(raised.value)
    assert not NotificationSettings.objects.exists()


def test_bad_settings_are_refused_with_a_clear_message_and_change_nothing(bob):
    with pytest.raises(subscriptions.ValidationError) as raised:
        subscriptions.save_settings(
            acting_user=bob,
            channel="pager",
            filters={},
        )
    assert "channel: must be one of email, digest, none" in str(raised.value)
    with pytest.raises(subscriptions.ValidationError) as raised:
        subscriptions.save_settings(
            acting_user=bob,
            channel="email",
            filters={"stix_types": ["x-made-up"], "min_tlp": "white", "publisher_ids": [999999]},
        )
    message = str(raised.value)
    assert "unknown STIX types ['x-made-up']" in message
    assert "min_tlp: must be one of" in message
    assert "no organisation [999999]" in message
    assert not NotificationSettings.objects.exists()


# --- Webhook filters: page and API -----------------------------------------------------------


def test_the_webhook_page_registers_filters_and_lists_them_in_few_queries(
    trust_group, alice, django_assert_num_queries
):
    client = client_for(alice)
    response = client.post(
        "/webhooks/",
        {
            "url": "http://127.0.0.1:9/soc",
            "trust_groups": [trust_group.id],
            "stix_types": ["indicator"],
            "min_tlp": "amber",
        },
    )
    assert response.status_code == 200, response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.trust_group_ids == [trust_group.id] and endpoint.min_tlp == "amber"
    client.get("/webhooks/")  # warm the session
    # Session, user, MFA check, endpoints, the names filters refer to, the form's choices:
    # the same number of queries however many endpoints.
    with django_assert_num_queries(15):
        client.get("/webhooks/")
    for number in range(5):
        endpoint_of(alice, f"http://127.0.0.1:9/more-{number}", stix_types=["malware"])
    with django_assert_num_queries(15):
        page = client.get("/webhooks/")
    assert page.content.count(b"types malware") == 5
    assert b"shared with Grid ISAC; types indicator; TLP:AMBER or above" in page.content


def test_an_admin_changes_an_endpoint_s_filters_on_its_page(trust_group, alice, bob, charlie):
    endpoint = endpoint_of(alice, stix_types=["malware"])
    url = f"/webhooks/{endpoint.id}/filters/"
    page = client_for(alice).get(url)
    assert page.status_code == 200 and b'value="malware"' in page.content
    response = client_for(alice).post(url, {"trust_groups": [trust_group.id], "labels": "ics"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.trust_group_ids, endpoint.stix_types, endpoint.labels) == (
        [trust_group.id],
        [],
        ["ics"],
    )
    # A reader of the organisation may not; another organisation does not see the endpoint.
    assert client_for(bob).post(url, {"labels": "x"}).status_code == 403
    assert client_for(charlie).get(url).status_code == 404
    assert client_for(charlie).post(url, {"labels": "x"}).status_code == 404
    endpoint.refresh_from_db()
    assert endpoint.labels == ["ics"]


def test_the_api_registers_and_changes_webhook_filters(trust_group, alice, token_for):
    client = Client()
    headers = {"HTTP_" + k.upper(): v for k, v in token_for(alice).items()}
    created = client.post(
        "/api/webhooks/",
        {"url": "http://127.0.0.1:9/api", "stix_types": ["indicator"], "labels": ["Phishing"]},
        content_type="application/json",
        **headers,
    )
    assert created.status_code == 201, created.content
    assert created.json()["labels"] == ["phishing"]
    endpoint_id = created.json()["id"]
    changed = client.patch(
        f"/api/webhooks/{endpoint_id}/",
        {"trust_group_ids": [trust_group.id]},
        content_type="application/json",
        **headers,
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["trust_group_ids"] == [trust_group.id]
    assert changed.json()["stix_types"] == ["indicator"]  # untouched filters stay
    assert AuditEvent.objects.filter(action=AuditAction.WEBHOOK_FILTERS_CHANGED).count() == 2


def test_webhook_filters_are_tenant_scoped(trust_group, alice, bob, charlie, token_for):
    endpoint = endpoint_of(alice)
    client = Client()
    as_charlie = {"HTTP_" + k.upper(): v for k, v in token_for(charlie).items()}
    # Another organisation's endpoint does not exist for Charlie.
    response = client.patch(
        f"/api/webhooks/{endpoint.id}/",
        {"min_tlp": "red"},
        content_type="application/json",
        **as_charlie,
    )
    assert response.status_code == 404
    # Nor can Charlie filter his own endpoint on a trust group he is not in.
    refused = client.post(
        "/api/webhooks/",
        {"url": "http://127.0.0.1:9/c", "trust_group_ids": [trust_group.id]},
        content_type="application/json",
        **as_charlie,
    )
    assert refused.status_code == 400
    assert "your organisation belongs to no trust group" in refused.content.decode()
    assert not WebhookEndpoint.objects.filter(organisation=charlie.organisation).exists()
    # A reader of the right organisation may not change filters.
    as_bob = {"HTTP_" + k.upper(): v for k, v in token_for(bob).items()}
    response = client.patch(
        f"/api/webhooks/{endpoint.id}/",
        {"min_tlp": "red"},
        content_type="application/json",
        **as_bob,
    )
    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.min_tlp == ""


def test_trust_groups_are_listed_only_for_their_members(trust_group, charlie):
    TrustGroup.objects.create(name="Charlie's own")
    page = client_for(charlie).get("/notifications/")
    assert b"Grid ISAC" not in page.content
