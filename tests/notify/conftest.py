"""A local HTTP endpoint for apprise's `json://` URLs: it records what arrives and can be told
to fail, or to hold a request unanswered (to kill the sender while a delivery is in flight)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Receiver:
    port: int = 0
    received: list[dict[str, Any]] = field(default_factory=list)
    """Every request body that arrived, answered or not."""
    acknowledged: list[dict[str, Any]] = field(default_factory=list)
    """The bodies answered with 200: the deliveries the sender was told about."""
    fail_next: int = 0
    hold_at: int | None = None
    """Hold the request with this 1-based number unanswered until `release` is set."""
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str = "notify") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.acknowledged) >= count, timeout)

    def messages(self) -> list[str]:
        return [body["message"] for body in self.acknowledged]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with receiver.arrived:
                receiver.received.append(body)
                number = len(receiver.received)
                fail = receiver.fail_next > 0
                receiver.fail_next -= int(fail)
            if number == receiver.hold_at:
                receiver.held.set()
                receiver.release.wait(30)
                return  # never answered: the sender was killed meanwhile
            self.send_response(500 if fail else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            if not fail:
                with receiver.arrived:
                    receiver.acknowledged.append(body)
                    receiver.arrived.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
