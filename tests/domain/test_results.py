"""Results carried back (办理结果): their forms, and the sentence the applicant reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from lianban.domain.results import check, load_results, summary
from lianban.errors import ConfigError
from tests.catalog_kit import edit


@pytest.mark.parametrize(("code", "party", "result", "sentence"), [
    ("12", "medical", {"paid_months": "327", "required_months": "360", "shortfall_months": "33"},
     "医保累计缴费年限确认为27年3个月，距规定年限（30年）尚差2年9个月，需补缴"),
    ("12", "medical", {"paid_months": "300", "required_months": "300", "shortfall_months": "0"},
     "医保累计缴费年限确认为25年，已达到规定年限（25年）"),
    ("13", "health", {"amount": "3000.00"}, "符合领取条件，一次性奖励3000.00元，待人社部门发放"),
    ("14", "housing_fund", {"amount": "12345.67", "transferred_on": "2026-12-01"},
     "住房公积金提取12345.67元已于2026-12-01转账"),
])
def test_each_result_reads_as_one_sentence(code: str, party: str, result: dict[str, str], sentence: str) -> None:
    assert check(code, party, result) is None
    assert summary(code, party, result) == sentence


def test_a_result_from_the_wrong_party_or_of_the_wrong_shape_is_refused_naming_keys() -> None:
    assert "不应由 health" in (check("14", "health", {"amount": "1.00"}) or "")
    reason = check("13", "hrss", {"amount": "3000", "paid_on": "2026-13-01", "iban": "x"}) or ""
    assert "未约定的结果项 iban" in reason and "格式不符 amount、paid_on" in reason
    assert "缺少结果项 paid_months" in (check("12", "medical", {"required_months": "1", "shortfall_months": "0"})
                                     or "")


def test_a_value_with_a_trailing_line_break_is_of_the_wrong_shape() -> None:
    """`$` matched before a final newline: "3000.00\n" passed as an amount, and went into the applicant's
    sentence with the break."""
    assert "格式不符 amount" in (check("13", "health", {"amount": "3000.00\n"}) or "")
    assert check("13", "health", {"amount": "3000.00"}) is None


def test_a_new_items_result_is_a_few_lines_of_data(broken_catalog_dir: Path) -> None:
    """A later item (or another 一件事) brings its result form in the catalog: no code names an item."""
    with open(broken_catalog_dir / "items.yaml", "a", encoding="utf-8") as items:
        items.write('  - {code: "15", name: 新事项, department: health, fields: [name], time_limit_days: 5}\n')
    with open(broken_catalog_dir / "results.yaml", "a", encoding="utf-8") as results:
        results.write('  - item: "15"\n    party: health\n    keys: {months: months, paid_on: date}\n'
                      '    sentences:\n      - {when: months, text: "已认定{months:years}，{paid_on}起发放"}\n'
                      '      - {text: 无需认定}\n')
    assert check("15", "health", {"months": "14", "paid_on": "2026-12-01"}) is None
    assert summary("15", "health", {"months": "14", "paid_on": "2026-12-01"}) == "已认定1年2个月，2026-12-01起发放"
    assert summary("15", "health", {"months": "00", "paid_on": "2026-12-01"}) == "无需认定"
    assert "格式不符 paid_on" in (check("15", "health", {"months": "1", "paid_on": "1.12"}) or "")


@pytest.mark.parametrize(("old", "new", "said"), [
    ("party: housing_fund", "party: medical", r"事项 14 的 medical .*neither handles nor completes"),
    ('item: "14"', 'item: "99"', r"item 99 is not in items\.yaml"),
    ("{amount: amount, transferred_on: date}", "{amount: amount, transferred_on: day}", r"keys must map"),
    ("{transferred_on}转账", "{transferred_at}转账", r"\{transferred_at\} 不是该结果的结果项"),
    ("{paid_months:years}，已达到", "{paid_months:decades}，已达到", r"\{paid_months:decades\}"),
    ("{amount}元已于{paid_on}", "{amount!r}元已于{paid_on}", r"\{amount!r\}"),
    ("      - text: 住房公积金", "      - when: amount\n        text: 住房公积金", r"最后一句不应有 when"),
    ("when: shortfall_months", "when: shortfall", r"when: shortfall"),
    ("amount: '\\d{1,9}\\.\\d{2}'", "amount: '(\\d'", r"shapes .*not a valid pattern"),
    ('  - item: "13"\n    party: health', '  - item: "13"\n    party: hrss', r"13 的 hrss .*appears twice"),
])
def test_a_mistake_in_the_results_file_is_one_error_naming_the_entry(broken_catalog_dir: Path, old: str, new: str,
                                                                      said: str) -> None:
    edit(broken_catalog_dir / "results.yaml", old, new)
    with pytest.raises(ConfigError, match=said):
        load_results()
