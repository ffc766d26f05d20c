"""Run the real sandbox server (uvicorn) on a free local port, for tests and scripts.

with serve(Settings(data_dir=tmp, rate_scale=100)) as base_url:
    ...  # point an SP-API client at base_url and base_url + "/auth/o2/token"
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

from .app import create_app
from .settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(settings: Settings, *, port: int | None = None, startup_timeout: float = 15.0) -> Iterator[str]:
    """Start the sandbox in a thread; yield its base URL; stop it on exit."""
    import uvicorn

    port = port or free_port()
    settings = settings.replace(host="127.0.0.1", port=port)
    config = uvicorn.Config(
        create_app(settings), host=settings.host, port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"sandbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the sandbox did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
