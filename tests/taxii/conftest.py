"""Helpers of the TAXII tests: requests with TAXII headers, and publications taken through
the pipeline's outcome in-process (state, delivery time and inbox rows as the deliver step
leaves them) so the reading rules can be tested at set times without a worker. The real
pipeline is exercised by test_taxii_end_to_end.py."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from sharing.models import Delivery, PublicationState
from sharing.services import pipeline, publishing
from sharing.taxii.collections import collections_for
from tests import stix_samples

TAXII = "application/taxii+json;version=2.1"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


class Taxii:
    """A Django test client speaking TAXII as one user's token."""

    def __init__(self, client, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = {"Accept": TAXII, **headers}

    def get(self, path: str, **headers):
        return self.client.get(path, headers={**self.headers, **headers})

    def post(self, path: str, body, content_type: str = TAXII, **headers):
        data = body if isinstance(body, bytes) else json.dumps(body)
        return self.client.post(
            path, data=data, content_type=content_type, headers={**self.headers, **headers}
        )

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)


@pytest.fixture
def taxii_as(client, token_for):
    def make(user, **token_options) -> Taxii:
        return Taxii(client, token_for(user, **token_options))

    return make


def collection_url(organisation, alias: str) -> str:
    """The address of the organisation's collection with this alias."""
    found = {c.alias: c for c in collections_for(organisation)}
    return f"/taxii2/api/collections/{found[alias].id}/"


def deliver(publication, *, at: datetime):
    """What the deliver step leaves behind, at a chosen time."""
    for organisation in pipeline.recipients(publication):
        Delivery.objects.get_or_create(publication=publication, organisation=organisation)
    publication.state = PublicationState.DELIVERED
    publication.delivered_at = at
    publication.save(update_fields=["state", "delivered_at"])
    return publication


@pytest.fixture
def shared(db):
    """Publish `objects` as `user` and mark the publication delivered at T0 + minutes."""

    def share(user, *objects, minutes: int = 0, distribution="community", tlp="green", **kw):
        if distribution == "trust_groups" and "trust_group_ids" not in kw:
            kw["trust_group_ids"] = [g.id for g in user.organisation.trust_groups.all()]
        publication = publishing.publish_bundle(
            acting_user=user,
            bundle=stix_samples.bundle(*objects) if objects else stix_samples.bundle(),
            distribution=distribution,
            tlp=tlp,
            **kw,
        )
        return deliver(publication, at=T0 + timedelta(minutes=minutes))

    return share
