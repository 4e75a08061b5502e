"""Publishing over REST: what is accepted, and every bad input refused with nothing stored."""

import json

import pytest
from django.test import Client

from ledger.models import Entry
from portal.models import TokenScope
from sharing.models import Publication, PublishedObject
from tests import stix_samples

pytestmark = pytest.mark.django_db


def post(client: Client, headers: dict, body: bytes | dict, content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(
        "/api/publications/",
        data=data,
        content_type=content_type,
        headers=headers,
    )


def envelope(bundle, **fields):
    return {"bundle": bundle, "distribution": "community", "tlp": "green", **fields}


def assert_nothing_stored():
    assert Publication.objects.count() == 0
    assert PublishedObject.objects.count() == 0
    assert Entry.objects.filter(key_event__isnull=True).count() == 0  # key events are not items


def test_it_accepts_a_valid_bundle(
    client, publisher, token_for, django_capture_on_commit_callbacks
):
    bundle = stix_samples.bundle()
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(client, token_for(publisher), envelope(bundle))
    assert response.status_code == 202, response.content
    publication = Publication.objects.get()
    assert response.json()["id"] == publication.id
    assert publication.state == "received"
    assert publication.organisation == publisher.organisation
    # The portal stamps the publisher's identity and the publication's TLP 2.0 marking.
    stamp = {
        "created_by_ref": publisher.organisation.stix_identity_id,
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }
    assert [o.body for o in publication.items.all()] == [
        {**obj, **stamp} for obj in bundle["objects"]
    ]
    assert len(callbacks) == 1  # the seal task, fired on commit


def test_it_refuses_malformed_json(client, publisher, token_for):
    response = post(client, token_for(publisher), b'{"bundle": {"type": "bundle",')
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert_nothing_stored()


def test_it_refuses_a_non_bundle(client, publisher, token_for):
    response = post(client, token_for(publisher), envelope(stix_samples.indicator()))
    assert response.status_code == 400
    assert response.json()["errors"] == [
        'expected a STIX 2.1 bundle: a JSON object with "type": "bundle"'
    ]
    assert_nothing_stored()


def test_it_refuses_an_invalid_pattern(client, publisher, token_for):
    broken = stix_samples.indicator(pattern="[ipv4-addr:value = '203.0.113.7'")
    response = post(client, token_for(publisher), envelope(stix_samples.bundle(broken)))
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert any(broken["id"] in e and "pattern" in e.lower() for e in errors), errors
    assert_nothing_stored()


def test_it_refuses_a_pattern_on_an_unknown_object_type(client, publisher, token_for):
    unknown = stix_samples.indicator(pattern="[not-a-type:value = 'x']")
    response = post(client, token_for(publisher), envelope(stix_samples.bundle(unknown)))
    assert response.status_code == 400
    assert any("unknown object type(s): not-a-type" in e for e in response.json()["errors"])
    assert_nothing_stored()


def test_it_refuses_an_oversized_body(client, publisher, token_for, settings):
    settings.PUBLISH_MAX_BYTES = 2000
    padded = stix_samples.indicator(description="x" * 3000)
    response = post(client, token_for(publisher), envelope(stix_samples.bundle(padded)))
    assert response.status_code == 413
    assert "limit is 2000" in response.json()["detail"]
    assert_nothing_stored()


def test_it_refuses_numbers_that_cannot_be_sealed(client, publisher, token_for):
    huge = stix_samples.indicator(x_score=2**60)
    response = post(client, token_for(publisher), envelope(stix_samples.bundle(huge)))
    assert response.status_code == 400
    assert any("cannot be sealed" in e for e in response.json()["errors"])
    assert_nothing_stored()


def test_it_refuses_an_object_marked_above_the_publication_tlp(client, publisher, token_for):
    red = stix_samples.indicator(
        object_marking_refs=["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]
    )
    response = post(client, token_for(publisher), envelope(stix_samples.bundle(red), tlp="amber"))
    assert response.status_code == 400
    assert "more restrictive" in response.json()["errors"][0]
    assert_nothing_stored()


def test_it_refuses_a_trust_group_the_organisation_is_not_in(
    client, publisher, token_for, outsider
):
    from portal.models import TrustGroup

    foreign = TrustGroup.objects.create(name="Not ours")
    foreign.members.add(outsider)
    response = post(
        client,
        token_for(publisher),
        envelope(stix_samples.bundle(), distribution="trust_groups", trust_groups=[foreign.id]),
    )
    assert response.status_code == 400
    assert "trust groups your organisation belongs to" in response.json()["errors"][0]
    assert_nothing_stored()


def test_it_refuses_red_for_the_whole_community(client, publisher, token_for):
    response = post(client, token_for(publisher), envelope(stix_samples.bundle(), tlp="red"))
    assert response.status_code == 400
    assert_nothing_stored()


def test_a_reader_cannot_publish(client, bob, token_for):
    response = post(client, token_for(bob), envelope(stix_samples.bundle()))
    assert response.status_code == 403
    assert_nothing_stored()


def test_a_read_only_token_cannot_publish(client, publisher, token_for):
    response = post(client, token_for(publisher, TokenScope.READ), envelope(stix_samples.bundle()))
    assert response.status_code == 403
    assert_nothing_stored()


def test_anonymous_callers_get_401(client):
    response = post(client, {}, envelope(stix_samples.bundle()))
    assert response.status_code == 401
    assert_nothing_stored()


def test_a_revoked_token_gets_401(client, publisher):
    from portal.services import create_api_token, revoke_api_token

    token, raw = create_api_token(user=publisher, name="x", scope=TokenScope.PUBLISH)
    revoke_api_token(token=token, acting_user=publisher)
    response = post(client, {"Authorization": f"Bearer {raw}"}, envelope(stix_samples.bundle()))
    assert response.status_code == 401
    assert_nothing_stored()


def test_publications_are_listed_only_to_their_organisation(client, publisher, charlie, token_for):
    post(client, token_for(publisher), envelope(stix_samples.bundle()))
    publication = Publication.objects.get()
    own = client.get("/api/publications/", headers=token_for(publisher)).json()
    assert [p["id"] for p in own["results"]] == [publication.id]
    other = client.get("/api/publications/", headers=token_for(charlie)).json()
    assert other["results"] == []
    detail = client.get(f"/api/publications/{publication.id}/", headers=token_for(charlie))
    assert detail.status_code == 404


def test_the_list_costs_the_same_queries_however_many_publications(
    client, publisher, token_for, django_assert_num_queries
):
    headers = token_for(publisher)
    post(client, headers, envelope(stix_samples.bundle(stix_samples.indicator())))
    client.get("/api/publications/", headers=headers)  # the token's first use is a write
    with django_assert_num_queries(4):  # token, count, page with object counts, trust groups
        one = client.get("/api/publications/", headers=headers).json()
    for _ in range(3):
        post(client, headers, envelope(stix_samples.bundle(stix_samples.indicator())))
    with django_assert_num_queries(4):
        four = client.get("/api/publications/", headers=headers).json()
    assert [p["object_count"] for p in one["results"]] == [1]
    assert [p["object_count"] for p in four["results"]] == [1, 1, 1, 1]


def test_a_read_only_token_cannot_manage_webhooks(client, alice, token_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    response = client.post(
        "/api/webhooks/",
        data={"url": "http://127.0.0.1:9/in"},
        content_type="application/json",
        headers=token_for(alice, TokenScope.READ),
    )
    assert response.status_code == 403
    from sharing.models import WebhookEndpoint

    assert WebhookEndpoint.objects.count() == 0
