"""What the loopback HTTP servers share: the tests' (udata_server.py, register_server.py) and the
benchmark's (bench/national_refresh.py).

Standard library only: bench imports it without pytest or the tests' fixtures.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from socketserver import BaseServer
from typing import Optional


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler on kept-alive HTTP/1.1 connections that writes no console log."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm and the client's delayed
    # ACK, each answer of a kept-alive connection would wait 40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *args):  # each server keeps its own request log
        pass

    def _send(self, status: int, body: bytes, content_type: str, headers: Optional[dict] = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def serve_in_thread(httpd: BaseServer, poll_interval: float = 0.5) -> Callable[[], None]:
    """Serve `httpd` on a daemon thread; returns stop(), which shuts it down and closes its socket."""
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True)
    thread.start()

    def stop():
        httpd.shutdown()
        httpd.server_close()

    return stop


@contextmanager
def running(start: Callable[..., tuple], *args, **kwargs) -> Iterator:
    """The server of `start(*args, **kwargs)` (which returns (server, stop)) until the block ends."""
    server, stop = start(*args, **kwargs)
    try:
        yield server
    finally:
        stop()
