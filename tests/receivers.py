"""A real HTTP receiver on a free loopback port that records what it was sent.

It answers what a test tells it to (`answer`), so a test can take a sink "down" and bring
it back; it stands in for a chat robot, a webhook consumer or Slack. `refused_port` is
the opposite: a port where every connection is refused for as long as the test holds it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.perf_counter() on arrival

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    reply: bytes = b'{"errcode": 0, "code": 0}'

    def answer(self, status: int, reply: bytes | None = None) -> None:
        self.status = status
        if reply is not None:
            self.reply = reply


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                if state.status < 300:
                    arrived = time.perf_counter()
                    state.requests.append(Received(self.path, dict(self.headers), body, arrived))
                status, reply = state.status, state.reply
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port bound but not listening: a connection to it is refused at once.

    A port that was merely free when the test looked may be taken by then (a worker's web
    server, a broker); a client that reaches a server that does not answer its protocol
    waits for its timeout instead of failing, and a test of the failure path times out.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])
