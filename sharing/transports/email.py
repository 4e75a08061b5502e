"""Email: a rendered message handed to the configured mail backend (SMTP in production)."""

import smtplib

from django.core.mail import EmailMultiAlternatives, get_connection

from sharing.transports.base import Transport, TransportError

# SMTP reply codes 5xx are permanent failures (RFC 5321 section 4.2.1); 4xx are transient.
PERMANENT_SMTP_CODES = range(500, 600)


class EmailTransport(Transport):
    """Sends messages over one backend connection, opened on first use; `close()` ends it."""

    kind = "email"

    def __init__(self, connection=None) -> None:
        self.connection = connection or get_connection(fail_silently=False)

    def send(self, item: EmailMultiAlternatives) -> int:
        item.connection = self.connection
        try:
            # Opened here and kept until close(): Django's backend closes a connection that
            # send_messages opened itself, which would cost a connection (and a TLS handshake)
            # per message.
            self.connection.open()
            sent = item.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise TransportError(
                f"recipient refused: {exc.recipients}",
                permanent=all(code in PERMANENT_SMTP_CODES for code in codes),
                status_code=codes[0] if codes else None,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"mail server answered {exc.smtp_code}: {exc.smtp_error!r}",
                permanent=exc.smtp_code in PERMANENT_SMTP_CODES,
                status_code=exc.smtp_code,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()  # the connection may be broken: the next message opens a new one
            raise TransportError(f"mail server unreachable: {exc}") from None
        if not sent:
            raise TransportError("the mail backend did not accept the message")
        return 250

    def close(self) -> None:
        try:
            self.connection.close()
        except (smtplib.SMTPException, OSError):
            pass  # the connection is gone either way
