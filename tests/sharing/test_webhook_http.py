"""The bounded POST of outgoing webhooks (sharing/services/webhook_http.py) against receivers
on 127.0.0.1 that misbehave: trickling, hanging, huge bodies, redirects. The wall-time bound is
checked with an injected clock, never with long real waits."""

import itertools
import socket
import threading

import pytest

from sharing.services import webhook_http
from sharing.services.webhook_http import DeadlineExceeded, Target, post


def target_for(port: int) -> Target:
    return Target(scheme="http", hostname="127.0.0.1", port=port, address="127.0.0.1", path="/in")


class RawServer:
    """Accepts connections and runs `answer(connection)` for each, after reading the request."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.requests = 0
        threading.Thread(target=self._run, daemon=True).start()

    @property
    def port(self) -> int:
        return self.listener.getsockname()[1]

    def _run(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            self.requests += 1
            try:
                self.answer(connection)
            except OSError:
                pass

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def server():
    started = []

    def start(answer) -> RawServer:
        started.append(RawServer(answer))
        return started[-1]

    yield start
    for running in started:
        running.close()


class StepClock:
    """A clock that moves `step` seconds every time it is read."""

    def __init__(self, step: float) -> None:
        self.reads = itertools.count()
        self.step = step

    def __call__(self) -> float:
        return next(self.reads) * self.step


def test_a_trickling_answer_is_cut_at_the_wall_time_bound(server):
    stop = threading.Event()

    def trickle(connection: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\n" + b"x-padding: " + b"a" * 10_000:
            if stop.is_set():
                return
            connection.sendall(bytes([byte]))
            stop.wait(0.001)

    receiver = server(trickle)
    clock = StepClock(step=1.0)  # every read of the answer "takes" a second
    try:
        with pytest.raises(DeadlineExceeded, match="within 10 s"):
            post(
                target_for(receiver.port),
                b"{}",
                {},
                timeout=10,
                max_response_bytes=4096,
                clock=clock,
            )
    finally:
        stop.set()
    # Each read waits for what is left of the deadline: about ten reads, not ten thousand.
    assert next(clock.reads) <= 15


def test_a_receiver_that_never_answers_is_given_up_at_the_bound(server):
    release = threading.Event()
    receiver = server(lambda connection: release.wait(30))
    try:
        with pytest.raises(DeadlineExceeded):
            post(target_for(receiver.port), b"{}", {}, timeout=0.3, max_response_bytes=4096)
    finally:
        release.set()
    assert receiver.requests == 1


def test_only_the_first_bytes_of_a_huge_body_are_read(server):
    sent = []

    def huge(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n")
        chunk = b"z" * 65536
        for _ in range(200):  # far less than announced: the client must not wait for the rest
            connection.sendall(chunk)
            sent.append(len(chunk))

    receiver = server(huge)
    answer = post(target_for(receiver.port), b"{}", {}, timeout=10, max_response_bytes=4096)
    assert answer.status == 200
    assert answer.body == b"z" * 4096


def test_a_redirect_is_returned_not_followed(server):
    followed = server(lambda c: c.sendall(b"HTTP/1.1 204 No Content\r\n\r\n"))
    location = f"http://127.0.0.1:{followed.port}/elsewhere"
    redirect = server(
        lambda c: c.sendall(
            f"HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\n"
            "content-length: 0\r\n\r\n".encode()
        )
    )
    answer = post(target_for(redirect.port), b"{}", {}, timeout=10, max_response_bytes=4096)
    assert answer.status == 307
    assert followed.requests == 0


def test_the_deadline_counts_from_its_start():
    clock = StepClock(step=4.0)
    deadline = webhook_http.Deadline(10, clock=clock)  # starts at 0
    assert deadline.remaining() == 6  # read at 4
    assert deadline.remaining() == 2  # read at 8
    with pytest.raises(DeadlineExceeded):
        deadline.remaining()  # read at 12


def test_a_tls_handshake_that_never_completes_is_given_up_at_the_bound():
    listener = socket.create_server(("127.0.0.1", 0))
    held = []
    threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
    target = Target(
        scheme="https",
        hostname="hooks.partner.test",
        port=listener.getsockname()[1],
        address="127.0.0.1",
        path="/in",
    )
    try:
        with pytest.raises(DeadlineExceeded):
            post(target, b"{}", {}, timeout=0.3, max_response_bytes=4096)
        assert held  # the connection was made: it is the handshake that hung
    finally:
        listener.close()
        for connection, _ in held:
            connection.close()
