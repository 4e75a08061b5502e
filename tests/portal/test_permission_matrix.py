"""The permission matrix, generated: every URL pattern of the portal, each asked by the owning
organisation's admin, publisher and reader, by a user of another organisation, by a platform
admin and by an anonymous visitor. A route nobody classified fails the test, so a new route
cannot ship without saying who may use it. docs/permissions.md is the same matrix in prose."""

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from ledger.models import Deployment
from portal.models import TrustGroup, TrustGroupJoinRequest
from portal.permissions import max_token_scope
from portal.services import create_api_token
from sharing.models import (
    Delivery,
    Publication,
    PublishedObject,
    WebhookEndpoint,
    WebhookMessage,
)
from sharing.services.subscriptions import unsubscribe_token

ACTORS = ["anonymous", "outsider", "staff", "reader", "publisher", "admin"]
LOGIN = "login"  # a redirect to the login page
DONE = "done"  # a redirect after a successful action

# Namespaces and name prefixes whose access control is the library's own (Django admin,
# django-allauth); their entry points are tested in test_login*.py and below.
DELEGATED_PREFIXES = ("admin:", "account_", "mfa_", "usersessions_")


@dataclass
class Rule:
    expect: dict[str, int | str]
    method: str = "get"
    kwargs: Callable[[dict], dict] = lambda objects: {}
    data: dict = field(default_factory=dict)
    api: bool = False
    query: str | Callable[[dict], str] = ""
    taxii: bool = False  # token authentication (TAXII takes no session), TAXII media type


def web(anonymous=LOGIN, **expect) -> dict:
    return {"anonymous": anonymous, **expect}


def api(**expect) -> dict:
    return {"anonymous": 401, **expect}


ALL_MEMBERS = {"outsider": 200, "staff": 200, "reader": 200, "publisher": 200, "admin": 200}
OWN_ORGANISATION = {"outsider": 200, "staff": 404, "reader": 200, "publisher": 200, "admin": 200}
OWNER_ONLY = {"outsider": 404, "staff": 404, "reader": 200, "publisher": 200, "admin": 200}
OWNER_ADMIN_ACTION = {"outsider": 404, "staff": 404, "reader": 403, "publisher": 403, "admin": DONE}
OWNER_ADMIN_PAGE = {**OWNER_ADMIN_ACTION, "admin": 200}
STAFF_ONLY = {"outsider": 403, "staff": 200, "reader": 403, "publisher": 403, "admin": 403}
AUTHORS = {"outsider": 200, "staff": 403, "reader": 403, "publisher": 200, "admin": 200}
OWN_AUTHORS = {**AUTHORS, "outsider": 404}
OWN_AUTHOR_ACTION = {**OWN_AUTHORS, "publisher": DONE, "admin": DONE}

# TAXII: members of any organisation; a platform admin without one is refused.
TAXII_MEMBERS = {**ALL_MEMBERS, "staff": 403}
TAXII_OWNER = {**OWNER_ONLY, "staff": 403}
KEY_CHANGE = {"outsider": 404, "staff": 404, "reader": 403, "publisher": 403, "admin": 403}
AUDIT = {"outsider": 200, "staff": 200, "reader": 403, "publisher": 403, "admin": 200}

ROUTES: dict[str, Rule] = {
    # Public pages
    "join": Rule(web(anonymous=200, **ALL_MEMBERS)),
    "join-sent": Rule(web(anonymous=200, **ALL_MEMBERS)),
    "accept-invitation": Rule(
        web(anonymous=200, **ALL_MEMBERS), kwargs=lambda o: {"token": o["invitation_token"]}
    ),
    # allauth's login page; someone already logged in is sent on to the home page.
    "login": Rule(web(anonymous=200, **dict.fromkeys(ALL_MEMBERS, DONE))),
    "logout": Rule(web(anonymous=LOGIN, **dict.fromkeys(ALL_MEMBERS, LOGIN)), method="post"),
    # Member pages, each showing the member's own organisation
    "home": Rule(web(**ALL_MEMBERS)),
    "publish": Rule(web(**{**OWN_ORGANISATION, "staff": 403, "reader": 403})),
    "publications": Rule(web(**OWN_ORGANISATION)),
    "inbox": Rule(web(**OWN_ORGANISATION)),
    "inbox-mark-all-read": Rule(
        web(**{**dict.fromkeys(ALL_MEMBERS, DONE), "staff": 404}),
        method="post",
    ),
    "search": Rule(web(**OWN_ORGANISATION)),
    "webhooks": Rule(web(**OWN_ORGANISATION)),
    "notifications": Rule(web(**{**OWN_ORGANISATION, "staff": 403})),
    "notification-defaults": Rule(
        web(**{**OWN_ORGANISATION, "staff": 403, "reader": 403, "publisher": 403})
    ),
    # The link of every notice email: the signed token is the authorisation (RFC 8058).
    "unsubscribe": Rule(
        web(anonymous=200, **ALL_MEMBERS),
        kwargs=lambda o: {"token": unsubscribe_token(o["bob"])},
    ),
    "members": Rule(web(**OWN_ORGANISATION)),
    "trust-groups": Rule(web(**ALL_MEMBERS)),
    "tokens": Rule(web(**ALL_MEMBERS)),
    "audit": Rule(web(**AUDIT)),
    "organisation-keys": Rule(web(**OWN_ORGANISATION)),
    "organisation-key-entries": Rule(web(**OWN_ORGANISATION)),
    # Key changes also need a session that passed a second factor: force_login's has none, so
    # the admin is refused here too (tests/portal/test_organisation_keys.py logs in with one).
    "organisation-key-rotate": Rule(
        web(**KEY_CHANGE),
        method="post",
        kwargs=lambda o: {"key_id": o["key_id"]},
        data={"public_key": "ab" * 32},
    ),
    "organisation-key-revoke": Rule(
        web(**KEY_CHANGE),
        method="post",
        kwargs=lambda o: {"key_id": o["key_id"]},
        data={"reason": "test"},
    ),
    "audit-export": Rule(web(**AUDIT)),
    # Rows of the owning organisation
    "publication-detail": Rule(
        web(**OWNER_ONLY), kwargs=lambda o: {"publication_id": o["publication"].id}
    ),
    "delivery-detail": Rule(web(**OWNER_ONLY), kwargs=lambda o: {"delivery_id": o["delivery"].id}),
    "receipt": Rule(
        web(**OWNER_ONLY),
        kwargs=lambda o: {"delivery_id": o["delivery"].id, "object_id": o["item"].id},
    ),
    "publication-bundle": Rule(
        web(**OWNER_ONLY), kwargs=lambda o: {"publication_id": o["publication"].id}
    ),
    "delivery-bundle": Rule(web(**OWNER_ONLY), kwargs=lambda o: {"delivery_id": o["delivery"].id}),
    "object-detail": Rule(web(**OWNER_ONLY), kwargs=lambda o: {"object_id": o["item"].id}),
    "object-download": Rule(web(**OWNER_ONLY), kwargs=lambda o: {"object_id": o["item"].id}),
    "object-by-stix-id": Rule(
        web(**{**OWNER_ONLY, "reader": DONE, "publisher": DONE, "admin": DONE}),
        kwargs=lambda o: {"stix_id": o["item"].stix_id},
    ),
    "selection-bundle": Rule(web(**OWNER_ONLY), query=lambda o: f"?object={o['item'].id}"),
    "webhook-filters": Rule(
        web(**{**OWNER_ONLY, "reader": 403, "publisher": 403}),
        kwargs=lambda o: {"endpoint_id": o["webhook"].id},
    ),
    "webhook-delete": Rule(
        web(**OWNER_ADMIN_ACTION), method="post", kwargs=lambda o: {"endpoint_id": o["webhook"].id}
    ),
    # Webhook operator tools: the delivery log and its actions, for the organisation's admins.
    "webhook-detail": Rule(
        web(**OWNER_ADMIN_PAGE), kwargs=lambda o: {"endpoint_id": o["webhook"].id}
    ),
    **{
        name: Rule(
            web(**OWNER_ADMIN_ACTION),
            method="post",
            kwargs=lambda o: {"endpoint_id": o["webhook"].id},
        )
        for name in ("webhook-test", "webhook-enable", "webhook-rotate-secret")
    },
    "webhook-redeliver": Rule(
        web(**OWNER_ADMIN_ACTION),
        method="post",
        kwargs=lambda o: {"endpoint_id": o["webhook"].id, "message_id": o["webhook_message"].id},
    ),
    "member-role": Rule(
        web(**OWNER_ADMIN_ACTION),
        method="post",
        kwargs=lambda o: {"member_id": o["bob"].id},
        data={"role": 20, "confirmed": "yes"},
    ),
    "member-active": Rule(
        web(**OWNER_ADMIN_ACTION),
        method="post",
        kwargs=lambda o: {"member_id": o["bob"].id},
        data={"active": "0", "confirmed": "yes"},
    ),
    "member-tokens-revoke": Rule(
        web(**OWNER_ADMIN_ACTION),
        method="post",
        kwargs=lambda o: {"member_id": o["bob"].id},
        data={"confirmed": "yes"},
    ),
    "member-sessions-end": Rule(
        web(**OWNER_ADMIN_ACTION),
        method="post",
        kwargs=lambda o: {"member_id": o["bob"].id},
        data={"confirmed": "yes"},
    ),
    "invitation-revoke": Rule(
        web(**OWNER_ADMIN_ACTION),
        method="post",
        kwargs=lambda o: {"invitation_id": o["invitation"].id},
        data={"confirmed": "yes"},
    ),
    "trust-group": Rule(
        web(**{**OWNER_ONLY, "staff": 200}), kwargs=lambda o: {"group_id": o["group"].id}
    ),
    "trust-group-request": Rule(
        web(outsider=DONE, staff=403, reader=403, publisher=403, admin=DONE),
        method="post",
        kwargs=lambda o: {"group_id": o["other_group"].id},
    ),
    "token-revoke": Rule(
        web(outsider=404, staff=404, reader=404, publisher=404, admin=DONE),
        method="post",
        kwargs=lambda o: {"token_id": o["token"].id},
        data={"confirmed": "yes"},
    ),
    # Authoring: the organisation's publishers and admins only
    "drafts": Rule(web(**AUTHORS)),
    "misp-import": Rule(web(**AUTHORS)),
    "pattern-check": Rule(
        web(**AUTHORS), query="?pattern=%5Bipv4-addr%3Avalue%20%3D%20%271.2.3.4%27%5D"
    ),
    "draft-detail": Rule(web(**OWN_AUTHORS), kwargs=lambda o: {"draft_id": o["draft"].id}),
    "draft-object-new": Rule(
        web(**OWN_AUTHORS), kwargs=lambda o: {"draft_id": o["draft"].id, "stix_type": "malware"}
    ),
    "draft-object-edit": Rule(
        web(**OWN_AUTHORS),
        kwargs=lambda o: {"draft_id": o["draft"].id, "object_id": o["draft_object"].id},
    ),
    "draft-object-delete": Rule(
        web(**OWN_AUTHOR_ACTION),
        method="post",
        kwargs=lambda o: {"draft_id": o["draft"].id, "object_id": o["draft_object"].id},
    ),
    "draft-publish": Rule(
        web(**OWN_AUTHOR_ACTION),
        method="post",
        kwargs=lambda o: {"draft_id": o["draft"].id},
        data={"distribution": "organisation", "tlp": "amber"},
    ),
    "draft-delete": Rule(
        web(**OWN_AUTHOR_ACTION), method="post", kwargs=lambda o: {"draft_id": o["draft"].id}
    ),
    "object-new-version": Rule(
        web(**OWN_AUTHOR_ACTION), method="post", kwargs=lambda o: {"stix_id": o["owned_id"]}
    ),
    "object-revoke": Rule(
        web(**OWN_AUTHOR_ACTION), method="post", kwargs=lambda o: {"stix_id": o["owned_id"]}
    ),
    # Platform admins only
    "join-requests": Rule(web(**STAFF_ONLY)),
    "pipeline-overview": Rule(web(**STAFF_ONLY)),
    "organisations": Rule(web(**STAFF_ONLY)),
    "organisation-suspension": Rule(
        web(**{**dict.fromkeys(STAFF_ONLY, 404), "staff": DONE}),
        method="post",
        kwargs=lambda o: {"organisation_id": o["users"]["outsider"].organisation_id},
        data={"suspend": "1", "reason": "x", "confirmed": "yes"},
    ),
    "join-request": Rule(
        web(**{**dict.fromkeys(STAFF_ONLY, 404), "staff": 200}),
        kwargs=lambda o: {"join_request_id": o["join_request"].id},
    ),
    "trust-group-request-decide": Rule(
        web(**{**STAFF_ONLY, "staff": DONE}),
        method="post",
        kwargs=lambda o: {"request_id": o["group_request"].id},
        data={"decision": "approve"},
    ),
    # REST API
    "api-health": Rule({"anonymous": 200, **ALL_MEMBERS}, api=True),
    "api-schema": Rule(api(**ALL_MEMBERS), api=True),
    "api-publications": Rule(api(**OWN_ORGANISATION), api=True),
    "api-publication": Rule(
        api(**OWNER_ONLY), api=True, kwargs=lambda o: {"pk": o["publication"].id}
    ),
    "api-inbox": Rule(api(**OWN_ORGANISATION), api=True),
    "api-publication-recipients": Rule(
        api(**OWNER_ONLY), api=True, kwargs=lambda o: {"pk": o["publication"].id}
    ),
    "api-delivery-acknowledge": Rule(
        api(**{**OWNER_ONLY, "reader": 403}),
        api=True,
        method="post",
        kwargs=lambda o: {"pk": o["delivery"].id},
        data={"outcome": "verified"},
    ),
    "api-delivery": Rule(api(**OWNER_ONLY), api=True, kwargs=lambda o: {"pk": o["delivery"].id}),
    "api-webhooks": Rule(api(**OWN_ORGANISATION), api=True),
    "api-webhook": Rule(api(**OWNER_ONLY), api=True, kwargs=lambda o: {"pk": o["webhook"].id}),
    "api-webhook-attempts": Rule(
        api(**OWNER_ADMIN_PAGE), api=True, kwargs=lambda o: {"pk": o["webhook"].id}
    ),
    "api-webhook-test": Rule(
        api(**{**OWNER_ADMIN_PAGE, "admin": 202}),
        api=True,
        method="post",
        kwargs=lambda o: {"pk": o["webhook"].id},
    ),
    # The endpoint is active: re-enabling it is refused (400) after the permission checks.
    "api-webhook-enable": Rule(
        api(**{**OWNER_ADMIN_PAGE, "admin": 400}),
        api=True,
        method="post",
        kwargs=lambda o: {"pk": o["webhook"].id},
    ),
    "api-webhook-rotate-secret": Rule(
        api(**OWNER_ADMIN_PAGE), api=True, method="post", kwargs=lambda o: {"pk": o["webhook"].id}
    ),
    "api-webhook-redeliver": Rule(
        api(**{**OWNER_ADMIN_PAGE, "admin": 202}),
        api=True,
        method="post",
        kwargs=lambda o: {"pk": o["webhook"].id, "message_id": o["webhook_message"].id},
    ),
    "api-checkpoints": Rule(api(**ALL_MEMBERS), api=True),
    "api-ledger": Rule(api(**ALL_MEMBERS), api=True),
    "api-trust-root": Rule(api(**ALL_MEMBERS), api=True),
    "api-organisations": Rule(api(**ALL_MEMBERS), api=True),
    "api-key-events": Rule(api(**ALL_MEMBERS), api=True),
    "api-keys": Rule(api(**OWN_ORGANISATION), api=True),
    "api-key-entries": Rule(api(**OWN_ORGANISATION), api=True),
    "api-key-rotate": Rule(
        api(**KEY_CHANGE),
        api=True,
        method="post",
        kwargs=lambda o: {"key_id": o["key_id"]},
        data={"public_key": "ab" * 32},
    ),
    "api-key-revoke": Rule(
        api(**KEY_CHANGE),
        api=True,
        method="post",
        kwargs=lambda o: {"key_id": o["key_id"]},
        data={"reason": "test"},
    ),
    "api-consistency": Rule(
        api(**dict.fromkeys(ALL_MEMBERS, 400)), api=True, query="?first=1&second=2"
    ),
    # TAXII 2.1: the owning organisation's "organisation" collection and what it holds
    "taxii-discovery": Rule(api(**TAXII_MEMBERS), taxii=True),
    "taxii-api-root": Rule(api(**TAXII_MEMBERS), taxii=True),
    "taxii-collections": Rule(api(**TAXII_MEMBERS), taxii=True),
    **{
        name: Rule(api(**TAXII_OWNER), taxii=True, kwargs=lambda o: taxii_collection(o))
        for name in ("taxii-collection", "taxii-objects", "taxii-manifest", "taxii-all-receipts")
    },
    **{
        name: Rule(api(**TAXII_OWNER), taxii=True, kwargs=lambda o: taxii_object(o))
        for name in ("taxii-object", "taxii-versions", "taxii-receipts")
    },
    "taxii-status": Rule(api(**TAXII_OWNER), taxii=True, kwargs=lambda o: taxii_status(o)),
}


def taxii_collection(objects: dict) -> dict:
    from sharing.taxii.collections import collections_for

    organisation = objects["publication"].organisation
    return {"collection_id": collections_for(organisation)[0].id}


def taxii_object(objects: dict) -> dict:
    """The world's publication (to the organisation only), as the pipeline leaves it."""
    from django.utils import timezone

    Publication.objects.filter(pk=objects["publication"].pk).update(
        state="delivered", delivered_at=timezone.now()
    )
    return {**taxii_collection(objects), "object_id": objects["item"].stix_id}


def taxii_status(objects: dict) -> dict:
    from sharing.taxii.models import TaxiiStatus

    status = TaxiiStatus.objects.create(
        organisation=objects["publication"].organisation,
        publication=objects["publication"],
        collection_id=taxii_collection(objects)["collection_id"],
        total_count=1,
    )
    return {"status_id": str(status.id)}


def route_names() -> list[str]:
    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern):
                yield f"{namespace}:{pattern.name}" if namespace else str(pattern.name)

    return sorted(set(walk(get_resolver().url_patterns)))


def test_every_route_is_classified():
    unclassified = [
        name
        for name in route_names()
        if name not in ROUTES and not name.startswith(DELEGATED_PREFIXES)
    ]
    assert unclassified == [], f"classify these routes in ROUTES: {unclassified}"
    assert set(ROUTES) <= set(route_names()), "ROUTES names a route that no longer exists"


@pytest.fixture
def world(db, nordgrid, alice, publisher, bob, charlie, trust_group, staff):
    from portal.services.members import send_invitation

    other_group = TrustGroup.objects.create(name="Somewhere else")
    publication = Publication.objects.create(
        organisation=nordgrid, author=publisher, title="t", distribution="organisation", tlp="amber"
    )
    item = PublishedObject.objects.create(
        publication=publication, stix_id="indicator--1", stix_type="indicator", body={}, receipt={}
    )
    invitation, raw = send_invitation(
        organisation=nordgrid, email="new@nordgrid.example", role=10, invited_by=alice
    )
    token, _ = create_api_token(user=alice, name="t", scope="read")
    Deployment.objects.create(
        chain_id=31337, address="0x" + "ab" * 20, transaction_hash="0x" + "cd" * 32, block_number=1
    )
    from portal.models import JoinRequest
    from sharing.services import drafts, publishing
    from tests import stix_samples

    draft = drafts.create_draft(
        acting_user=publisher, title="Draft", objects=[stix_samples.indicator()]
    )
    owned = stix_samples.indicator()
    publishing.publish_bundle(
        acting_user=publisher,
        bundle=stix_samples.bundle(owned),
        distribution="organisation",
        tlp="amber",
    )

    from ledger import keys as ledger_keys
    from ledger.signing import generate_keypair

    own_key = ledger_keys.register_key(
        owner=nordgrid.stix_identity_id, public_key=generate_keypair()[1], registered_by="t"
    )
    webhook = WebhookEndpoint.objects.create(
        organisation=nordgrid, url="https://hooks.example/x", encrypted_secret="v1:x"
    )
    return {
        "key_id": own_key.key_id,
        "draft": draft,
        "draft_object": draft.items.get(),
        "owned_id": owned["id"],
        "users": {
            "outsider": charlie,
            "staff": staff,
            "reader": bob,
            "publisher": publisher,
            "admin": alice,
        },
        "publication": publication,
        "item": item,
        "delivery": Delivery.objects.create(publication=publication, organisation=nordgrid),
        "webhook": webhook,
        "webhook_message": WebhookMessage.objects.create(
            endpoint=webhook, event_type="webhook.test", state="failed", attempts=1
        ),
        "invitation": invitation,
        "invitation_token": raw,
        "bob": bob,
        "group": trust_group,
        "other_group": other_group,
        "group_request": TrustGroupJoinRequest.objects.create(
            group=other_group, organisation=charlie.organisation, requested_by=charlie
        ),
        "token": token,
        "join_request": JoinRequest.objects.create(
            organisation_name="X",
            sector="other",
            country="DE",
            contact_name="x",
            contact_email="x@x.example",
            justification="x" * 30,
        ),
    }


MATRIX = [(name, actor) for name in ROUTES for actor in ACTORS]


@pytest.mark.parametrize("name, actor", MATRIX, ids=[f"{n}-{a}" for n, a in MATRIX])
def test_the_route_answers_as_the_matrix_says(client, world, name, actor):
    rule = ROUTES[name]
    headers = {}
    if rule.taxii:
        headers["Accept"] = "application/taxii+json;version=2.1"
        if actor != "anonymous":
            user = world["users"][actor]
            _, raw = create_api_token(user=user, name="m", scope=max_token_scope(user))
            headers["Authorization"] = f"Bearer {raw}"
    elif actor != "anonymous":
        client.force_login(world["users"][actor])
    query = rule.query(world) if callable(rule.query) else rule.query
    url = reverse(name, kwargs=rule.kwargs(world)) + query
    response = getattr(client, rule.method)(url, data=rule.data, headers=headers)
    expected = rule.expect[actor]
    if expected == LOGIN:
        assert response.status_code == 302, response.status_code
        assert (
            reverse("login") in response["Location"] or "/accounts/login/" in response["Location"]
        )
    elif expected == DONE:
        assert response.status_code == 302, response.status_code
        assert "login" not in response["Location"]
    else:
        assert response.status_code == expected, (response.status_code, response.content[:300])
