"""Logins, failed logins and logouts go into the audit trail, never with a password."""

import json
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib.auth import authenticate, login
from django.contrib.sessions.backends.db import SessionStore
from django.shortcuts import resolve_url

from portal.audit import signals
from portal.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_login_is_recorded(client, alice):
    assert client.login(email=alice.email, password="pw-" + alice.email)
    event = AuditEvent.objects.filter(action="login").get()
    assert event.actor == alice and event.organisation == alice.organisation
    assert event.target == f"user:{alice.pk}"


def test_a_login_records_the_client_address(rf, alice):
    request = rf.post("/login/", REMOTE_ADDR="192.0.2.44")
    request.session = SessionStore()
    login(request, alice, backend="django.contrib.auth.backends.ModelBackend")
    assert AuditEvent.objects.filter(action="login").get().ip == "192.0.2.44"


def test_a_failed_login_names_the_account_but_not_the_password(alice):
    assert authenticate(username=alice.email, password="hunter2-wrong") is None
    event = AuditEvent.objects.filter(action="login_failed").get()
    assert event.actor is None
    assert event.detail == {"email": alice.email}
    assert event.organisation == alice.organisation  # so Nordgrid's admins see it
    assert "hunter2" not in json.dumps(event.detail)


def test_a_failed_login_for_nobody_belongs_to_no_organisation(rf, db):
    request = rf.post("/login/", REMOTE_ADDR="198.51.100.3")
    assert authenticate(request, email="nobody@example.com", password="hunter2-wrong") is None
    event = AuditEvent.objects.filter(action="login_failed").get()
    assert event.organisation is None and event.target == ""
    assert event.detail == {"email": "nobody@example.com"} and event.ip == "198.51.100.3"
    assert "hunter2" not in json.dumps(event.detail)


def test_a_wrong_password_on_the_login_page_is_recorded(client, alice, settings):
    settings.ACCOUNT_RATE_LIMITS = False  # repeated runs must not lock the address out
    client.post(
        resolve_url(django_settings.LOGIN_URL),
        # Django's form names the field "username", allauth's "login": send both.
        {"username": alice.email, "login": alice.email, "password": "hunter2-wrong"},
    )
    event = AuditEvent.objects.filter(action="login_failed").get()
    assert event.detail == {"email": alice.email}
    assert "hunter2" not in json.dumps(event.detail)


def test_a_logout_is_recorded(client, alice):
    client.force_login(alice)
    client.logout()
    event = AuditEvent.objects.filter(action="logout").get()
    assert event.actor == alice


def test_second_factors_added_and_removed_are_recorded(rf, alice):
    request = rf.post("/", REMOTE_ADDR="192.0.2.8")
    authenticator = SimpleNamespace(type="totp")
    signals.on_authenticator_added(None, request=request, user=alice, authenticator=authenticator)
    signals.on_authenticator_removed(None, request=request, user=alice, authenticator=authenticator)
    events = AuditEvent.objects.filter(action__in=["mfa_added", "mfa_removed"]).order_by("seq")
    assert [(e.action, e.actor, e.detail, e.ip) for e in events] == [
        ("mfa_added", alice, {"type": "totp"}, "192.0.2.8"),
        ("mfa_removed", alice, {"type": "totp"}, "192.0.2.8"),
    ]


@pytest.mark.skipif(not apps.is_installed("allauth.mfa"), reason="allauth.mfa is not installed")
def test_allauth_mfa_signals_are_connected(rf, alice):
    from allauth.mfa import signals as mfa_signals

    mfa_signals.authenticator_added.send(
        sender=None, request=rf.post("/"), user=alice, authenticator=SimpleNamespace(type="totp")
    )
    assert AuditEvent.objects.filter(action="mfa_added", actor=alice).exists()
