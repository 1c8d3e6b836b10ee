"""Results carried back with a status (办理结果): what an item's outcome is, beyond its status.

Which (item, party) pairs bring one back, their keys and shapes and the applicant's sentence are data, in
``schemas/catalog/results.yaml`` (the seed's 一体反馈: the applicant learns the outcome, not only that it is
done); for 退休一件事::

    12 医保累计缴费年限确认   medical, with 已办结: the confirmed months, the months required, the shortfall
    13 独生子女父母一次性奖励 health, with 审核通过: the reward found due; HRSS, with 已办结: the amount paid, the date
    14 住房公积金提取         housing_fund, with 已办结: the amount transferred, the date

A result is a flat mapping of text values (as it travels on every wire). :func:`check` says what is wrong with
one in Chinese (an unknown key, a missing one, a value of the wrong shape), and :func:`summary` writes the
sentence the applicant reads (皖事通办, the progress query). Results are personal: the ledger keeps them
sealed (lianban.crypto.vault) and they never appear in a log line.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from lianban.domain.catalog import load_catalog, read_file
from lianban.domain.identity import code_shown
from lianban.errors import ConfigError

__all__ = ["ResultForm", "Sentence", "check", "load_results", "summary"]

RESULTS_FILE = "results.yaml"
_FORMATTER = string.Formatter()
#: what may follow a key's name in a sentence: nothing (the value as given) or ``years`` (months as 年 and 个月)
SPECS = ("", "years")


def _years(months: str) -> str:
    years, rest = divmod(int(months), 12)
    return f"{years}年{rest}个月" if rest else f"{years}年"


@dataclass(frozen=True)
class Sentence:
    """One way of saying a result: `text` with ``{key}`` and ``{key:years}``, said when the value of `when` is
    not zero (None: always)."""

    text: str
    when: str | None = None

    def holds(self, result: Mapping[str, str]) -> bool:
        return self.when is None or result[self.when].strip("0") != ""

    def say(self, result: Mapping[str, str]) -> str:
        parts = _FORMATTER.parse(self.text)
        return "".join(literal + ("" if key is None else _value(result[key], spec or ""))
                       for literal, key, spec, _ in parts)


def _value(value: str, spec: str) -> str:
    return _years(value) if spec == "years" else value


@dataclass(frozen=True)
class ResultForm:
    """The keys (and their shapes) of one item's result from one party, and its sentences."""

    keys: Mapping[str, re.Pattern[str]]
    sentences: tuple[Sentence, ...]

    def sentence(self, result: Mapping[str, str]) -> str:
        return next(s for s in self.sentences if s.holds(result)).say(result)


def check(item_code: str, party: str, result: Mapping[str, object]) -> str | None:
    """Why `result` (from `party`, for item `item_code`) cannot be taken, in Chinese; None when it can.
    The reason names keys, never values (they are personal)."""
    form = load_results().get((item_code, party))
    if form is None:
        return f"事项 {code_shown(item_code)} 不应由 {party} 返回办理结果"  # a name typed as the code: not repeated
    unknown = sorted(set(result) - set(form.keys))
    missing = sorted(set(form.keys) - set(result))
    bad = sorted(k for k, shape in form.keys.items() if k in result and not shape.fullmatch(str(result[k])))
    problems = [f"未约定的结果项 {'、'.join(unknown)}"] * bool(unknown) + \
        [f"缺少结果项 {'、'.join(missing)}"] * bool(missing) + [f"结果项格式不符 {'、'.join(bad)}"] * bool(bad)
    return f"事项 {item_code} 的办理结果：{'；'.join(problems)}" if problems else None


def summary(item_code: str, party: str, result: Mapping[str, str]) -> str:
    """The sentence the applicant reads for a result that passed :func:`check`."""
    return load_results()[(item_code, party)].sentence(result)


@cache
def load_results() -> dict[tuple[str, str], ResultForm]:
    """(item code, party reporting) → the form of its result, from ``results.yaml``, checked once per process
    against itself and the catalog: a mistake is one ConfigError naming the file and the entry."""
    data = read_file(RESULTS_FILE)
    shapes = _shapes(data.get("shapes"))
    entries = data.get("results")
    if not isinstance(entries, list):
        raise ConfigError(f"{RESULTS_FILE}: 缺少 results 列表 (no results list)")
    forms: dict[tuple[str, str], ResultForm] = {}
    for n, entry in enumerate(entries, 1):
        key, form = _entry(entry, shapes, n)
        if key in forms:
            raise ConfigError(f"{RESULTS_FILE}: 事项 {key[0]} 的 {key[1]} 办理结果出现了两次 "
                              f"(item {key[0]}, party {key[1]} appears twice)")
        forms[key] = form
    return forms


def _shapes(given: Any) -> dict[str, re.Pattern[str]]:
    if not isinstance(given, dict) or not given:
        raise ConfigError(f"{RESULTS_FILE}: 缺少 shapes (no shapes)")
    try:
        return {str(name): re.compile(str(pattern)) for name, pattern in given.items()}
    except re.error as exc:
        raise ConfigError(f"{RESULTS_FILE}: shapes 中有无效的正则表达式：{exc} "
                          "(a shape is not a valid pattern)") from None


def _entry(entry: Any, shapes: Mapping[str, re.Pattern[str]], n: int) -> tuple[tuple[str, str], ResultForm]:
    """One entry of ``results`` checked: its (item, party) and form; a ConfigError naming the entry."""
    where = f"{RESULTS_FILE}: 第 {n} 项"
    if not isinstance(entry, dict) or set(entry) != {"item", "party", "keys", "sentences"}:
        raise ConfigError(f"{where}应有且只有 item、party、keys、sentences (entry {n}: item, party, keys, "
                          f"sentences, nothing else)")
    item, party = str(entry["item"]), str(entry["party"])
    where = f"{RESULTS_FILE}: 事项 {item} 的 {party} 办理结果"
    _check_party(item, party, where)
    keys = entry["keys"]
    if not isinstance(keys, dict) or not keys or not set(map(str, keys.values())) <= set(shapes):
        raise ConfigError(f"{where}：keys 应为结果项到 shapes 中形状的对应 (keys must map each key to a shape of "
                          f"{', '.join(shapes)})")
    form = ResultForm({str(k): shapes[str(v)] for k, v in keys.items()}, _sentences(entry["sentences"], keys, where))
    return (item, party), form


def _check_party(item: str, party: str, where: str) -> None:
    known = load_catalog().items.get(item)
    if known is None:
        raise ConfigError(f"{where}：事项不在事项目录中 (item {item} is not in items.yaml)")
    if party not in (known.department, known.completer):
        raise ConfigError(f"{where}：{party} 既不办理也不办结该事项 (party {party} neither handles nor completes "
                          f"item {item})")


def _sentences(given: Any, keys: Mapping[str, Any], where: str) -> tuple[Sentence, ...]:
    if not isinstance(given, list) or not given:
        raise ConfigError(f"{where}：缺少 sentences (no sentences)")
    try:
        sentences = tuple(Sentence(**s) for s in given)
    except TypeError:
        raise ConfigError(f"{where}：每句应有 text，可有 when (each sentence: text, and when or not)") from None
    if sentences[-1].when is not None:
        raise ConfigError(f"{where}：最后一句不应有 when (the last sentence is said when no other is)")
    for sentence in sentences:
        _check_sentence(sentence, keys, where)
    return sentences


def _check_sentence(sentence: Sentence, keys: Mapping[str, Any], where: str) -> None:
    try:
        named = [(key + (f"!{conversion}" if conversion else ""), spec or "")
                 for _, key, spec, conversion in _FORMATTER.parse(str(sentence.text)) if key is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}：句子写错了：{exc} (a sentence does not parse)") from None
    wrong = [f"{{{key}:{spec}}}" if spec else f"{{{key}}}" for key, spec in named
             if key not in keys or spec not in SPECS]
    if sentence.when is not None and sentence.when not in keys:
        wrong.append(f"when: {sentence.when}")
    if wrong:
        raise ConfigError(f"{where}：{'、'.join(wrong)} 不是该结果的结果项，或格式不是 {'、'.join(SPECS[1:])} "
                          f"(not a key of the result, or not a known format)")
