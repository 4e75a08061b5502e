"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts, parsed.

Addresses in `refuse` are answered 550 (a permanent failure, RFC 5321 section 4.2.2) at RCPT.
"""

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes = b""
    # The client's (host, port): messages over one SMTP connection share it.
    peer: tuple = ()

    def raw_header(self, name: str) -> str:
        """A header as it travelled, unfolded (RFC 5322 section 2.2.3), not decoded."""
        head = self.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
        for line in unfolded.split("\r\n"):
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        raise AssertionError(f"no {name} header")

    def part(self, content_type: str) -> str:
        """The decoded text of the message's part of this content type."""
        for part in self.message.walk():
            if part.get_content_type() == content_type and not part.is_multipart():
                return part.get_content()
        raise AssertionError(f"no {content_type} part in {self.message.get_content_type()}")

    @property
    def everything(self) -> str:
        """Headers and every decoded part, for "this text is nowhere in the message" checks."""
        texts = [f"{name}: {value}" for name, value in self.message.items()]
        for part in self.message.walk():
            if not part.is_multipart():
                texts.append(part.get_content())
        return "\n".join(texts)


@dataclass
class SmtpServer:
    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)

    def start(self) -> "SmtpServer":
        server = self

        class Handler:
            async def handle_RCPT(self, smtp, session, envelope, address, options):
                if address in server.refuse:
                    return "550 5.1.1 mailbox unavailable"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with server.lock:
                    server.messages.append(
                        Received(
                            envelope.mail_from,
                            list(envelope.rcpt_tos),
                            parsed,
                            envelope.content,
                            tuple(session.peer),
                        )
                    )
                return "250 Message accepted"

        self.lock = threading.Lock()
        # aiosmtpd checks readiness by connecting to its port, so it needs a fixed one.
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.recipients]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
        self.refuse.clear()

    def stop(self) -> None:
        self.controller.stop()
