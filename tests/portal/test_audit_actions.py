"""Actions of the sharing side write their audit rows in their own transaction."""

import pytest
from django.contrib import admin

from portal.audit.models import AuditEvent
from sharing.models import WebhookEndpoint
from sharing.services import publishing, webhooks
from tests import stix_samples

pytestmark = pytest.mark.django_db


def test_publishing_records_the_publication(publisher, trust_group):
    publication = publishing.publish_bundle(
        acting_user=publisher,
        bundle=stix_samples.bundle(),
        distribution="trust_groups",
        tlp="amber",
        trust_group_ids=[trust_group.id],
    )
    event = AuditEvent.objects.get(action="publication_created")
    assert event.actor == publisher and event.organisation == publisher.organisation
    assert event.target == f"publication:{publication.pk}"
    assert event.detail["tlp"] == "amber" and event.detail["trust_groups"] == [trust_group.id]


def test_registering_and_removing_a_webhook_is_recorded(alice):
    endpoint, secret = webhooks.register_endpoint(
        acting_user=alice, url="http://127.0.0.1:9/hook", description="SOC"
    )
    endpoint_id = endpoint.pk
    webhooks.remove_endpoint(acting_user=alice, endpoint=endpoint)
    assert not WebhookEndpoint.objects.exists()

    events = AuditEvent.objects.filter(action__startswith="webhook_").order_by("seq")
    assert [(e.action, e.target, e.organisation) for e in events] == [
        ("webhook_registered", f"webhook:{endpoint_id}", alice.organisation),
        ("webhook_removed", f"webhook:{endpoint_id}", alice.organisation),
    ]
    assert all(secret not in str(e.detail) for e in events)


def test_the_admin_cannot_add_change_or_delete_events(rf, alice):
    from portal.models import User

    request = rf.get("/admin/portal/auditevent/")
    request.user = User.objects.create_superuser("root@portal.example", "pw")
    event = AuditEvent.objects.filter(organisation=alice.organisation).first()
    model_admin = admin.site._registry[AuditEvent]
    assert model_admin.has_view_permission(request, event)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
