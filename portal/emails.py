"""Emails of the portal: every message has subject, text and HTML templates under
templates/<app>/email/<name>_{subject.txt,body.txt,body.html}.

The subject and the text part are plain text, rendered without HTML escaping (a trust group
"Baltic & Alpine" reads as such, not "Baltic &amp; Alpine"); the HTML part is escaped as
every page is. Community mails are sent once the transaction that caused them commits.
"""

from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import Context
from django.template.loader import get_template, render_to_string


def render_text(name: str, context: dict[str, Any]) -> str:
    """A plain-text template, rendered without HTML escaping."""
    return get_template(name).template.render(Context(context, autoescape=False))


def compose(
    *,
    to: list[str],
    template: str,
    context: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> EmailMultiAlternatives:
    """The message of `template` ("<app>/email/<name>"): subject on one line, text and HTML."""
    context = {"site_url": settings.SITE_URL.rstrip("/"), **context}
    message = EmailMultiAlternatives(
        subject=" ".join(render_text(f"{template}_subject.txt", context).split()),
        body=render_text(f"{template}_body.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers=headers,
    )
    message.attach_alternative(render_to_string(f"{template}_body.html", context), "text/html")
    return message


def send(*, to: list[str], template: str, context: dict[str, Any]) -> None:
    """Send a community mail (templates/portal/email/<template>_…) once the transaction
    commits."""
    transaction.on_commit(compose(to=to, template=f"portal/email/{template}", context=context).send)
