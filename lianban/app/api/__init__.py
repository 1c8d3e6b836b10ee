"""The hub's own HTTP service (``lianban serve``): the applicant's progress query and its page, and the
departments' status callbacks.

Modules: server (the FastAPI application and its routes), guards (request size limit, security headers),
page (the server-rendered Chinese page ``/query``), callbacks (who may push status changes, and their shape).

Under any ASGI server, with as many workers as wanted (the rate limit, the gateway's nonces and the evidence log
are in the ledger; nothing in process memory decides an answer)::

    uvicorn --factory lianban.app.api:app_from_env --host 127.0.0.1 --port 8080 --workers 4 \\
        --proxy-headers --forwarded-allow-ips 10.0.0.5

``app_from_env`` reads the installation's settings like every other command (:class:`lianban.app.config.Paths`).
"""

from __future__ import annotations

from typing import Any

from lianban.app.api.server import create_app, openapi_document

__all__ = ["app_from_env", "create_app", "openapi_document"]


def app_from_env() -> Any:
    """The application for this installation's ledger and keys (``LIANBAN_*`` settings)."""
    from lianban.app.api.callbacks import load_gate
    from lianban.app.config import Paths
    from lianban.app.redact import install
    from lianban.ledger.progress_query import ProgressDesk

    install()
    paths = Paths.from_env()
    ledger = paths.existing_ledger()
    return create_app(ProgressDesk(ledger, paths.keys_dir), load_gate(ledger, paths.keys_dir))
