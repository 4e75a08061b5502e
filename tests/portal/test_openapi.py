import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_openapi_schema_generates_without_warnings(tmp_path):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(target), "--fail-on-warn")
    schema = target.read_text()
    assert "/api/publications/" in schema
    assert "scheme: bearer" in schema


def test_the_schema_is_served_to_members_only(client, db):
    assert client.get("/api/schema/").status_code == 401
