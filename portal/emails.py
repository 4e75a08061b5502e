"""Emails of the community: every message has subject, text and HTML templates under
templates/portal/email/<name>_{subject.txt,body.txt,body.html}, and is sent once the
transaction that caused it commits."""

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string


def send(*, to: list[str], template: str, context: dict[str, Any]) -> None:
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    prefix = f"portal/email/{template}"
    subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{prefix}_body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(render_to_string(f"{prefix}_body.html", context), "text/html")
    transaction.on_commit(message.send)
