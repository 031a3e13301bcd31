"""A real local HTTP server that answers like a price provider, one scripted reply at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    delay_s: float = 0.0
    content_type: str = "application/json"


@dataclass
class Provider:
    base_url: str
    replies: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    requests: list[dict[str, object]] = field(default_factory=list)

    def answer(self, *replies: Reply) -> None:
        self.replies.extend(replies)


@pytest.fixture
def provider() -> Iterator[Provider]:
    state: dict[str, Provider] = {}

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            p = state["p"]
            length = int(self.headers.get("Content-Length") or 0)
            url = urlsplit(self.path)
            p.requests.append({
                "method": self.command, "path": url.path, "query": parse_qs(url.query),
                "headers": dict(self.headers), "body": self.rfile.read(length),
            })
            reply = p.replies.pop(0) if p.replies else p.default
            if reply.delay_s:
                time.sleep(reply.delay_s)  # a slow provider, not test synchronisation
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = _serve
        do_POST = _serve

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["p"] = Provider(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["p"]
    server.shutdown()
    server.server_close()
