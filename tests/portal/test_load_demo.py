from io import StringIO

import pytest
from django.core.management import call_command

from portal.models import Organisation, TrustGroup, User
from sharing.models import Publication

pytestmark = pytest.mark.django_db


def test_demo_data_loads_once_and_prints_the_same_logins(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first, second = StringIO(), StringIO()
    # The sample publication's seal task is fired on commit, which never comes here.
    call_command("load_demo", stdout=first)
    call_command("load_demo", stdout=second)
    assert first.getvalue() == second.getvalue()
    assert "analyst@nordgrid.example" in first.getvalue()
    assert "API token of analyst@nordgrid.example: ctp_" in first.getvalue()
    assert Organisation.objects.count() == 2
    assert TrustGroup.objects.get().members.count() == 2
    assert User.objects.filter(is_staff=True).count() == 1
    sample = Publication.objects.get()
    assert sample.organisation.name == "Alpine Energy CSIRT"
    assert sample.items.count() == 2
    assert (tmp_path / "demo-logins.txt").stat().st_mode & 0o077 == 0
