"""The HTTP side of outgoing webhooks: where a POST may go, and a POST that trusts its receiver
with nothing.

A receiver is someone else's server. It may resolve to an internal address (SSRF), answer one
byte every few seconds, never answer, send a body of gigabytes or redirect elsewhere. So:
- the URL's name is resolved once and every address checked (`check_target_url`); the POST
  connects to that checked address, never resolving the name again (DNS rebinding);
- one POST is bounded in wall time as a whole (`Deadline`): connecting, TLS, sending, and every
  read of the answer get only what is left of it, however the receiver trickles;
- at most `max_response_bytes` of the body are read, never the whole body;
- redirects are never followed (the caller treats 3xx as a failure).
No database here: this module knows nothing of endpoints or messages.
"""

import http.client
import io
import ipaddress
import select
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

# --- Targets -----------------------------------------------------------------------------

# IPv6 ranges that carry an IPv4 address in their low 32 bits: NAT64 (RFC 6052 well-known
# prefix 64:ff9b::/96) and IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291 2.5.5.1).
# The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) translates to whatever the operator's
# network chooses, so it is never public.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is one of the translation or
    tunnelling forms: IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002::/16, RFC 3056), NAT64
    (64:ff9b::/96, RFC 6052) or IPv4-compatible (::a.b.c.d)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be sent to `address`: a global address whose embedded IPv4
    address, if it has one (see `embedded_ipv4`), is global too. Such an IPv6 address reaches
    the IPv4 host it embeds through a translator or tunnel, so it is exactly as private as that
    host; local-use NAT64 (64:ff9b:1::/48) is always private."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _NAT64_LOCAL:
            return False
        inner = embedded_ipv4(address)
        if inner is not None:
            # NAT64 and 6to4 prefixes are global in Python's table; the host behind them
            # decides. IPv4-compatible and mapped addresses are never global themselves.
            return inner.is_global
    return address.is_global


@dataclass(frozen=True)
class Target:
    """Where a webhook POST goes: the address it was checked against, and the names to send."""

    scheme: str
    hostname: str
    port: int
    address: str
    path: str

    @property
    def host_header(self) -> str:
        name = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        default_port = 443 if self.scheme == "https" else 80
        return name if self.port == default_port else f"{name}:{self.port}"


def check_target_url(url: str, *, allow_private: bool) -> Target:
    """Resolve a webhook URL once and refuse it when it is not http(s), carries credentials, or
    any of its addresses is not public (`is_public_address`) unless `allow_private`.

    The error never says what a name resolved to: a registration form must not become a way
    to map the portal's internal network.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("The webhook URL must be an http:// or https:// URL with a host.")
    if parts.username or parts.password:
        raise ValidationError("The webhook URL must not carry credentials.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError("The webhook URL has an invalid port.") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise ValidationError(f"The host {parts.hostname} cannot be resolved.") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not allow_private and not all(is_public_address(address) for address in addresses):
        raise ValidationError(
            f"The host {parts.hostname} is not allowed: it resolves to a non-public address."
        )
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        hostname=parts.hostname,
        port=port,
        address=str(addresses[0]),
        path=f"{path}?{parts.query}" if parts.query else path,
    )


# --- A bounded POST ----------------------------------------------------------------------


class DeadlineExceeded(TimeoutError):
    """The POST used up its wall time."""


class Deadline:
    """A wall-time budget for one POST, read from `clock` (injectable for tests)."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.ends_at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left; raises DeadlineExceeded once none are."""
        left = self.ends_at - self.clock()
        if left <= 0:
            raise DeadlineExceeded(f"no complete answer within {self.seconds:g} s")
        return left


class _DeadlineReader(io.RawIOBase):
    """The socket's read side: every read waits at most for what is left of the deadline, so
    a receiver trickling its status line, headers or body byte by byte is cut at the deadline
    whatever the pace."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._sock.settimeout(self._deadline.remaining())
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            raise DeadlineExceeded(
                f"no complete answer within {self._deadline.seconds:g} s"
            ) from None


class _DeadlineSocket:
    """What http.client needs of a socket (sendall, makefile, close), under a deadline."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self._sock = sock
        self._deadline = deadline

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self._sock.settimeout(self._deadline.remaining())
            try:
                sent = self._sock.send(view)
            except TimeoutError:
                raise DeadlineExceeded(
                    f"could not send within {self._deadline.seconds:g} s"
                ) from None
            view = view[sent:]

    def makefile(self, mode: str = "rb", *args, **kwargs) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def close(self) -> None:
        self._sock.close()


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to the checked address of a target, under a deadline; TLS still
    verifies the certificate for the target's name (SNI and hostname check)."""

    def __init__(self, target: Target, deadline: Deadline, context: ssl.SSLContext | None):
        super().__init__(target.address, target.port)
        self._target = target
        self._deadline = deadline
        self._context = context

    def connect(self) -> None:
        sock = socket.create_connection(
            (self._target.address, self._target.port), timeout=self._deadline.remaining()
        )
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._context is not None:
                sock = self._context.wrap_socket(
                    sock, server_hostname=self._target.hostname, do_handshake_on_connect=False
                )
                _handshake(sock, self._deadline)
        except BaseException:
            sock.close()
            raise
        self.sock = _DeadlineSocket(sock, self._deadline)


def _handshake(sock: ssl.SSLSocket, deadline: Deadline) -> None:
    """The TLS handshake, step by step, each wait given only what is left of the deadline: a
    server trickling its handshake cannot stretch it (one blocking do_handshake would wait up
    to the timeout for every record)."""
    sock.setblocking(False)
    try:
        while True:
            try:
                sock.do_handshake()
                return
            except ssl.SSLWantReadError:
                ready = select.select([sock], [], [], deadline.remaining())[0]
            except ssl.SSLWantWriteError:
                ready = select.select([], [sock], [], deadline.remaining())[1]
            if not ready:
                deadline.remaining()  # raises once the time is up
    finally:
        sock.setblocking(True)


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: its status and at most the first bytes of its body."""

    status: int
    body: bytes


def post(
    target: Target,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    max_response_bytes: int,
    clock: Callable[[], float] = time.monotonic,
) -> Answer:
    """POST `body` to the checked target within `timeout` seconds of wall time in all, and read
    at most `max_response_bytes` of the answer's body. Never follows a redirect (the 3xx is
    returned). Raises OSError (DeadlineExceeded, a refused connection, a TLS failure, ...) or
    http.client.HTTPException (a malformed answer)."""
    deadline = Deadline(timeout, clock=clock)
    context = ssl.create_default_context() if target.scheme == "https" else None
    connection = _PinnedConnection(target, deadline, context)
    try:
        # A "host" header keeps http.client from adding its own (the address).
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.read(max_response_bytes))
    finally:
        connection.close()
