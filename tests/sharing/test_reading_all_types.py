"""Every STIX 2.1 type renders on the object page, every property shown and every piece of
user-authored text escaped."""

import pytest
from django.test import Client

from sharing.models import Delivery, Publication, PublishedObject
from sharing.services.indexing import index_objects
from sharing.stix import object_version
from tests.stix_all_types import ALL_TYPES, all_types

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_type(publisher, alpine_admin):
    """One delivered object per type, stored as published (the pages read stored rows)."""
    publication = Publication.objects.create(
        organisation=publisher.organisation,
        author=publisher,
        title="all types",
        distribution="community",
        tlp="clear",
    )
    stored = PublishedObject.objects.bulk_create(
        PublishedObject(
            publication=publication,
            stix_id=body["id"],
            stix_type=body["type"],
            version=object_version(body),
            body=body,
        )
        for body in all_types().values()
    )
    index_objects(stored)
    Delivery.objects.create(publication=publication, organisation=alpine_admin.organisation)
    return {obj.stix_type: obj for obj in stored}


def test_the_fixtures_cover_every_stix_type(every_type):
    assert sorted(every_type) == sorted(ALL_TYPES)
    assert len(ALL_TYPES) == 42


@pytest.mark.parametrize("stix_type", ALL_TYPES)
def test_every_type_renders_escaped(every_type, alpine_admin, stix_type):
    obj = every_type[stix_type]
    client = Client()
    client.force_login(alpine_admin)
    response = client.get(f"/objects/{obj.id}/")
    assert response.status_code == 200
    content = response.content.decode()
    main = content[content.index("<main") :]
    assert "<script>window.__xss" not in main and "<img src=x" not in main
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in main
    assert 'href="javascript:' not in main
    for name in obj.body:
        if name not in ("type", "id", "spec_version"):
            assert f'title="{name}"' in main, f"{name} of {stix_type} is not shown"
    assert obj.stix_id in main
    if "external_references" in obj.body and stix_type != "vulnerability":
        assert "<code>T1566</code>" in main
        assert 'href="https://attack.mitre.org/techniques/T1566/"' in main
        assert "<code>javascript:alert(1)</code>" in main
    if "description" in obj.body and "\n" in obj.body["description"]:
        assert "<br>line two" in main
