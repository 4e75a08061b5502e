"""The publisher's publication page: objects and graph, each object's integrity, recipients,
the timeline with the time to share, and the self-refresh while work is pending."""

import re

import pytest
from django.test import Client

from ledger.models import Checkpoint
from sharing.models import Delivery
from sharing.services import pipeline
from tests import stix_samples
from tests.sharing.test_pipeline import publish, run_pipeline
from tests.sharing.test_reading import campaign_bundle

pytestmark = pytest.mark.django_db


def page_of(user, publication) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(f"/publications/{publication.id}/")
    assert response.status_code == 200
    return response.content.decode()


def test_a_received_publication_shows_what_is_pending_and_refreshes_itself(trust_group, publisher):
    publication = publish(publisher, stix_samples.bundle(*campaign_bundle()))
    content = page_of(publisher, publication)
    assert '<div id="auto-refresh" data-seconds="5" hidden></div>' in content
    assert '<script src="/static/js/auto-refresh.js" defer></script>' in content
    assert content.count("not sealed yet") == 3
    assert 'Time to share: <span class="muted">not delivered yet</span>' in content
    assert "<script>" not in content  # nothing inline: the CSP forbids it


def test_a_delivered_and_verified_publication_shows_its_integrity_and_timeline(
    chain, trust_group, publisher, alpine_admin
):
    publication = run_pipeline(publish(publisher, stix_samples.bundle(*campaign_bundle())))
    for delivery in Delivery.objects.all():
        assert pipeline.verify_delivery(delivery_id=delivery.id) == "verified"
    checkpoint = Checkpoint.objects.get()

    content = page_of(publisher, publication)
    assert 'id="auto-refresh"' not in content
    for obj in publication.items.all():
        panel = content[content.index(f'id="integrity-{obj.id}"') :]
        panel = panel[: panel.index("</section>")]
        assert obj.receipt["leaf"] in panel
        assert obj.receipt["signature"]["key_id"] in panel
        assert f"size {checkpoint.tree_size}, root <code>{bytes(checkpoint.root).hex()}" in panel
        assert f"<code>{checkpoint.transaction_hash}</code> in block {checkpoint.block_number}" in (
            panel
        )
        assert "✔ verified on chain" in panel
    time_to_share = (publication.delivered_at - publication.created_at).total_seconds()
    assert f"Time to share: <strong>{time_to_share:.3f} s</strong>" in content
    steps = re.findall(r"<li class=\"done\"><strong>([^<]+)</strong>", content)
    assert steps == [
        "Received",
        "Sealed (signed)",
        "Anchored on chain",
        "Delivered",
        "Verified by every recipient",
    ]
    assert "Alpine Energy CSIRT" in content


def test_the_graph_draws_objects_and_their_relationship_with_escaped_labels(trust_group, publisher):
    indicator, malware, relationship = campaign_bundle()
    malware["name"] = "<script>alert(1)</script>"
    publication = publish(publisher, stix_samples.bundle(indicator, malware, relationship))
    content = page_of(publisher, publication)
    svg = content[content.index("<svg") : content.index("</svg>")]
    assert svg.count('<a class="node') == 2  # the relationship is an edge, not a node
    assert svg.count('class="edge edge-relationship"') == 1
    assert ">indicates</text>" in svg
    assert "&lt;script&gt;alert(1)&lt;/scr" in svg and "<script>" not in svg
    for obj in publication.items.exclude(stix_type="relationship"):
        assert f'href="/objects/{obj.id}/"' in svg
