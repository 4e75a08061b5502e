"""Webhook receivers on 127.0.0.1: one that records what it gets (it can be told to fail
first, or to answer another status), and slow ones that never finish answering."""

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    fail_first: int = 0
    requests: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    # The status of a failing answer, and where to note each request ("<name>:received").
    fail_status: int = 503
    name: str = "receiver"
    events: "Events | None" = None

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                receiver.requests.append(
                    Received(
                        {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
                    )
                )
                failing = len(receiver.requests) <= receiver.fail_first
                status = receiver.fail_status if failing else 204
                receiver.answered.append(status)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
                if receiver.events is not None:
                    receiver.events.add(f"{receiver.name}:received")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cti"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Events:
    """What happened, in order, across receivers: ordering, not timing, is what tests assert."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[str] = []
        self.changed = threading.Condition(self._lock)

    def add(self, event: str) -> None:
        with self.changed:
            self.seen.append(event)
            self.changed.notify_all()

    def wait_for(self, event: str, timeout: float) -> bool:
        return self.wait_for_count(event, 1, timeout)

    def wait_for_count(self, event: str, count: int, timeout: float) -> bool:
        """Wait until `event` happened `count` times; False if it did not within `timeout`."""
        with self.changed:
            return self.changed.wait_for(lambda: self.seen.count(event) >= count, timeout)


@dataclass
class SlowReceiver:
    """A receiver that takes the request and then never finishes its answer: `hang` sends
    nothing at all, `trickle` sends its status line one byte every `interval` seconds. Each
    connection adds `<name>:accepted` to `events` when the request is read, and
    `<name>:dropped` when the client gave up on it (closed its side)."""

    name: str
    mode: str
    events: Events
    interval: float = 2.0

    def start(self) -> "SlowReceiver":
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks/slow"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                request += connection.recv(65536)
            head, _, body = request.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += connection.recv(65536)
            self.events.add(f"{self.name}:accepted")
            answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
            sent = 0
            connection.settimeout(self.interval)
            while not self.stopping.is_set():
                if self.mode == "trickle" and sent < len(answer) - 1:
                    connection.sendall(answer[sent : sent + 1])
                    sent += 1
                try:
                    if connection.recv(1) == b"":  # the client closed its side
                        self.events.add(f"{self.name}:dropped")
                        return
                except TimeoutError:
                    continue
        except OSError:
            if not self.stopping.is_set():
                self.events.add(f"{self.name}:dropped")

    def stop(self) -> None:
        self.stopping.set()
        self.listener.close()
        for connection in self.connections:
            connection.close()
