"""The connector registry: which class serves each department, built with its settings and keys.

Dotted paths come from ``schemas/catalog/departments.yaml``; a connector is imported only when it is asked
for, so parsing a DAG never imports zeep. Every connector is built with an answer check
(:class:`lianban.wire.signatures.AnswerCheck`) in its transport: each answer must carry the party's valid
signature, and the pipeline gets the proofs with the connector, as a :class:`~lianban.wire.contract.Peer`; a
department's client-side rate limit is one limiter its sessions and the pipeline's pace share.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from lianban.domain.catalog import load_catalog
from lianban.errors import ConfigError
from lianban.wire.contract import DepartmentConnector, Peer, StatusSink
from lianban.wire.gateway import NonceMemory
from lianban.wire.settings import DepartmentSettings, Limiter
from lianban.wire.signatures import AnswerCheck
from lianban.wire.transport import TokenBucket

SINK = "wanshi_tong"  # 皖事通办 receives every status event


def connector_path(department: str) -> str:
    """``package.module:Class`` of the department's connector; ConfigError when none is registered."""
    dept = load_catalog().departments.get(department)
    if dept is None or not dept.connector:
        known = "、".join(registered())
        raise ConfigError(f"部门 {department!r} 没有注册连接器，已注册：{known} "
                          f"(no connector is registered for department {department!r}; registered: "
                          f"{', '.join(registered())})")
    return dept.connector


def registered() -> dict[str, str]:
    """Department key → dotted path of its connector class."""
    return {k: d.connector for k, d in load_catalog().departments.items() if d.connector}


def _build(department: str, settings: DepartmentSettings, answers: AnswerCheck, limiter: Limiter | None = None) -> Any:
    path = connector_path(department)
    module_name, _, cls_name = path.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    transport = replace(settings.transport, response_check=answers, limiter=limiter)
    connector = cls.from_settings(replace(settings, transport=transport))
    _check_serves(department, path, connector)
    return connector


def _check_serves(department: str, path: str, connector: Any) -> None:
    """A connector serves the department it declares: run for another, it would claim that one's outbox rows,
    seal them with its key and send them to this department's address."""
    serves = getattr(connector, "department", department)
    if serves != department:
        raise ConfigError(f"部门 {department!r} 的连接器 {path} 声明服务于部门 {serves!r}，不能用于 {department!r}"
                          f"（否则会把 {serves!r} 的待投递记录发往 {department!r}）；请为 {department!r} 建立自己的"
                          f"连接器（lianban connectors new {department}），其 department = {department!r} "
                          f"(the connector {path} serves department {serves!r}, not {department!r})")


def load_connector(department: str, settings: DepartmentSettings, keys_dir: Path) -> Any:
    """Any registered connector, built from `settings`, its every answer checked against the party's
    response-signing key in `keys_dir` (for tools that only call it: ``connectors check``, tests)."""
    return _build(department, settings, AnswerCheck.load(keys_dir, department))


def load_department(department: str, settings: DepartmentSettings, keys_dir: Path,
                    nonces: NonceMemory | None = None) -> Peer[DepartmentConnector]:
    """The department's connector and the proofs of its verified answers, for the pipeline; the answers' nonces
    remembered in `nonces` (the ledger's: :func:`lianban.app.jobs`) when given."""
    answers = AnswerCheck.load(keys_dir, department, nonces)
    limiter = TokenBucket(settings.rate_limit) if settings.rate_limit else None  # its sessions' and the pace's
    connector = _build(department, settings, answers, limiter)
    if not isinstance(connector, DepartmentConnector):
        raise ConfigError(f"{connector_path(department)} is not a department connector "
                          f"(submit/poll/health, department, statuses: lianban.wire.contract)")
    return Peer(connector, answers, limiter.ready) if limiter else Peer(connector, answers)


def load_sink(settings: DepartmentSettings, keys_dir: Path, nonces: NonceMemory | None = None) -> Peer[StatusSink]:
    """The 皖事通办 connector and the proofs of its verified acknowledgements, for the pipeline (nonces as for
    :func:`load_department`)."""
    answers = AnswerCheck.load(keys_dir, SINK, nonces)
    connector = _build(SINK, settings, answers)
    if not isinstance(connector, StatusSink):
        raise ConfigError(f"{connector_path(SINK)} is not a status sink (push/health: lianban.wire.contract)")
    return Peer(connector, answers)
