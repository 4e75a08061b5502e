"""The inbox and webhook transports against real rows and a real receiver on 127.0.0.1 (the
email transport is tested with the SMTP server in test_email_notices.py)."""

import pytest

from sharing.models import Delivery, Publication, WebhookMessage
from sharing.services import subscriptions
from sharing.transports.base import TransportError
from sharing.transports.inbox import InboxTransport
from sharing.transports.registry import transport_class
from tests.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def publication(publisher):
    return Publication.objects.create(
        organisation=publisher.organisation,
        author=publisher,
        title="t",
        distribution="organisation",
        tlp="green",
    )


def test_the_inbox_transport_stores_each_delivery_once(publication, alpine_admin):
    inbox = transport_class("inbox")()
    assert isinstance(inbox, InboxTransport)
    for _ in range(2):
        inbox.send(Delivery(publication=publication, organisation=alpine_admin.organisation))
    assert Delivery.objects.filter(publication=publication).count() == 1


def test_the_webhook_transport_posts_and_reports_failures_as_transport_errors(publication, alice):
    receiver = WebhookReceiver(fail_first=1).start()
    try:
        endpoint, _ = subscriptions.register_endpoint(acting_user=alice, url=receiver.url)
        message = WebhookMessage.objects.create(endpoint=endpoint, publication=publication)
        webhook = transport_class("webhook")()
        with pytest.raises(TransportError) as failed:
            webhook.send(message)
        assert failed.value.status_code == 503 and not failed.value.permanent
        assert webhook.send(message) == 204
        assert [r.headers["webhook-id"] for r in receiver.requests] == [message.message_id] * 2

        endpoint.url = "ftp://127.0.0.1/nowhere"  # no longer an allowed target
        message.endpoint = endpoint
        with pytest.raises(TransportError) as refused:
            webhook.send(message)
        assert refused.value.permanent
    finally:
        receiver.stop()
