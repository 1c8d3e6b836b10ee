"""The department simulators for a trial run in containers (the compose file's ``trial`` profile).

``lianban simulate`` serves every simulated department on 127.0.0.1 at a free port, which the Airflow workers
in other containers cannot reach. This wrapper starts the same simulators at fixed loopback ports, relays
``0.0.0.0:PUBLIC_BASE+i`` to each of them (a plain TCP relay: the medical WSDL's soap:address follows the Host
header, so it names this container), and writes the departments' Airflow connections, pointing at
``LIANBAN_TRIAL_HOST``, to ``<LIANBAN_HOME>/simulators/airflow-connections.json`` for ``airflow connections
import``. Credentials are the simulators' own (``credentials.json``, mode 0600) and are never printed.

Trial only: it needs ``simulators/`` on ``PYTHONPATH`` and the departments' private keys in the keys folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from lianban.app.config import Paths
from lianban.app.demo import connections
from lianban.keys.files import write_private_text
from simulators.runner import endpoints, start

PUBLIC_BASE = 9100  # department i is published at PUBLIC_BASE + i (the compose healthcheck probes the first)
LOOPBACK_BASE = 19100
CONNECTIONS_FILE = "airflow-connections.json"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


def _relay(target_port: int) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer),
                             return_exceptions=True)
    return handle


def airflow_connections(urls: dict[str, str], home: Path) -> dict[str, dict[str, object]]:
    """``dept_<name>`` → the connection Airflow imports (same fields as the ``AIRFLOW_CONN_DEPT_*`` JSON)."""
    return {name.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value)
            for name, value in connections(urls, home).items()}


async def main() -> None:
    paths, host = Paths.from_env(), os.environ.get("LIANBAN_TRIAL_HOST", "simulators")
    step = float(os.environ.get("LIANBAN_TRIAL_STEP", "60"))
    names = endpoints()
    ports = {name: LOOPBACK_BASE + i for i, name in enumerate(names)}
    sim = start(paths.home, paths.keys_dir, paths.existing_frontend(), step, ports=ports)
    public = {name: f"http://{host}:{PUBLIC_BASE + i}" for i, name in enumerate(names)}
    public |= {f"{n}_wsdl": sim.urls[f"{n}_wsdl"].replace(sim.urls[n], public[n]) for n in names
               if f"{n}_wsdl" in sim.urls}
    relays = [await asyncio.start_server(_relay(ports[n]), "0.0.0.0", PUBLIC_BASE + i) for i, n in enumerate(names)]
    target = paths.home / "simulators" / CONNECTIONS_FILE
    write_private_text(target, json.dumps(airflow_connections(public, paths.home), indent=2) + "\n")
    print(json.dumps({"departments": {n: public[n] for n in names}, "connections": str(target)}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    for relay in relays:
        relay.close()
    sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
