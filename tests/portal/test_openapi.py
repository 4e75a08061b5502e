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


def test_ledger_info_says_clearly_when_no_contract_is_deployed(client, bob, db):
    client.force_login(bob)
    response = client.get("/api/ledger/")
    assert response.status_code == 503
    assert "no anchor contract deployed" in response.json()["errors"][0]
