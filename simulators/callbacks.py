"""A REST department in callback mode: it pushes its status changes to the hub as they happen.

Every ``interval`` seconds the pusher reads every received item's status (:meth:`DepartmentEngine.current`),
and sends those that changed since they were last taken to ``POST {hub}/api/v1/departments/{department}/status``
in the department's own codes (the rows of its poll answer), gateway-signed with the same app id and secret
the hub uses towards it. The hub's answer must carry the hub's valid signature
(:class:`lianban.wire.signatures.ResponseVerifier` over the hub's public signing keys); a row the hub answered
``recorded`` or ``unchanged`` is taken, anything else (``unknown``: the hub has not recorded the delivery yet;
a refusal) is pushed again next time, up to :data:`MAX_TRIES` times per change; while the hub is down or its
answer unsigned, everything waits and is pushed once it answers. Polling keeps working beside it: the hub
records a change that arrives both ways once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from lianban.crypto.suites import get_suite
from lianban.domain.batches import chunks
from lianban.domain.statuses import Status
from lianban.keys import keysets
from lianban.keys.names import hub_signing_name, suite_of
from lianban.wire.gateway import GatewayAuth, body_sm3
from lianban.wire.signatures import HEADER, ResponseVerifier, SignatureAlert
from simulators.engine import CaseView, DepartmentEngine

log = logging.getLogger("simulators.callbacks")
PUSH_ROWS = 500
MAX_TRIES = 20
TAKEN = frozenset({"recorded", "unchanged"})


@dataclass
class PushStats:
    pushes: int = 0
    rows: int = 0
    taken: int = 0
    failed_pushes: int = 0
    given_up: int = 0


@dataclass
class CallbackPusher:
    """Pushes `engine`'s status changes, in `codes` (unified status → the department's code), to `hub_url`."""

    engine: DepartmentEngine
    codes: Mapping[Status, str]
    hub_url: str
    app_id: str
    secret: str
    hub_answers: ResponseVerifier
    interval: float = 1.0
    stats: PushStats = field(default_factory=PushStats)
    _taken: dict[str, tuple[str, str]] = field(default_factory=dict)
    _tries: dict[str, tuple[tuple[str, str], int]] = field(default_factory=dict)  # key → (change, pushes of it)
    _stop: threading.Event = field(default_factory=threading.Event)
    _pushing: threading.Lock = field(default_factory=threading.Lock)  # one push at a time, loop or caller

    @property
    def url(self) -> str:
        return f"{self.hub_url.rstrip('/')}/api/v1/departments/{self.engine.department}/status"

    def push_once(self) -> int:
        """Push what changed; the number of rows the hub took."""
        with self._pushing:
            return self._push_due()

    def _push_due(self) -> int:
        due = [v for v in self.engine.current() if self._due(v)]
        taken = 0
        with requests.Session() as session:
            session.auth = GatewayAuth(self.app_id, self.secret)
            for chunk in chunks(due, PUSH_ROWS):
                taken += self._push(session, chunk)
        return taken

    def pending(self) -> int:
        """How many items have a change the hub has not taken yet (and is still worth pushing)."""
        return sum(1 for v in self.engine.current() if self._due(v))

    def _due(self, view: CaseView) -> bool:
        mark = (view.status.value, view.changed_at)
        if self._taken.get(view.idempotency_key) == mark:
            return False
        tried, count = self._tries.get(view.idempotency_key, (mark, 0))
        return tried != mark or count < MAX_TRIES

    def _row(self, view: CaseView) -> dict[str, Any]:
        return {"idempotency_key": view.idempotency_key, "code": self.codes[view.status], "reason": view.reason,
                "changed_at": view.changed_at, "materials": list(view.materials), "result": view.result}

    def _push(self, session: requests.Session, views: Sequence[CaseView]) -> int:
        self.stats.pushes += 1
        self.stats.rows += len(views)
        try:
            answer = session.post(self.url, json={"statuses": [self._row(v) for v in views]}, timeout=30)
            if answer.status_code != 200:
                raise ValueError(f"HTTP {answer.status_code}")
            self.hub_answers.verify(answer.headers.get(HEADER), 200, urlsplit(self.url).path, answer.content,
                                    body_sm3(answer.request))
            results = {r["idempotency_key"]: r["outcome"] for r in answer.json()["results"]}
        except (requests.RequestException, ValueError, KeyError, TypeError, SignatureAlert) as exc:
            self.stats.failed_pushes += 1
            log.warning("%s: status push to the hub failed (%s); pushed again next time", self.engine.department,
                        type(exc).__name__)
            return 0
        return self._take(views, results)

    def _take(self, views: Sequence[CaseView], results: Mapping[str, str]) -> int:
        """Note what the hub took; count a try against each row it answered otherwise (a hub that is down
        costs no tries: everything goes once it is back)."""
        taken = 0
        for v in views:
            mark = (v.status.value, v.changed_at)
            if results.get(v.idempotency_key) in TAKEN:
                self._taken[v.idempotency_key] = mark
                self._tries.pop(v.idempotency_key, None)
                taken += 1
                continue
            tried, count = self._tries.get(v.idempotency_key, (mark, 0))
            self._tries[v.idempotency_key] = (mark, count + 1 if tried == mark else 1)
            self.stats.given_up += self._tries[v.idempotency_key][1] == MAX_TRIES
        self.stats.taken += taken
        return taken

    def run(self) -> None:
        """Push every `interval` seconds until :meth:`stop`."""
        while not self._stop.wait(self.interval):
            with self._pushing:
                if not self._stop.is_set():
                    self._push_due()

    def stop(self) -> None:
        """Stop pushing on its own: a push in flight ends first, and none starts after."""
        self._stop.set()
        with self._pushing:
            pass


def hub_answers(keys_dir: Path, department: str) -> ResponseVerifier:
    """Checks the hub's answers with its public signing keys for the department's suite."""
    suite = suite_of(department)
    keys = keysets.load(keys_dir, hub_signing_name(suite), public_only=True)
    return ResponseVerifier("hub", get_suite(suite), keys.public)
