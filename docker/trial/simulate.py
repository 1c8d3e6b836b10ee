"""The department simulators for a trial run in containers (the compose file's ``trial`` profile).

``lianban simulate`` serves every simulated department on 127.0.0.1 at a free port, which the Airflow workers
in other containers cannot reach. This wrapper starts the same simulators at fixed loopback ports
(``LIANBAN_TRIAL_LOOPBACK_PORT`` + i), relays ``LIANBAN_TRIAL_BIND`` (default ``0.0.0.0``) port
``LIANBAN_TRIAL_PUBLIC_PORT + i`` to each of them (plain
TCP: the medical WSDL's soap:address follows the Host header, so it names this container), and writes the
departments' Airflow connections, pointing at ``LIANBAN_TRIAL_HOST``, to
``<LIANBAN_HOME>/simulators/airflow-connections.json`` (mode 0600) for ``airflow connections import``.
Credentials are the simulators' own (``credentials.json``) and are never printed. First stdout line: JSON with
each department's public URL and the connections file.

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
LOOPBACK_BASE = 19100  # where the simulators themselves listen, on 127.0.0.1
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
    public_base = int(os.environ.get("LIANBAN_TRIAL_PUBLIC_PORT", PUBLIC_BASE))
    loopback_base = int(os.environ.get("LIANBAN_TRIAL_LOOPBACK_PORT", LOOPBACK_BASE))
    names = endpoints()
    ports = {name: loopback_base + i for i, name in enumerate(names)}
    sim = start(paths.home, paths.keys_dir, paths.existing_frontend(), step, ports=ports)
    public = {name: f"http://{host}:{public_base + i}" for i, name in enumerate(names)}
    public |= {f"{n}_wsdl": sim.urls[f"{n}_wsdl"].replace(sim.urls[n], public[n]) for n in names
               if f"{n}_wsdl" in sim.urls}
    bind = os.environ.get("LIANBAN_TRIAL_BIND", "0.0.0.0")  # every interface of the container; tests use loopback
    relays = [await asyncio.start_server(_relay(ports[n]), bind, public_base + i) for i, n in enumerate(names)]
    target = paths.home / "simulators" / CONNECTIONS_FILE
    write_private_text(target, json.dumps(airflow_connections(public, paths.home), indent=2) + "\n")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the first line: whoever reads it may stop us at once
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    print(json.dumps({"departments": {n: public[n] for n in names}, "connections": str(target)}), flush=True)
    await stop.wait()
    for relay in relays:
        relay.close()
    sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
