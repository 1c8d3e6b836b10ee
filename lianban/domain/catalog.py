"""The item catalog (附件4), materials (附件5), departments and fields, loaded from `schemas/catalog/`.

Schemas are data: this module only loads and checks them. A broken catalog fails at start with a sentence
that names the file and the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, TypeVar

import yaml

from lianban.domain.identity import code_shown
from lianban.domain.schemas import schema_path
from lianban.domain.statuses import Status
from lianban.errors import ConfigError

CATALOG_DIR = schema_path("catalog")
T = TypeVar("T")
#: the 14 items of 附件4; a department joining later adds items after them
SEED_ITEM_CODES = tuple(f"{n:02d}" for n in range(1, 15))
CODE_SHOWN_MAX = 8  # characters of an unknown item code an operator is shown
#: the longest item code and department key the ledger keeps (lianban.ledger.models: case_items.item_code,
#: the department and party columns)
ITEM_CODE_MAX, DEPARTMENT_KEY_MAX = 4, 32
#: how lianban reaches a department: HRSS's 前置库, none (handled in place), SOAP or the REST gateway dialect
TRANSPORTS = ("frontend_db", "none", "soap", "rest")
WINDOW_TRANSPORT = "frontend_db"  # the one window's: exactly one department has it (Catalog.window)


#: why a row naming item codes the catalog lacks is held (validation rule ITEMS_UNKNOWN, and staging's own check)
UNKNOWN_ITEMS = "事项编码不在事项目录中"


def shown_code(code: str) -> str:
    """An item code as an operator may see it: any ID- or mobile-number-shaped run masked (a phone typed into
    办理事项) and any character outside ASCII (a name), then cut to CODE_SHOWN_MAX characters (masked first, so
    that a cut never unmasks)."""
    return code_shown(code)[:CODE_SHOWN_MAX]


def unknown_codes(codes: Iterable[str]) -> str:
    """The clause :data:`UNKNOWN_ITEMS` ends with: the unknown codes as an operator may see them."""
    return "：" + "、".join(map(shown_code, codes))


@dataclass(frozen=True)
class Item:
    """One 联办 item: the 14 of 附件4 (codes 01–14), then any a later department brings."""

    code: str
    name: str
    department: str
    fields: tuple[str, ...]  # minimum-necessary fields sent to the department; () = handled by HRSS
    #: committed time limit (承诺时限) in working days, counted from the day the handling department accepts
    #: the item (lianban.domain.working_days, lianban.ledger.time_limits)
    time_limit_days: int
    #: the party whose report alone completes (已办结) the item, when not `department` (item 13: HRSS pays the
    #: reward health found due); None = the handling department
    completed_by: str | None = None
    #: that party's committed limit in working days, counted from the day the hub asks it (item 13: the payment
    #: request); given exactly when `completed_by` is
    completion_days: int | None = None

    @property
    def completer(self) -> str:
        """Who may report this item 已办结."""
        return self.completed_by or self.department

    def settled(self, party: str, status: Status) -> bool:
        """`party` has nothing more to say about this item once it reports `status`: a final status, or
        审核通过 when another party completes the item (health's eligibility for item 13)."""
        return status.is_terminal() or (status is Status.APPROVED and self.completer != party)


@dataclass(frozen=True)
class Material:
    code: str
    name: str
    always: bool


@dataclass(frozen=True)
class Department:
    key: str
    name: str
    transport: str
    connector: str | None  # "package.module:Class", loaded lazily
    suite: str = "SM"  # crypto suite of its envelopes: SM (国密) or NIST (for departments without 国密)
    short_name: str | None = None  # what a narrow column calls it (人社, 医保); None = its name


@dataclass(frozen=True)
class Field:
    """One field of 退休待遇审核信息: its Chinese name and the limits the departments' interfaces accept."""

    key: str
    name: str
    personal: bool
    max_length: int | None = None  # text fields
    max_value: int | None = None  # whole-number fields


@dataclass(frozen=True)
class Catalog:
    items: dict[str, Item]
    materials: tuple[Material, ...]
    departments: dict[str, Department]
    fields: dict[str, Field]  # domain key -> field

    @cached_property
    def field_names(self) -> dict[str, str]:
        """Domain key → Chinese name (worked out once: intake asks it for every column of every row)."""
        return {k: f.name for k, f in self.fields.items()}

    def item(self, code: str) -> Item:
        try:
            return self.items[code]
        except KeyError:
            raise ConfigError(f"事项编码 {shown_code(code)!r} 不在事项目录中 (unknown item code)") from None

    @cached_property
    def window(self) -> str:
        """The department at the one window (一窗受理), whose 前置库 the hub reads (transport ``frontend_db``):
        it takes the application, tells the applicant what to correct, writes the status log of its own items
        and the 补正 submissions, and pays what another department found due (HRSS for 退休一件事)."""
        return next(k for k, d in self.departments.items() if d.transport == WINDOW_TRANSPORT)

    def pushed_departments(self) -> list[str]:
        """Departments that receive pushed records (every department owning an item HRSS does not handle)."""
        return sorted({i.department for i in self.items.values() if i.fields})


def read_file(name: str) -> dict[str, Any]:
    """Catalog file `name` (``CATALOG_DIR``) as a mapping of ``version: 1``; a ConfigError naming the file when it
    cannot be read or is not one."""
    path = CATALOG_DIR / name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read catalog file {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ConfigError(f"{path}: expected a mapping with version: 1")
    return data


def _entries(name: str, section: str, build: Callable[[dict[str, Any]], T]) -> list[T]:
    """`build` over each entry of the file's `section`; an entry missing a key or with one it may not have is one
    ConfigError naming the file and the entry (its key or code, else its place)."""
    entries = read_file(name).get(section)
    if not isinstance(entries, list):
        raise ConfigError(f"{name}: 缺少 {section} 列表 (no {section} list)")
    built = []
    for n, entry in enumerate(entries, 1):
        try:
            built.append(build(entry))
        except (KeyError, TypeError, AttributeError) as exc:
            where = entry.get("key", entry.get("code", n)) if isinstance(entry, dict) else n
            raise ConfigError(f"{name}: 第 {n} 项（{where}）缺少或写错了字段：{exc} "
                              f"(entry {where}: a key is missing or not allowed)") from None
    return built


def _keyed(name: str, entries: list[T], attr: str) -> dict[str, T]:
    """`entries` by their `attr`; one given twice is a ConfigError (the second silently replaced the first)."""
    keyed: dict[str, T] = {}
    for entry in entries:
        key = getattr(entry, attr)
        if key in keyed:
            shown = shown_code(str(key))
            raise ConfigError(f"{name}: {attr} {shown!r} 出现了两次 ({attr} {shown!r} appears twice)")
        keyed[key] = entry
    return keyed


def _department(entry: dict[str, Any]) -> Department:
    key = str(entry["key"])
    if not 0 < len(key) <= DEPARTMENT_KEY_MAX:
        raise ConfigError(f"departments.yaml: 部门 {key!r} 的 key 应为 1–{DEPARTMENT_KEY_MAX} 个字符"
                          f"（台账按此长度保存） (department key {key!r} must be 1–{DEPARTMENT_KEY_MAX} characters)")
    if entry.get("transport") not in TRANSPORTS:
        raise ConfigError(f"departments.yaml: 部门 {key} 的 transport {entry.get('transport')!r} 无效，应为 "
                          f"{'、'.join(TRANSPORTS)} 之一 (department {key}: transport must be one of "
                          f"{', '.join(TRANSPORTS)})")
    return Department(**entry)


def _item(entry: dict[str, Any]) -> Item:
    code = str(entry["code"])
    if not 0 < len(code) <= ITEM_CODE_MAX:
        raise ConfigError(f"items.yaml: 事项编码 {shown_code(code)!r} 应为 1–{ITEM_CODE_MAX} 个字符（台账按此长度保存）"
                          f" (item code {shown_code(code)!r} must be 1–{ITEM_CODE_MAX} characters)")
    limit = _working_days(code, entry, "time_limit_days")
    completed_by = entry.get("completed_by")
    completion = _working_days(code, entry, "completion_days") if completed_by or "completion_days" in entry else None
    if completion is not None and not completed_by:
        raise ConfigError(f"items.yaml: 事项 {code} 有 completion_days 却没有 completed_by（由谁办结） "
                          f"(item {code}: completion_days is the limit of the party named by completed_by)")
    return Item(code, entry["name"], entry["department"], tuple(entry.get("fields") or ()), limit,
                str(completed_by) if completed_by else None, completion)


def _working_days(code: str, entry: dict[str, Any], key: str) -> int:
    """The item's `key`: a positive whole number of working days, or one ConfigError naming item and key."""
    limit = entry.get(key)
    if limit is None:
        raise ConfigError(f"items.yaml: 事项 {code} 缺少承诺时限 {key}（工作日，正整数） "
                          f"(item {code} has no {key}: a positive whole number of working days)")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"items.yaml: 事项 {code} 的承诺时限 {key} 必须是正整数（工作日），现为 {limit!r} "
                          f"(item {code}: {key} must be a positive whole number of working days)")
    return limit


def _check_items(items: dict[str, Item], departments: dict[str, Department], fields: dict[str, Field]) -> None:
    for item in items.values():
        if item.department not in departments:
            raise ConfigError(f"items.yaml: item {item.code} names unknown department {item.department!r}")
        if item.completed_by is not None and item.completed_by not in departments:
            raise ConfigError(f"items.yaml: item {item.code} completed_by names unknown department "
                              f"{item.completed_by!r}")
        unknown = set(item.fields) - set(fields)
        if unknown:
            raise ConfigError(f"items.yaml: item {item.code} allows unknown fields {sorted(unknown)}")
        _check_pushed(item, departments[item.department])
    missing = [code for code in SEED_ITEM_CODES if code not in items]
    if missing:
        raise ConfigError(f"items.yaml: the 14 items of 附件4 (codes 01–14) must all be present; "
                          f"missing {', '.join(missing)}")


def _check_window(departments: dict[str, Department]) -> None:
    windows = [k for k, d in departments.items() if d.transport == WINDOW_TRANSPORT]
    if len(windows) != 1:
        raise ConfigError(f"departments.yaml: 应有且只有一个部门的 transport 为 {WINDOW_TRANSPORT}"
                          f"（一窗受理，其前置库由本系统读取），现有 {len(windows)} 个：{'、'.join(windows) or '无'} "
                          f"(exactly one department, the window, must have transport {WINDOW_TRANSPORT})")


def _check_completers(items: dict[str, Item], departments: dict[str, Department]) -> None:
    """Only the window completes another department's item: the hub asks it through its 前置库 (a payment
    request, lianban.pipeline.rewards) and reads its 已办结 from its status log; any other party would never be
    asked nor heard, the item stuck at 审核通过 with no clock."""
    windows = [k for k, d in departments.items() if d.transport == WINDOW_TRANSPORT]
    for item in items.values():
        if item.completed_by not in (None, item.department, *windows):
            raise ConfigError(f"items.yaml: 事项 {item.code} 的 completed_by 为 {item.completed_by}，"
                              f"本系统只能请一窗受理部门 {'、'.join(windows)} 代为办结他部门的事项（经其前置库请求、"
                              f"读其状态日志） (item {item.code}: only the window can complete another department's "
                              "item)")


def window() -> str:
    """The key of the one window's department (:attr:`Catalog.window`)."""
    return load_catalog().window


def _check_pushed(item: Item, department: Department) -> None:
    """An item is pushed (has fields) exactly when its department is reached through a connector: otherwise it
    would never be delivered (no fields: handled at the window, but nobody there handles it) or its deliveries
    would have nowhere to go."""
    if item.fields and not department.connector:
        raise ConfigError(f"items.yaml: 事项 {item.code} 列出了推送字段，但部门 {department.key} 没有连接器，无处推送 "
                          f"(item {item.code} pushes fields to {department.key}, which has no connector)")
    if not item.fields and department.connector:
        raise ConfigError(f"items.yaml: 事项 {item.code} 的部门 {department.key} 经连接器接收推送，但 fields 为空："
                          f"该事项永远不会送达；请列出推送字段 (item {item.code} of {department.key} has no fields: "
                          f"it would never be delivered)")


@cache
def load_catalog() -> Catalog:
    """Load and check the catalog once per process."""
    departments = _keyed("departments.yaml", _entries("departments.yaml", "departments", _department), "key")
    fields = _keyed("fields.yaml", _entries("fields.yaml", "fields", lambda f: Field(**f)), "key")
    items = _keyed("items.yaml", _entries("items.yaml", "items", _item), "code")
    materials = tuple(_entries("materials.yaml", "materials", lambda m: Material(**m)))
    _check_items(items, departments, fields)
    _check_window(departments)
    _check_completers(items, departments)
    return Catalog(items, materials, departments, fields)
