"""allauth's own emails (password reset, address confirmation) use the portal's subject, text
and HTML templates (templates/account/email/), through a real SMTP server on 127.0.0.1."""

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_password_reset_mail_has_the_portal_s_subject_text_and_html(smtp, bob):
    response = Client().post("/accounts/password/reset/", {"email": bob.email})
    assert response.status_code == 302

    [mail] = smtp.to(bob.email)
    assert mail.message["Subject"] == "[Energy CTI] Reset your password"
    assert mail.message.get_content_type() == "multipart/alternative"
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert "asked to reset the password of the account bob@nordgrid.example" in text
    assert "/accounts/password/reset/key/" in text
    assert '<a href="http' in html and "Choose a new password</a>" in html
    assert "nobody at the portal will ever ask you for your password" in text


def test_the_address_confirmation_mail_has_the_portal_s_templates(smtp, bob, rf):
    from allauth.account.adapter import get_adapter
    from allauth.account.models import EmailConfirmationHMAC
    from allauth.core import context

    address = EmailAddress.objects.create(
        user=bob, email="bob.o'neil&co@nordgrid.example", verified=False
    )
    request = rf.get("/")
    request.user = bob
    with context.request_context(request):
        get_adapter(request).send_confirmation_mail(
            request, EmailConfirmationHMAC(address), signup=False
        )

    [mail] = smtp.to(address.email)
    assert mail.message["Subject"] == "[Energy CTI] Confirm your email address"
    # Plain text reads as written; the HTML part is escaped.
    assert "confirm that bob.o'neil&co@nordgrid.example is your address" in mail.part("text/plain")
    assert "bob.o&#x27;neil&amp;co@nordgrid.example" in mail.part("text/html")
