"""Malformed input of any JSON type gets a 4xx with a clear message, in the one error shape
the schema documents; nothing is written."""

import pytest
import yaml
from django.core.management import call_command

from sharing.models import Publication

pytestmark = pytest.mark.django_db

ENVELOPE = {"distribution": "organisation", "tlp": "green"}


@pytest.mark.parametrize(
    "bundle, message",
    [
        ([], "bundle: Expected a dictionary of items"),
        (5, "bundle: Expected a dictionary of items"),
        ("bundle", "bundle: Expected a dictionary of items"),
        (None, "bundle: This field may not be null."),
        ({"type": "bundle", "objects": [{"type": None, "id": 3}]}, '"type" and "id" must be'),
        (
            {"type": "bundle", "objects": [{"type": "indicator", "id": "x", "labels": 5}]},
            "the bundle could not be validated",
        ),
    ],
)
def test_a_malformed_bundle_is_a_400_with_a_message(client, publisher, token_for, bundle, message):
    response = client.post(
        "/api/publications/",
        {**ENVELOPE, "bundle": bundle},
        content_type="application/json",
        headers=token_for(publisher),
    )
    assert response.status_code == 400, response.content
    assert any(message in error for error in response.json()["errors"]), response.json()
    assert not Publication.objects.exists()


@pytest.mark.parametrize("body", ["[]", "5", '"x"', "null", "true"])
def test_a_body_that_is_not_an_object_is_a_400(client, publisher, token_for, body):
    response = client.post(
        "/api/publications/", body, content_type="application/json", headers=token_for(publisher)
    )
    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_missing_bundle_is_named(client, publisher, token_for):
    response = client.post(
        "/api/publications/",
        ENVELOPE,
        content_type="application/json",
        headers=token_for(publisher),
    )
    assert response.json()["errors"] == ["bundle: This field is required."]


@pytest.mark.parametrize("page", ["", "0", "-1", "abc"])
def test_a_page_number_must_be_a_positive_integer(client, bob, token_for, page):
    response = client.get(f"/api/inbox/?page={page}", headers=token_for(bob))
    assert response.status_code == 400
    assert response.json()["errors"] == ["page: a positive integer is required"]


def test_errors_share_one_shape(client, bob, token_for):
    unauthenticated = client.get("/api/inbox/")
    unknown = client.get("/api/publications/999999/", headers=token_for(bob))
    no_route = client.get("/api/nothing-here/", headers=token_for(bob))
    for response, status in ((unauthenticated, 401), (unknown, 404), (no_route, 404)):
        assert response.status_code == status
        body = response.json()
        assert isinstance(body["errors"], list) and body["errors"]
        assert body["detail"] == " ".join(body["errors"])


def test_every_operation_documents_its_errors(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target), "--fail-on-warn")
    schema = yaml.safe_load(target.read_text())
    assert schema["components"]["schemas"]["Error"]["required"] == ["errors"]
    operations = {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }
    for (method, path), operation in operations.items():
        statuses = set(operation["responses"])
        assert "429" in statuses, (method, path)
        if path != "/api/health/":
            assert {"401", "403"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if method == "POST":
            assert {"400", "413", "415"} <= statuses, (method, path)
    assert "503" in operations[("GET", "/api/ledger/")]["responses"]
    consistency = operations[("GET", "/api/ledger/consistency/")]
    first = next(p for p in consistency["parameters"] if p["name"] == "first")
    assert first["schema"]["minimum"] == 1 and "at most `second`" in first["description"]
    bundle = schema["components"]["schemas"]["PublishInput"]["properties"]["bundle"]
    assert bundle["type"] == "object" and bundle["required"] == ["type", "id", "objects"]
    assert schema["components"]["securitySchemes"]["apiToken"]["scheme"] == "bearer"
