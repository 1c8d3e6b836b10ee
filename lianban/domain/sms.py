"""短信 (SMS) rules, pure: templates with named placeholders, segment counting, the ID-number guard, quiet hours.

Length and segments, as Chinese operators count and bill them (短信计费规则)::

    length     UCS-2 code units of the whole text, the signature 【…】 included: every 汉字, letter, digit and
               punctuation mark, full- or half-width, counts 1; a character outside the BMP (a rare 汉字, an
               emoji) counts 2
    segments   length ≤ 70 → 1 segment; longer → ceil(length / 67): a concatenated message spends 6 of each
               segment's 140 bytes on its header (UDH), leaving 67 UCS-2 characters

GSM 03.38's 7-bit alphabet (160 / 153 characters per segment) is not used: domestic gateways count every
message by the UCS-2 rule, and ours always carry a Chinese signature.

Templates live in ``schemas/sms/templates.yaml`` and are checked when loaded; a fault is a
:class:`TemplateError` (a :class:`~lianban.errors.ConfigError`) naming the file, the template and the fault:
the signature is 【2–12 characters】; each placeholder ``{name}`` is a bare identifier (no position, format
spec or conversion, braces balanced), used in the text and declared with a ``max_length``, and nothing is
declared that the text does not use; the worst case (every placeholder at its ``max_length``) fits the
template's ``max_segments`` and the gateway's ``max_chars``; the text holds no ID-number-shaped run.

:meth:`TemplateBook.render` checks, in this order::

    unknown template, missing placeholder, unexpected value      TemplateError: the caller's bug, fix and rerun
    value longer than max_length or not matching its pattern     MessageRefused, code VALUE
    rendered text holding an ID-number-shaped run                MessageRefused, code ID_NUMBER

A refusal names the template and the placeholder, never the value. Quiet hours (免打扰时段): 21:00–08:00
Asia/Shanghai, computed from a timezone-aware instant (never the machine's zone; lianban.domain.clock);
:func:`allowed_at` gives the next instant a message may go, and a template says whether it waits
(``quiet_hours: respect``) or may wake its reader (``ignore``: an outage alert to a 联络员).
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from lianban.domain.clock import BEIJING
from lianban.domain.identity import _ID_RUN, phone_problem
from lianban.domain.schemas import schema_path
from lianban.errors import ConfigError, RejectedError

__all__ = ["EXHAUSTED", "MAX_SENDS", "TEMPLATES_FILE", "MessageRefused", "Placeholder", "QuietHours", "Template",
           "TemplateBook", "TemplateError", "allowed_at", "has_id_number", "in_quiet_hours", "is_mobile",
           "load_templates", "mobile_number", "segments", "sms_length"]

TEMPLATES_FILE = schema_path("sms", "templates.yaml")
#: sends of one version of a notice (a failed delivery sent again) before it is dead, for an operator
MAX_SENDS = 3
#: how the reason of a notice dead for want of sends begins (every send failed: 关机, 停机 … at its number, most
#: often one the person no longer uses): it never reached the person, so it goes again once the source holds
#: another number for them (lianban.pipeline.sms_notices.exhausted), and keeps its vault key until then
#: (lianban.ledger.sealed)
EXHAUSTED = f"已发送{MAX_SENDS}次均未送达"
SINGLE_SEGMENT = 70  # UCS-2 characters in a message sent as one segment
CONCATENATED_SEGMENT = 67  # per segment of a concatenated (long) message
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
_SIGNATURE = re.compile(r"^【[^【】]{2,12}】$")
_FILLER = "字"  # the worst case's stand-in for each placeholder character
_SEPARATORS = re.compile(r"[\s-]")  # what people write between a phone number's digits
_COUNTRY_CODE = re.compile(r"(?:\+86|0086|86)(1\d{10})")


class TemplateError(ConfigError):
    """A template file or a call of :meth:`TemplateBook.render` is wrong: fix it, retrying will not help."""


class MessageRefused(RejectedError):
    """A value makes this message unsendable (``code`` VALUE or ID_NUMBER, Chinese ``reason``); never sent."""


class QuietHours(StrEnum):
    RESPECT = "respect"  # held from 21:00 until 08:00 Asia/Shanghai
    IGNORE = "ignore"  # may be sent at night (an operator alert about an outage)


# -- length and segments ---------------------------------------------------------------------------------
def sms_length(text: str) -> int:
    """Characters as the operator counts them: UCS-2 code units (outside the BMP a character counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """Segments `text` is sent (and billed) as: 70 characters in one, 67 per segment when concatenated."""
    length = sms_length(text)
    if length <= SINGLE_SEGMENT:
        return 1 if length else 0
    return math.ceil(length / CONCATENATED_SEGMENT)


def has_id_number(text: str) -> bool:
    """Does `text` hold an ID-number-shaped run (18 characters, full-width digits and check letter Ｘ too: the
    text is read NFKC-normalised)? Such text is never sent."""
    return _ID_RUN.search(unicodedata.normalize("NFKC", text)) is not None


def is_mobile(phone: str | None) -> bool:
    """Is `phone` a number an SMS can be sent to (an 11-digit mainland mobile number in ASCII digits)?"""
    return bool(phone) and phone_problem(phone or "") is None and (phone or "").isascii()


def mobile_number(raw: str) -> str:
    """The 11-digit mobile number `raw` writes, however written — read NFKC-normalised (full-width digits),
    without spaces or hyphens, without a country code +86, 0086 or 86 — or `raw` as it is when it writes none
    (the SMS connector then reports it invalid, :func:`is_mobile`, and sends nothing)."""
    compact = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    match = _COUNTRY_CODE.fullmatch(compact)
    number = match[1] if match else compact
    return number if is_mobile(number) else raw


# -- quiet hours -------------------------------------------------------------------------------------------
def _in_shanghai(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("quiet hours need a timezone-aware instant (e.g. datetime.now(UTC)), not a naive one")
    return instant.astimezone(BEIJING)


def in_quiet_hours(instant: datetime) -> bool:
    """Is `instant` within 21:00–08:00 Asia/Shanghai (21:00 included, 08:00 not)?"""
    local = _in_shanghai(instant).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


def allowed_at(instant: datetime, policy: QuietHours = QuietHours.RESPECT) -> datetime:
    """The earliest instant at or after `instant` a message under `policy` may be sent: `instant` itself
    outside quiet hours (or when the policy ignores them), else the next 08:00 Asia/Shanghai."""
    local = _in_shanghai(instant)
    if policy is QuietHours.IGNORE or not in_quiet_hours(instant):
        return instant
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, tzinfo=BEIJING)


# -- templates ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Placeholder:
    name: str
    max_length: int  # characters, counted as sms_length counts them
    pattern: re.Pattern[str] | None = None  # the whole value must match
    description: str = ""

    def problem(self, value: str) -> str | None:
        """Why `value` cannot fill this placeholder (in Chinese, without the value), or None."""
        if sms_length(value) > self.max_length:
            return f"占位符 {self.name} 的值超长（最多 {self.max_length} 字）"
        if self.pattern is not None and not self.pattern.fullmatch(value):
            return f"占位符 {self.name} 的值格式不符（{self.description or self.pattern.pattern}）"
        return None


@dataclass(frozen=True)
class Template:
    key: str
    name: str  # the Chinese name (到龄提醒, 待遇告知 …)
    text: str  # without the signature
    placeholders: Mapping[str, Placeholder]
    quiet_hours: QuietHours
    max_segments: int


@dataclass(frozen=True)
class TemplateBook:
    """Every template, checked; renders messages with the signature in front."""

    signature: str
    max_chars: int
    templates: Mapping[str, Template]

    def __getitem__(self, key: str) -> Template:
        try:
            return self.templates[key]
        except KeyError:
            raise TemplateError(f"未知的短信模板 {key!r}；可用：{'、'.join(self.templates)} "
                                f"(unknown SMS template; see {TEMPLATES_FILE})") from None

    def worst_case(self, key: str) -> str:
        """`key` rendered with every placeholder at its longest: what the length check measures."""
        t = self[key]
        return self.signature + t.text.format_map({p.name: _FILLER * p.max_length for p in t.placeholders.values()})

    def render(self, key: str, **values: str | int) -> str:
        """The message text: signature + template with `values`; see the module docstring for refusals."""
        t = self[key]
        given = {name: str(value) for name, value in values.items()}
        _require_exact(t, given)
        for placeholder in t.placeholders.values():
            problem = placeholder.problem(given[placeholder.name])
            if problem:
                raise MessageRefused(f"短信模板 {key}（{t.name}）：{problem}", code="VALUE", reason=problem)
        text = self.signature + t.text.format_map(given)
        if has_id_number(text):
            reason = "短信内容含疑似身份证号码，不予发送；请检查填入模板的值"
            raise MessageRefused(f"短信模板 {key}（{t.name}）：{reason}", code="ID_NUMBER", reason=reason)
        return text


def _require_exact(t: Template, given: Mapping[str, str]) -> None:
    missing = [n for n in t.placeholders if n not in given]
    unexpected = sorted(set(given) - set(t.placeholders))
    if missing:
        raise TemplateError(f"短信模板 {t.key}（{t.name}）缺少占位符 {'、'.join(missing)} 的值 "
                            f"(missing placeholder {', '.join(missing)})")
    if unexpected:
        raise TemplateError(f"短信模板 {t.key}（{t.name}）没有占位符 {'、'.join(unexpected)} "
                            f"(unexpected value for {', '.join(unexpected)})")


# -- loading and checking ------------------------------------------------------------------------------------
def _bad(source: Path, where: str, zh: str, en: str) -> TemplateError:
    return TemplateError(f"短信模板文件 {source} 有误：{where}{zh} (SMS templates {source}: {where}{en})")


def placeholders_in(text: str) -> list[str]:
    """The placeholder names of `text` in order of first use; ValueError with a Chinese sentence when one is
    malformed (unbalanced brace, position, attribute, index, format spec or conversion)."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        raise ValueError("花括号不成对（字面量花括号不允许出现在模板中）") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"占位符 {{{field}}} 格式不合法：只允许 {{名称}}（字母、数字、下划线）")
        if field not in names:
            names.append(field)
    return names


def _placeholder(name: str, raw: Any) -> Placeholder:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("max_length"), int) or raw["max_length"] < 1:
        raise ValueError(f"占位符 {name} 须声明正整数 max_length")
    try:
        pattern = re.compile(raw["pattern"]) if raw.get("pattern") else None
    except re.error:
        raise ValueError(f"占位符 {name} 的 pattern 不是合法的正则表达式") from None
    return Placeholder(name, raw["max_length"], pattern, str(raw.get("description") or ""))


def _policy(raw: Mapping[str, Any]) -> tuple[QuietHours, int]:
    """The template's quiet-hours policy and segment budget."""
    policy, budget = raw.get("quiet_hours", "respect"), raw.get("max_segments", 1)
    if policy not in {q.value for q in QuietHours}:
        raise ValueError(f"quiet_hours 应为 respect 或 ignore，而不是 {policy!r}")
    if not isinstance(budget, int) or budget < 1:
        raise ValueError("max_segments 应为正整数")
    return QuietHours(policy), budget


def _template(key: str, raw: Mapping[str, Any]) -> Template:
    text = "".join(line.strip() for line in str(raw.get("text") or "").splitlines())
    if not text:
        raise ValueError("缺少 text")
    used, declared = placeholders_in(text), raw.get("placeholders") or {}
    undeclared = [n for n in used if n not in declared]
    unused = [n for n in declared if n not in used]
    if undeclared or unused:
        raise ValueError(f"占位符与声明不一致（未声明：{'、'.join(undeclared) or '无'}；"
                         f"未使用：{'、'.join(unused) or '无'}）")
    return Template(key, str(raw.get("name") or key), text, {n: _placeholder(n, declared[n]) for n in used},
                    *_policy(raw))


def _check(book: TemplateBook, key: str) -> None:
    t, worst = book[key], book.worst_case(key)
    length, count = sms_length(worst), segments(worst)
    if has_id_number(t.text) or has_id_number(worst):
        raise ValueError("模板正文含疑似身份证号码的18位数字串，不予使用")
    if count > t.max_segments:
        raise ValueError(f"最长情形 {length} 字，需 {count} 条短信，超过 max_segments {t.max_segments}")
    if length > book.max_chars:
        raise ValueError(f"最长情形 {length} 字，超过网关上限 max_chars {book.max_chars}")


def parse_templates(doc: Any, source: Path) -> TemplateBook:
    """A :class:`TemplateBook` from the parsed YAML `doc`; TemplateError names `source`, the template and the fault."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("templates"), Mapping) or not doc["templates"]:
        raise _bad(source, "", "缺少 templates", "no templates")
    signature = str(doc.get("signature") or "")
    if not _SIGNATURE.match(signature):
        raise _bad(source, "", "signature 应为【2–12个字】", "signature must be 【2-12 characters】")
    templates: dict[str, Template] = {}
    for key, raw in doc["templates"].items():
        try:
            templates[key] = _template(str(key), raw if isinstance(raw, Mapping) else {})
        except ValueError as exc:
            raise _bad(source, f"模板 {key}：", str(exc), str(exc)) from None
    book = TemplateBook(signature, int(doc.get("max_chars") or 500), templates)
    for key in templates:
        try:
            _check(book, key)
        except ValueError as exc:
            raise _bad(source, f"模板 {key}：", str(exc), str(exc)) from None
    return book


def load_templates(path: Path | None = None) -> TemplateBook:
    """The templates in `path` (default ``schemas/sms/templates.yaml``, read once), checked."""
    return _load(path or TEMPLATES_FILE)


@cache
def _load(path: Path) -> TemplateBook:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise _bad(path, "", f"无法读取（{type(exc).__name__}）", f"cannot be read ({type(exc).__name__})") from None
    return parse_templates(doc, path)
