"""The email channel of the fan-out benchmark (bench/fanout.py): its loopback SMTP server
counts what Django's SMTP backend hands it, per subscriber, and bad `--channels` stop the
benchmark before it starts anything."""

import smtplib
import sys
from unittest import mock

import pytest
from django.core.mail import EmailMessage, get_connection

from bench import fanout


@pytest.fixture
def channel():
    channel = fanout.EmailChannel()
    channel.addresses = {"a@bench.example", "b@bench.example"}
    yield channel
    channel.release()


def send(channel: fanout.EmailChannel, *recipients: str) -> None:
    environment = channel.environment()
    connection = get_connection(
        environment["EMAIL_BACKEND"],
        host=environment["EMAIL_HOST"],
        port=int(environment["EMAIL_PORT"]),
        use_tls=False,
        fail_silently=False,
    )
    with connection:
        for recipient in recipients:
            EmailMessage(
                "New", "body", "portal@localhost", [recipient], connection=connection
            ).send()


def test_mail_through_django_smtp_backend_counts_once_per_subscriber(channel):
    assert channel.start_run(hanging=10) == 2  # hanging endpoints hold up no mail
    assert channel.arrived() == (0, None)

    send(channel, "A@bench.example", "a@bench.example", "someone@else.example")

    count, last = channel.arrived()
    assert count == 1  # the second mail to a@ and the stranger are not subscribers' first
    assert last is not None

    send(channel, "b@bench.example")
    assert channel.arrived()[0] == 2
    assert channel.start_run(hanging=0) == 2
    assert channel.arrived() == (0, None)


def test_environment_points_the_workers_at_the_plain_smtp_server(channel):
    environment = channel.environment()
    assert environment["EMAIL_USE_TLS"] == "false"
    with smtplib.SMTP("127.0.0.1", int(environment["EMAIL_PORT"]), timeout=5) as client:
        assert client.noop()[0] == 250


@pytest.mark.parametrize("channels", ["webhook,sms", " , "])
def test_unknown_channel_is_refused_before_anything_starts(channels, capsys):
    argv = ["bench.fanout", "--channels", channels]
    with (
        mock.patch.object(sys, "argv", argv),
        mock.patch.object(fanout, "start_stack") as start_stack,
        mock.patch.object(fanout, "MailReceiver") as receiver,
        pytest.raises(SystemExit) as exit,
    ):
        fanout.main()
    assert exit.value.code == 2
    assert "--channels: unknown" in capsys.readouterr().err
    start_stack.assert_not_called()
    receiver.assert_not_called()
