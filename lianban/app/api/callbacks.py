"""Department callbacks (``POST /api/v1/departments/{department}/status``): who may push, and what they push.

Checked in this order, each failure answered in the gateway dialect the departments speak (``{"code",
"message"}``, codes from :data:`lianban.wire.gateway.GATEWAY_ERRORS` plus two)::

    404 UNKNOWN_DEPARTMENT  the path names no department that may push (a REST department with a connection)
    401 AUTH                unsigned, stale (±5 min), replayed (nonces kept in the ledger, any worker), bad signature
    403 FORBIDDEN           signed by another department's app id: nobody reports for someone else
    400 BAD_JSON / 422 INVALID_REQUEST   the body is not the agreed shape (read only once it is authenticated)
    200                     every row answered (lianban.pipeline.callbacks), signed with the hub's key

A department may push only when its connection (``dept_<department>``: login = app id, password = secret) is
configured: the same credentials the hub signs its own requests to that department with. Two departments whose
connections have one app id take no pushes (either could write the other's items); the start says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lianban.crypto.hashing import sm3_hex
from lianban.errors import ConfigError, NotConfigured
from lianban.ledger.db import session_factory
from lianban.ledger.nonces import LedgerNonces
from lianban.pipeline.callbacks import MAX_ROWS, Callback, CallbackDesk
from lianban.wire.contract import StatusReader
from lianban.wire.gateway import GATEWAY_ERRORS, GatewayVerifier
from lianban.wire.signatures import HEADER

log = logging.getLogger("lianban.api")

UNKNOWN = "该部门未开通状态回调（无此部门或未配置其连接），请核对路径中的部门标识"
FORBIDDEN = "签名的应用标识不属于路径中的部门：只能报送本部门事项的状态"


class PushedStatus(BaseModel):
    """One status change, in the shape of the department's own poll answer rows."""

    model_config = ConfigDict(extra="forbid")
    idempotency_key: str = Field(min_length=1, max_length=128, description="投递幂等键（枢纽投递时给出）")
    code: str = Field(min_length=1, max_length=16, description="部门自己的状态码（见其连接器的状态表）")
    reason: str | None = Field(None, max_length=1000, description="原因（不予受理、审核不通过、补正资料时）")
    changed_at: str = Field(min_length=1, max_length=40, description="状态变化时间（ISO 8601）")
    materials: list[str] = Field(default_factory=list, max_length=20, description="补正资料：材料编码（M01–M15）")
    result: dict[str, str] | None = Field(None, description="办理结果（如公积金提取金额）")


class StatusPush(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statuses: list[PushedStatus] = Field(min_length=1, max_length=MAX_ROWS)


class RowAnswer(BaseModel):
    idempotency_key: str
    outcome: str = Field(description="recorded 已记录 | unchanged 已知或未采纳 | unknown 无此待办事项 | "
                                     "refused 无法读取")
    reason: str | None


class PushAnswer(BaseModel):
    received: int
    recorded: int
    unchanged: int
    unknown: int
    refused: int
    results: list[RowAnswer]


class GatewayError(BaseModel):
    code: str
    message: str


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, json.dumps({"code": code, "message": message}, ensure_ascii=False).encode(), {})


class CallbackGate:
    """Authenticates pushes and hands them to the desk; `readers` and `logins` by department."""

    def __init__(self, desk: CallbackDesk, verifier: GatewayVerifier, readers: Mapping[str, StatusReader],
                 logins: Mapping[str, str]) -> None:
        self._desk, self._verifier, self._readers, self._logins = desk, verifier, dict(readers), dict(logins)

    @property
    def departments(self) -> list[str]:
        return sorted(self._readers)

    def handle(self, department: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        reader = self._readers.get(department)
        if reader is None:
            return _error(404, "UNKNOWN_DEPARTMENT", UNKNOWN)
        refused = self._verifier.verify("POST", path, headers, body)
        if refused:
            return _error(401, "AUTH", refused)
        app_id = GatewayVerifier.signer(headers)
        if app_id != self._logins[department]:
            return _error(403, "FORBIDDEN", FORBIDDEN)
        rows = _rows(body)
        if isinstance(rows, Answer):
            return rows
        signature = next(v for k, v in headers.items() if k.lower() == "x-signature")
        pushed = self._desk.take(Callback(department, path, rows, sm3_hex(body), signature, app_id), reader)
        return Answer(200, pushed.body, {HEADER: pushed.signature})


def _rows(body: bytes) -> list[dict[str, Any]] | Answer:
    try:
        push = StatusPush.model_validate_json(body)
    except ValidationError as exc:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return _error(400, "BAD_JSON", GATEWAY_ERRORS["BAD_JSON"])
        where = "、".join(".".join(str(p) for p in e.get("loc", ())) or "请求体" for e in exc.errors()[:5])
        return _error(422, "INVALID_REQUEST", f"{GATEWAY_ERRORS['INVALID_REQUEST']}：{where}")
    return [row.model_dump() for row in push.statuses]


def load_gate(ledger_url: str, keys_dir: Path) -> CallbackGate:
    """The gate for this installation: every REST department whose connection is configured may push."""
    from lianban.app.config import department_settings
    from lianban.app.registry import load_connector
    from lianban.domain.catalog import load_catalog

    readers: dict[str, StatusReader] = {}
    logins: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for key, dept in load_catalog().departments.items():
        if dept.transport != "rest":
            continue
        try:
            settings = department_settings(key)
            connector = load_connector(key, settings, keys_dir)
        except NotConfigured:
            continue  # not connected here: it cannot push either
        except ConfigError as exc:  # a connection that is there but wrong: said once, at start
            log.warning("部门 %s 的连接配置有误，暂不接收其状态回调（答 404）：%s", key, exc)
            continue
        if isinstance(connector, StatusReader) and settings.login and settings.password:
            readers[key], logins[key], secrets[settings.login] = connector, settings.login, settings.password
    for key in _sharing(logins):  # a push its app id signs could be either's: neither may push
        del readers[key]
        secrets.pop(logins.pop(key), None)
    verifier = GatewayVerifier(secrets, nonces=LedgerNonces(session_factory(ledger_url)))
    return CallbackGate(CallbackDesk(ledger_url, keys_dir), verifier, readers, logins)


def _sharing(logins: Mapping[str, str]) -> list[str]:
    """The departments whose connection has the same app id as another's (said once, at start)."""
    by_login: dict[str, list[str]] = {}
    for department, login in sorted(logins.items()):
        by_login.setdefault(login, []).append(department)
    shared = [group for group in by_login.values() if len(group) > 1]
    for group in shared:
        log.warning("部门 %s 的连接使用同一应用标识，无法分辨报送方（一方可写另一方的事项），暂不接收其状态回调"
                    "（答 404）；请为各部门配置各自的应用标识", "、".join(group))
    return [department for group in shared for department in group]
