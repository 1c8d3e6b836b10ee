"""Intake (收件): one row of the HRSS 前置库, read defensively, becomes a RetirementRecord or its reasons.

Nothing a row holds may stop the line: every column is read whatever type, encoding or size the database
driver hands over, and a row that cannot be understood becomes :class:`Unreadable` with one Chinese reason per
problem, naming the column. Validation (:mod:`lianban.domain.validation`) then judges what was read.

Columns, by domain key (``connectors/hrss/mapping.py`` has the 前置库 names)::

    case_no              办件编号: text; normalised first (NFKC: full-width → half-width; surrounding blanks
                         trimmed; upper case), then 1–40 characters of A–Z, 0–9, "-" and "_", starting with a
                         letter or digit, and not shaped like an ID or mobile number (it travels and is stored
                         in the clear). " bz20250001" and "ＢＺ２０２５０００１" are the same case as "BZ20250001".
    name, employer_name  text; surrounding blanks trimmed; no control characters; at most the field's
                         ``max_length`` (schemas/catalog/fields.yaml)
    id_number, employer_uscc, phone, pension_start
                         text as given (never silently fixed: validation says what is wrong with it); no
                         control characters; at most ``max_length``
    contribution_months  a whole number 0 – ``max_value``: an integer, or text of digits; anything else is
                         refused ("养老保险缴费月数应为整数")
    items                text: item codes separated by commas (full-width "，" too), each trimmed; a code
                         chosen twice is refused
    approved_at          ISO 8601 date-time (审批时间) between 1990 and 2100 once converted to UTC; without an
                         offset it is Beijing time (:func:`lianban.domain.clock.moment_of`). Kept as given (the
                         row's fingerprint is of what it said); its readers read it so
    original_age         原法定退休年龄 (YFDTXNL), retirement_type 退休类型 (TXLX): text as given, at most
                         ``max_length``; the reform rules (:mod:`lianban.domain.rules.reform`) judge them
    password             查询密码 (PROJPWD), optional: text of 4–32 ASCII letters or digits, surrounding blanks
                         trimmed; empty means none (the case cannot be queried until the window resets it).
                         A refusal never quotes it.

A row of HRSS's status log (:func:`read_status`) is read the same way: 办件编号 normalised as above, 事项编码
text, 办理状态 a code of the source's status table, 办理时间 an ISO 8601 date or date-time (without an offset
Beijing time: kept with its ``+08:00``), 原因 text (at most 500 characters), 补正材料 material codes separated
by commas (each in ``schemas/catalog/materials.yaml``; an unknown code makes the row Unreadable, naming it); a
row that cannot be placed is :class:`Unreadable` too, never a stall. A row of HRSS's 补正 submissions
(:func:`read_supplement`) likewise: 办件编号, 事项编码 (1–4 letters or digits), the materials supplied (known codes,
at least one) and 提交时间 (as 办理时间).

Each refusal carries a stable code beside its sentence (:meth:`Unreadable.coded`): ``TOO_LONG_<FIELD>``,
``CONTRIBUTION_FORMAT``/``CONTRIBUTION_RANGE``, ``ITEMS_REPEATED``, ``APPROVED_AT_FORMAT`` as validation
names them, otherwise ``UNREADABLE_<FIELD>`` (a type, encoding or control character the column cannot hold).

Text arrives as ``str``, or ``bytes`` in UTF-8, or an ``int`` (written by a driver into a text column); any
other type, undecodable bytes or lone surrogates are refused with a reason naming the column.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TypeVar

from lianban.domain.catalog import Catalog, shown_code
from lianban.domain.clock import AHEAD_ALLOWED, ahead, explicit, moment_of
from lianban.domain.identity import code_shaped, code_shown, personal_shaped, quoted_code
from lianban.domain.reasons import Reason
from lianban.domain.record import RetirementRecord
from lianban.domain.statuses import Status, StatusChange
from lianban.domain.supplements import SupplementSubmission, UnknownMaterial, read_materials

__all__ = ["SourceRow", "Unreadable", "normalise_case_no", "read", "read_status", "read_supplement"]

CASE_NO_MAX = 40
_CASE_NO = re.compile(rf"[0-9A-Z][0-9A-Z_-]{{0,{CASE_NO_MAX - 1}}}")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # the Cc characters of ASCII
_ITEM_SEPARATOR = re.compile(r"[,，、]")
_EARLIEST, _LATEST = datetime(1990, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
#: columns read as trimmed free text; the others are read exactly as given
_TEXTUAL = (str, bytes, int)  # what a text column may hold (an integer is read as its digits)
_TRIMMED = frozenset({"name", "employer_name"})
_LABELS = {"case_no": "办件编号", "items": "办理事项", "approved_at": "审批时间"}
_PASSWORD = re.compile(r"[0-9A-Za-z]{4,32}")
REASON_MAX = 500  # 原因 as 皖事通办 accepts it


@dataclass(frozen=True)
class SourceRow:
    """One 前置库 row as read: its 序号 and its values by domain key, untouched."""

    seq: int
    values: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Unreadable:
    """A row that cannot be understood: why (Chinese, naming each column), and what to show (masked later)."""

    seq: int
    case_no: str  # normalised when it could be; otherwise its printable ASCII (the rest as *), for the operator
    reasons: list[str]
    values: Mapping[str, Any] = field(repr=False)
    codes: tuple[str, ...] = ()  # one per reason, when known

    def coded(self) -> list[Reason]:
        """The reasons with their codes (``UNREADABLE`` when a code is not known)."""
        codes = list(self.codes) + ["UNREADABLE"] * (len(self.reasons) - len(self.codes))
        return [Reason(code, reason) for code, reason in zip(codes, self.reasons, strict=True)]


class _Refused(ValueError):
    """One column's problem, as the Chinese sentence an operator reads, and its code when it has its own."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def _label(key: str, catalog: Catalog) -> str:
    return _LABELS.get(key) or catalog.field_names.get(key, key)


def _as_text(raw: Any, label: str) -> str:
    if type(raw) is str and raw.isprintable():  # most of what is read: no control (Cc), format (Cf) or lone
        return raw  # surrogate (Cs) character, each unprintable, so valid UTF-8 with nothing invisible (in C)
    if type(raw) is str:  # ASCII is valid UTF-8 as it is
        text = raw if raw.isascii() else _utf8(raw, label)
    elif raw is None:
        return ""
    elif isinstance(raw, bool) or not isinstance(raw, _TEXTUAL):
        raise _Refused(f"{label}类型错误（应为文本）")
    elif isinstance(raw, int):
        return str(raw)
    else:
        text = _utf8(raw, label)
    if _invisible(text):
        raise _Refused(f"{label}含有控制字符或不可见字符")
    return text


def _utf8(raw: str | bytes, label: str) -> str:
    """`raw` as text, refused when it is not UTF-8 (bytes) or cannot be (text with a lone surrogate)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        text.encode("utf-8")
    except UnicodeError:
        raise _Refused(f"{label}编码无法识别（应为 UTF-8 文本）") from None
    return text


def _invisible(text: str) -> bool:
    """Whether `text` holds a control (Cc) or format (Cf) character; ASCII text (case numbers, codes, times:
    most of what is read) without a look-up per character, which was a fifth of reading HRSS's status log."""
    if text.isascii():
        return _ASCII_CONTROL.search(text) is not None  # ASCII has no Cf character
    if text.isprintable():  # in C: no Cc nor Cf character (nor any other it counts unprintable); most names
        return False
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def normalise_case_no(raw: Any) -> str:
    """The canonical 办件编号 (module docstring); ValueError with the Chinese reason when it is not one."""
    return _case_no(raw) if isinstance(raw, str) else _normalised_case_no(raw)


@lru_cache(maxsize=8192)
def _case_no(raw: str) -> str:
    """A text 办件编号 read once while it recurs (a case's status rows carry it about seven times over);
    one refused is refused afresh each time (an exception is not kept)."""
    return _normalised_case_no(raw)


def _normalised_case_no(raw: Any) -> str:
    text = unicodedata.normalize("NFKC", _as_text(raw, "办件编号")).strip().upper()
    if not text:
        raise _Refused("办件编号为空")
    if len(text) > CASE_NO_MAX:
        raise _Refused(f"办件编号超过{CASE_NO_MAX}个字符")
    if not _CASE_NO.fullmatch(text):
        raise _Refused("办件编号只能包含字母、数字、“-”和“_”，且以字母或数字开头")
    if personal_shaped(text):  # it would travel and be stored in the clear
        raise _Refused("办件编号疑似身份证号码或手机号码，不能作为办件编号")
    return text


def _text_reader(key: str, catalog: Catalog) -> Callable[[Mapping[str, Any]], str]:
    """How a text column is read: its label, length limit and refusal code worked out once, not per row."""
    label, trimmed, code = _label(key, catalog), key in _TRIMMED, f"TOO_LONG_{key.upper()}"
    limit = catalog.fields[key].max_length if key in catalog.fields else None

    def read_text(values: Mapping[str, Any]) -> str:
        text = _as_text(values.get(key), label)
        return _bounded(text.strip() if trimmed else text, label, limit, code)

    return read_text


def _bounded(text: str, label: str, limit: int | None, code: str | None = None) -> str:
    if limit is not None and len(text) > limit:
        raise _Refused(f"{label}超过{limit}个字符", code)
    return text


def _months(raw: Any, catalog: Catalog) -> int | None:
    label, limit = _label("contribution_months", catalog), catalog.fields["contribution_months"].max_value
    if isinstance(raw, str | bytes):
        text = _as_text(raw, label).strip()
        raw = int(text) if text.isascii() and text.isdigit() else (text or None)
    elif isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _Refused(f"{label}应为整数（收到非数字内容）", "CONTRIBUTION_FORMAT")
    if raw < 0 or (limit is not None and raw > limit):
        raise _Refused(f"{label}{raw}超出合理范围（0–{limit}）", "CONTRIBUTION_RANGE")
    return raw


def _items(raw: Any) -> tuple[str, ...]:
    text = unicodedata.normalize("NFKC", _as_text(raw, "办理事项"))
    codes = tuple(c.strip() for c in _ITEM_SEPARATOR.split(text) if c.strip())
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise _Refused(f"办理事项重复：{'、'.join(map(shown_code, repeated))}", "ITEMS_REPEATED")  # a name typed there
    return codes


def _moment(raw: Any, label: str, code: str | None = None) -> str:
    text = _as_text(raw, label).strip()
    try:
        utc = moment_of(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise _Refused(f"{label}格式错误（应为 ISO 8601，如 2025-01-02T10:00:00+08:00）", code) from None
    if not _EARLIEST <= utc < _LATEST:
        raise _Refused(f"{label}超出合理范围（1990–2099年）", code)
    return text


_made: list[tuple[Catalog, dict[str, Any]]] = []  # the readers of the catalog last read with


def _readers(catalog: Catalog) -> dict[str, Any]:
    """Domain key → how to read it from the row's values (made once per catalog, not per row)."""
    if not _made or _made[0][0] is not catalog:
        _made[:] = [(catalog, _make_readers(catalog))]
    return _made[0][1]


def _make_readers(catalog: Catalog) -> dict[str, Any]:
    text = {k: _text_reader(k, catalog) for k in
            ("name", "id_number", "employer_name", "employer_uscc", "pension_start", "phone", "original_age",
             "retirement_type")}
    return {"case_no": lambda v: normalise_case_no(v.get("case_no")), **text,
            "contribution_months": lambda v: _months(v.get("contribution_months"), catalog),
            "items": lambda v: _items(v.get("items")),
            "approved_at": lambda v: _moment(v.get("approved_at"), "审批时间", "APPROVED_AT_FORMAT"),
            "password": lambda v: _password(v.get("password"))}


def _password(raw: Any) -> str | None:
    text = _as_text(raw, "查询密码").strip()
    if text and not _PASSWORD.fullmatch(text):
        raise _Refused("查询密码格式错误（应为4–32位字母或数字）")
    return text or None


def _printable(raw: Any, seq: int) -> str:
    """Something an operator can look up in the 前置库 when the 办件编号 itself cannot be read: its printable
    characters, each one outside ASCII shown as ``*`` (a name typed there), any ID- or mobile-number-shaped run
    masked (the 办件编号 may be refused for being one, and this is stored and shown) before it is cut to length."""
    text = raw if isinstance(raw, str) else ""
    shown = code_shown("".join(c for c in text if c.isprintable() and not c.isspace()))
    return (shown[:CASE_NO_MAX - 1] + "…" if len(shown) > CASE_NO_MAX else shown) or f"(序号{seq})"


def _read_all(row: SourceRow, readers: Mapping[str, Any]) -> tuple[dict[str, Any], list[Reason]]:
    """Every column through its reader: the values read, and the reasons of those that could not be."""
    read_values: dict[str, Any] = {}
    reasons: list[Reason] = []
    for key, reader in readers.items():
        try:
            read_values[key] = reader(row.values)
        except _Refused as problem:
            reasons.append(Reason(problem.code or f"UNREADABLE_{key.upper()}", str(problem)))
    return read_values, reasons


def _unreadable(row: SourceRow, read_values: Mapping[str, Any], reasons: list[Reason]) -> Unreadable:
    case_no = read_values.get("case_no") or _printable(row.values.get("case_no"), row.seq)
    return Unreadable(row.seq, case_no, [r.message for r in reasons], row.values, tuple(r.code for r in reasons))


def read(row: SourceRow, catalog: Catalog) -> RetirementRecord | Unreadable:
    """The record the row holds, or every reason it cannot be read (one per column)."""
    read_values, reasons = _read_all(row, _readers(catalog))
    if reasons:
        return _unreadable(row, read_values, reasons)
    return RetirementRecord(source_seq=row.seq, **read_values)


def _status_code(raw: Any, codes: Mapping[str, Status], table: str) -> str:
    code = _as_text(raw, "办理状态").strip()
    if code not in codes:
        raise _Refused(f"办理状态码 {quoted_code(code)} 不在 {table} 中：请与人社联络员核对后补充映射")
    return code


def _result(raw: Any) -> dict[str, str] | None:
    """办理结果: absent, or a JSON object of text/number values (checked against its form when recorded)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = json.loads(_as_text(raw, "办理结果"))
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
        raise _Refused("办理结果不是约定的 JSON 对象（键值均为文本）")
    return {str(k): str(v) for k, v in value.items()}


_T = TypeVar("_T")
#: distinct values each status-log column remembers having read (:func:`_once`)
READ_ONCE = 4096


def _once(read: Callable[[Any], _T]) -> Callable[[Any], _T]:
    """`read`, remembering what it made of each text, number or None (a status log repeats its 办件编号 for each
    item and status, its 事项编码 and times for many cases; reading each anew was a third of collecting
    HRSS's log); any other value (a list from a JSON body, bytes) is read each time. A value `read` refuses
    is not remembered: it is refused again, with the same words."""
    remembered = lru_cache(maxsize=READ_ONCE, typed=True)(read)

    def reader(raw: Any) -> _T:
        return remembered(raw) if raw is None or type(raw) in (str, int) else read(raw)
    return reader


_status_case_no = _once(normalise_case_no)
_status_item_code = _once(lambda raw: unicodedata.normalize("NFKC", _as_text(raw, "事项编码")).strip())


def _status_moment(raw: Any) -> str:
    """A status row's 办理时间 as the hub keeps it (with its offset); refused when ahead of the hub's clock by more
    than :data:`~lianban.domain.clock.AHEAD_ALLOWED` (the row is parked and read again each run: taken once its
    time has come)."""
    text = _moment(raw, "办理时间")
    if ahead(moment_of(text)):
        raise _Refused(f"办理时间晚于中枢当前时间超过 {AHEAD_ALLOWED.seconds // 60} 分钟，"
                       f"请核对前置库服务器的时钟与时区")
    return explicit(text)


_status_time = _once(_status_moment)
_status_reason = _once(lambda raw: _bounded(_as_text(raw, "原因").strip(), "原因", REASON_MAX) or None)
_status_materials = _once(lambda raw: _materials(raw, "补正材料"))


def read_status(row: SourceRow, codes: Mapping[str, Status], table: str) -> StatusChange | Unreadable:
    """One status-log row in unified terms (`codes`: the source's code → status, kept in `table`), or why
    it cannot be placed. Read column by column at once; a row something refuses is read again reader by
    reader (:func:`_read_all`), so that every reason is told (a reader per column and call was a fifth of
    collecting HRSS's log)."""
    v = row.values
    try:
        code = _status_code(v.get("status_code"), codes, table)
        return StatusChange(row.seq, _status_case_no(v.get("case_no")), _status_item_code(v.get("item_code")),
                            codes[code], code, _status_time(v.get("changed_at")), _status_reason(v.get("reason")),
                            _result(v.get("result")), _status_materials(v.get("materials")))
    except _Refused:
        return _refused_status(row, codes, table)


def _refused_status(row: SourceRow, codes: Mapping[str, Status], table: str) -> Unreadable:
    readers = {
        "case_no": lambda v: _status_case_no(v.get("case_no")),
        "item_code": lambda v: _status_item_code(v.get("item_code")),
        "status_code": lambda v: _status_code(v.get("status_code"), codes, table),
        "changed_at": lambda v: _status_time(v.get("changed_at")),
        "reason": lambda v: _status_reason(v.get("reason")),
        "result": lambda v: _result(v.get("result")),
        "materials": lambda v: _status_materials(v.get("materials")),
    }
    got, reasons = _read_all(row, readers)
    return _unreadable(row, got, reasons)


def _materials(raw: Any, label: str) -> tuple[str, ...]:
    try:
        return read_materials(_as_text(raw, label))
    except UnknownMaterial as exc:
        raise _Refused(str(exc)) from None


def _supplied(raw: Any) -> tuple[str, ...]:
    codes = _materials(raw, "补正材料")
    if not codes:
        raise _Refused("补正材料为空（应列出所交材料的编码）")
    return codes


def _supplement_item(raw: Any) -> str:
    """A 补正 submission's 事项编码: up to four letters or digits (anything else, a name typed there, is refused
    unquoted: it was kept cut to the ledger's four characters)."""
    code = unicodedata.normalize("NFKC", _as_text(raw, "事项编码")).strip()
    if not code_shaped(code):
        raise _Refused("事项编码格式错误（应为事项目录中的编码，如 11）")
    return code


def read_supplement(row: SourceRow) -> SupplementSubmission | Unreadable:
    """One 补正 submission row (办件编号, 事项编码, materials supplied, 提交时间), or why it cannot be placed."""
    readers = {
        "case_no": lambda v: normalise_case_no(v.get("case_no")),
        "item_code": lambda v: _supplement_item(v.get("item_code")),
        "materials": lambda v: _supplied(v.get("materials")),
        "supplied_at": lambda v: explicit(_moment(v.get("supplied_at"), "提交时间")),
    }
    got, reasons = _read_all(row, readers)
    if reasons:
        return _unreadable(row, got, reasons)
    return SupplementSubmission(row.seq, got["case_no"], got["item_code"], got["materials"], got["supplied_at"])
