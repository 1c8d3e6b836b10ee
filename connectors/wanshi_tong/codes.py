"""The 皖事通办 code tables, ``schemas/wanshi_tong/codes.yaml``: every platform code lianban sends.

Loaded once and checked: every item of the catalog has a 事项编码 and its department a 办理部门, every unified
status a status code and a step (NODENAME, NODERESULT), every final status a DONERESULT, and the region, INFOTYPE
and 承诺时限 unit are set. A gap is a :class:`~lianban.errors.ConfigError` naming the file and everything missing,
before any push.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml

from lianban.domain.catalog import load_catalog
from lianban.domain.schemas import schema_path
from lianban.domain.statuses import Status
from lianban.errors import ConfigError

__all__ = ["CODES_FILE", "CodeTables", "DoneResult", "Node", "code", "load_codes"]

CODES_FILE = schema_path("wanshi_tong", "codes.yaml")
REGION_ID = re.compile(r"^[0-9]{12}$")
COUNTY = re.compile(r"^[0-9]{6}$")
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Node:
    """The step (环节) a status reports: NODENAME and NODERESULT."""

    name: str
    result: str


@dataclass(frozen=True)
class DoneResult:
    """DONERESULT and, when not a plain 办结, the 办结说明."""

    code: str
    reason: str | None = None


@dataclass(frozen=True)
class CodeTables:
    """lianban's vocabulary → 皖事通办's codes (the comments in codes.yaml say what each one means)."""

    items: Mapping[str, str]  # lianban item code → 事项编码
    statuses: Mapping[Status, str]  # unified status → 办件状态 code
    departments: Mapping[str, str]  # department key → 办理部门
    nodes: Mapping[Status, Node]
    done_results: Mapping[Status, DoneResult]  # the case status once every item is final → DONERESULT
    region_default: str
    counties: Mapping[str, str]  # 6-digit county code → name; reported padded to 12 digits
    infotype: str
    promise_unit: str
    partly_done_reason: str | None = None

    def region(self, region_code: str) -> str:
        """REGION_ID of a case whose ``Case.region_code`` is `region_code`: its county or the city."""
        return region_code.ljust(12, "0") if region_code in self.counties else self.region_default


def code(table: Mapping[K, V], key: K) -> V:
    """``table[key]``, or a ConfigError naming codes.yaml and the key without a code."""
    try:
        return table[key]
    except KeyError:
        raise ConfigError(f"{CODES_FILE}：缺少皖事通办编码 {key!r}，请补充后再推送 (no 皖事通办 code for it)") from None


def _table(data: Mapping[str, Any], name: str, key: Callable[[Any], K], value: Callable[[Any], V]) -> dict[K, V]:
    return {key(k): value(v) for k, v in (data.get(name) or {}).items()}


def _parse(data: Mapping[str, Any]) -> CodeTables:
    region = data.get("region") or {}
    return CodeTables(
        items=_table(data, "items", str, str), statuses=_table(data, "statuses", Status, str),
        departments=_table(data, "departments", str, str),
        nodes=_table(data, "nodes", Status, lambda v: Node(str(v["name"]), str(v["result"]))),
        done_results=_table(data, "done_results", Status, lambda v: DoneResult(str(v["code"]), v.get("reason"))),
        region_default=str(region.get("default", "")), counties=_table(region, "counties", str, str),
        infotype=str(data.get("infotype") or ""), promise_unit=str(data.get("promise_unit") or ""),
        partly_done_reason=data.get("partly_done_reason"))


def _gaps(t: CodeTables) -> list[str]:
    """Everything codes.yaml must hold and does not, in file order."""
    catalog = load_catalog()
    return [
        *sorted(set(catalog.items) - set(t.items)), *(s.value for s in Status if s not in t.statuses),
        *(f"departments.{d}" for d in sorted({i.department for i in catalog.items.values()} - set(t.departments))),
        *(f"nodes.{s.value}" for s in Status if s not in t.nodes),
        *(f"done_results.{s.value}" for s in Status if s.is_terminal() and s not in t.done_results),
        *(["region.default (12 位区划代码)"] if not REGION_ID.match(t.region_default) else []),
        *(f"region.counties.{c} (6 位区划代码)" for c in t.counties if not COUNTY.match(c)),
        *(["infotype"] if not t.infotype else []), *(["promise_unit"] if not t.promise_unit else []),
    ]


@cache
def load_codes(path: Path = CODES_FILE) -> CodeTables:
    """Read and check codes.yaml; a gap is a ConfigError naming the file and what is missing."""
    try:
        tables = _parse(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(f"{path}：无法读取皖事通办编码表（{type(exc).__name__}），请检查文件内容 "
                          f"(cannot read the 皖事通办 code tables)") from None
    gaps = _gaps(tables)
    if gaps:
        raise ConfigError(f"{path}：缺少皖事通办编码 {'、'.join(gaps)}，请补充后再推送 (no 皖事通办 code for them)")
    return tables
