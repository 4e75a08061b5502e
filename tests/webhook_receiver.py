"""A webhook receiver on 127.0.0.1 that records what it gets; it can be told to fail first."""

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
                status = 503 if len(receiver.requests) <= receiver.fail_first else 204
                receiver.answered.append(status)
                self.send_response(status)
                self.end_headers()

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
