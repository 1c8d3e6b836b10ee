"""The naive baseline: the exchange as a competent quick script would do it, to measure the hub against.

One HTTP POST per record per department it goes to, over one keep-alive ``requests.Session`` (TCP_NODELAY is
urllib3's default), to a small uvicorn server that stores each record with one SQLite commit and answers a
receipt. No batching, no sealing, no ledger: a lower bound on what "just send it" costs, not a straw man (on the
2-core reference machine ≈ 450–470 records/s per department when the issue was filed; a much lower figure means
the baseline is broken, not that the hub is fast). Its SQLite is in WAL mode, which a careful script sets:
SQLite's default rollback journal makes it slower (890–900 against 1,590–1,600 POSTs/s here on 2026-12-05) and
the hub's ratio larger, so the stronger baseline is kept.

    python -m bench.naive serve --folder DIR [--port N]   the receiving server, its SQLite in DIR; first stdout
                                                          line {"url": ...}
    send(url, records)                                    the client loop; (deliveries, seconds)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import requests
from fastapi import FastAPI, Request


def create_app(db_path: Path) -> Any:
    """The receiving end: ``POST /records/{department}`` stores one record and commits."""
    db = sqlite3.connect(db_path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS received (department TEXT, case_no TEXT, item_code TEXT, body TEXT)")
    lock = threading.Lock()
    app = FastAPI()

    @app.post("/records/{department}")
    async def receive(department: str, request: Request) -> dict[str, Any]:
        record = await request.json()
        with lock:
            db.execute("INSERT INTO received VALUES (?,?,?,?)",
                       (department, record["case_no"], record["item_code"], json.dumps(record)))
            db.commit()
        return {"accepted": True, "case_no": record["case_no"]}

    return app


def send(url: str, deliveries: Iterable[tuple[str, Mapping[str, Any]]]) -> tuple[int, float]:
    """POST each (department, record) in turn; (how many, seconds)."""
    sent, started = 0, time.perf_counter()
    with requests.Session() as session:
        for department, record in deliveries:
            answer = session.post(f"{url}/records/{department}", json=record, timeout=30)
            answer.raise_for_status()
            sent += 1
    return sent, time.perf_counter() - started


def serve(port: int, folder: Path) -> None:
    """Serve until killed; the database goes in `folder` (the caller's to clear: a killed server cleans nothing)."""
    import uvicorn

    folder.mkdir(parents=True, exist_ok=True)
    config = uvicorn.Config(create_app(folder / "naive.db"), host="127.0.0.1", port=port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    print(json.dumps({"url": f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"}), flush=True)
    thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.naive")
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args(argv)
    serve(args.port, args.folder)


if __name__ == "__main__":
    main(sys.argv[1:])
