"""医疗保障局 (medical security bureau): items 11 and 12 over SOAP 1.1 with WS-Security.

The connector class lives in :mod:`connectors.medical.connector` (imported lazily: it needs zeep); the
department's own status and error codes live in :mod:`connectors.medical.statuses`.
"""

from __future__ import annotations
