"""A real HTTP LWA endpoint on a free local port, for tests whose clients live in other processes."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.unit.spapi.fakes import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN


class TokenServer:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.issued = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with outer._lock:
                    outer.issued += 1
                    n = outer.issued
                time.sleep(outer.delay)
                ok = form.get("client_secret") == CLIENT_SECRET and form.get("refresh_token") == REFRESH_TOKEN
                body = (
                    {"access_token": f"Atza|SENTINEL-access-{n}", "token_type": "bearer", "expires_in": 3600}
                    if ok
                    else {"error": "invalid_grant", "error_description": "bad grant"}
                )
                data = json.dumps(body).encode()
                self.send_response(200 if ok else 400)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/auth/o2/token"


@contextlib.contextmanager
def serve(delay: float = 0.0) -> Iterator[TokenServer]:
    server = TokenServer(delay)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def fetch_token_in_process(token_url: str, redis_url: str, prefix: str) -> str:
    """Runs in a child process: a fresh process cache, the shared Redis store."""
    from spapi.auth import LwaTokenProvider, RedisTokenStore

    return LwaTokenProvider(
        CLIENT_ID,
        CLIENT_SECRET,
        refresh_token=REFRESH_TOKEN,
        token_url=token_url,
        store=RedisTokenStore(redis_url, prefix=prefix),
    ).get_token()
