"""`lianban serve`: the hub's own HTTP service (the applicant's progress query, the page /query)."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer

from lianban.app.cli.output import JsonLines


def serve(host: Annotated[str, typer.Option(help="监听地址 (address to listen on)")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=0, max=65535, help="端口，0 为任一空闲端口 (0: any free port)")] = 0,
          openapi: Annotated[bool, typer.Option("--openapi", help="只打印 OpenAPI 文档 (print the OpenAPI "
                                                                 "document and exit)")] = False,
          as_json: JsonLines = False) -> None:
    """启动枢纽 HTTP 服务：办件进度查询 (serve the hub's HTTP API); first line: JSON with its URL."""
    from lianban.app.api import app_from_env, openapi_document
    from lianban.app.api.running import start

    if openapi:
        typer.echo(json.dumps(openapi_document(), ensure_ascii=False, indent=2))
        return
    running = start(app_from_env(), host, port)
    typer.echo(json.dumps({"url": running.url}))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    running.stop()
