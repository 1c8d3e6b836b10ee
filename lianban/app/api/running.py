"""Run the hub's application under uvicorn in a thread, and know its URL once it listens (port 0: any free)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

from lianban.errors import ConfigError

START_TIMEOUT = 15.0


@dataclass
class Running:
    """A started server: its base URL, and how to stop it."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start(app: Any, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serve `app` on `host`:`port` in a daemon thread; ConfigError when it cannot listen there."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                           lifespan="off", server_header=False))
    thread = threading.Thread(target=server.run, daemon=True, name=f"lianban-serve-{port}")
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise ConfigError(f"无法在 {host}:{port} 上启动服务（端口被占用或地址不可用），请换用 --port "
                              f"(cannot listen on {host}:{port}: port in use or address unavailable)")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return Running(f"http://{shown}:{bound}", server, thread)
