"""Intake reads any 前置库 row without raising: what it can read becomes a record, the rest a reason that names
the column (lianban.domain.intake)."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from lianban.domain.catalog import Catalog
from lianban.domain.intake import SourceRow, Unreadable, normalise_case_no, read, read_status, read_supplement
from lianban.domain.record import RetirementRecord
from lianban.domain.statuses import Status, StatusChange
from lianban.domain.supplements import SupplementSubmission


def row(record: RetirementRecord, **changes: Any) -> SourceRow:
    values = {**record.as_values(), "items": ",".join(record.items), **changes}
    return SourceRow(7, values)


@pytest.mark.parametrize(("raw", "expected"), [
    ("BZTX202502000001", "BZTX202502000001"),
    (" bztx202502000001 ", "BZTX202502000001"),
    ("ＢＺＴＸ２０２５０２０００００１", "BZTX202502000001"),
    (b"BZ-2025_7", "BZ-2025_7"),
    (2025000017, "2025000017"),
])
def test_near_duplicate_case_numbers_normalise_to_one(raw: Any, expected: str) -> None:
    assert normalise_case_no(raw) == expected


@pytest.mark.parametrize(("raw", "words"), [
    (None, "为空"), ("", "为空"), ("   ", "为空"), ("A" * 41, "超过40个字符"), ("BZ\x001", "控制字符"),
    ("BZ\u200b1", "控制字符"), ("BZ 1", "只能包含"), ("-BZ1", "只能包含"), ("办件1", "只能包含"),
    (b"\xff\xfe", "编码无法识别"), ("BZ\ud800", "编码无法识别"), (True, "类型错误"), (1.5, "类型错误"),
    ("34162219650115003X", "疑似身份证号码"), ("13812345678", "疑似身份证号码或手机号码"),
])
def test_a_case_number_that_is_not_one_says_why(raw: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        normalise_case_no(raw)


@pytest.mark.parametrize("raw", ["BZ341600202501150001", "BZ-341600-20250115-0001", "BZTX202605000014"])
def test_a_case_number_holding_an_area_code_and_a_date_is_taken(raw: str) -> None:
    """Found in review: masking an ID number next to letters in free text, the case-number check refused numbers
    built of a prefix, an area code, a date and a serial, as real 办件编号 may be."""
    assert normalise_case_no(raw) == raw


def test_a_valid_row_reads_as_its_record(record: RetirementRecord, catalog: Catalog) -> None:
    assert read(row(record), catalog) == record.__class__(**{**record.__dict__, "source_seq": 7})


@pytest.mark.parametrize(("column", "value", "words"), [
    ("contribution_months", "三百", "养老保险缴费月数应为整数"),
    ("contribution_months", "12a", "养老保险缴费月数应为整数"),
    ("contribution_months", "３６０", "养老保险缴费月数应为整数"),
    ("contribution_months", -1, "超出合理范围"),
    ("contribution_months", 10**9, "超出合理范围"),
    ("contribution_months", 3.5, "应为整数"),
    ("contribution_months", True, "应为整数"),
    ("approved_at", "9999-12-31T23:59:59-23:59", "审批时间"),
    ("approved_at", "0001-01-01T00:00:00+23:59", "审批时间"),
    ("approved_at", "2025/01/02 10:00", "审批时间格式错误"),
    ("approved_at", "1970-01-01T00:00:00+00:00", "审批时间超出合理范围"),
    ("name", "张" * 51, "姓名超过50个字符"),
    ("name", "张\x07三", "姓名含有控制字符"),
    ("employer_name", b"\x80abc", "参保单位编码无法识别"),
    ("employer_name", ["a list"], "参保单位类型错误"),
    ("phone", "1" * 12, "联系方式超过11个字符"),
    ("items", "01,11,01", "办理事项重复"),
    ("case_no", "\x00", "办件编号含有控制字符"),
])
def test_one_bad_column_is_named_and_the_row_is_unreadable(record: RetirementRecord, catalog: Catalog,
                                                           column: str, value: Any, words: str) -> None:
    result = read(row(record, **{column: value}), catalog)
    assert isinstance(result, Unreadable) and result.seq == 7
    assert any(words in r for r in result.reasons), result.reasons


def test_every_bad_column_is_named_at_once(record: RetirementRecord, catalog: Catalog) -> None:
    result = read(row(record, contribution_months="x", approved_at="never", name="\x00"), catalog)
    assert isinstance(result, Unreadable) and len(result.reasons) == 3
    assert result.case_no == record.case_no  # readable columns still identify the row


def test_an_unreadable_case_number_is_shown_printable(record: RetirementRecord, catalog: Catalog) -> None:
    shown = read(row(record, case_no="\x00" + "A" * 80), catalog)
    assert isinstance(shown, Unreadable) and len(shown.case_no) <= 40 and "\x00" not in shown.case_no
    blank = read(row(record, case_no=None), catalog)
    assert isinstance(blank, Unreadable) and blank.case_no == "(序号7)"


def test_a_name_typed_into_the_case_number_is_not_shown(record: RetirementRecord, catalog: Catalog) -> None:
    """The 办件编号 column holding the applicant's name (columns swapped at the source): the held row, its
    quarantine row and a parked 补正 row are kept under what is shown of it, so the name is not (it was, whole,
    in the clear); ASCII is shown as typed."""
    shown = read(row(record, case_no=f"BZ/{record.name}"), catalog)
    assert isinstance(shown, Unreadable) and shown.case_no == "BZ/" + "*" * len(record.name)


def test_a_name_or_a_phone_typed_twice_into_the_items_is_not_repeated_in_the_reason(
        record: RetirementRecord, catalog: Catalog) -> None:
    """办理事项 holding the applicant's name or mobile twice (columns swapped at the source): the 办理事项重复
    reason, kept in the quarantine and printed by ``lianban validate``, names the repeated codes as an operator
    may see them (a name starred, a mobile masked), never the name or the number (both were, whole)."""
    for typed in (record.name, record.phone):
        result = read(row(record, items=f"01,{typed},{typed}"), catalog)
        assert isinstance(result, Unreadable) and any("办理事项重复" in r for r in result.reasons), result.reasons
        assert not any(typed in r for r in result.reasons), result.reasons


def test_readable_text_of_other_types_is_accepted(record: RetirementRecord, catalog: Catalog) -> None:
    result = read(row(record, phone=int(record.phone), contribution_months=str(record.contribution_months),
                      items="，".join(record.items), name=f"  {record.name} "), catalog)
    assert isinstance(result, RetirementRecord)
    assert (result.phone, result.contribution_months, result.items, result.name) == (
        record.phone, record.contribution_months, record.items, record.name)


CODES = {"1": Status.ACCEPTED, "9": Status.COMPLETED}


@pytest.mark.parametrize(("values", "words"), [
    ({"status_code": "7"}, "办理状态码 '7' 不在 statuses.py 中"),
    ({"changed_at": "yesterday"}, "办理时间格式错误"),
    ({"case_no": ""}, "办件编号为空"),
    ({"reason": "很长" * 300}, "原因超过500个字符"),
    ({"materials": "M01,M99"}, "补正材料编码 'M99' 不在材料目录"),
])
def test_a_status_row_that_cannot_be_placed_says_why(values: dict[str, Any], words: str) -> None:
    good = {"case_no": "bz1", "item_code": "01", "status_code": "9", "changed_at": "2025-03-01T10:00:00+08:00",
            "reason": None}
    assert read_status(SourceRow(3, good), CODES, "statuses.py") == StatusChange(
        3, "BZ1", "01", Status.COMPLETED, "9", "2025-03-01T10:00:00+08:00", None)
    result = read_status(SourceRow(3, {**good, **values}), CODES, "statuses.py")
    assert isinstance(result, Unreadable) and any(words in r for r in result.reasons), result


def test_a_status_code_that_is_not_shaped_like_one_is_not_echoed() -> None:
    """A phone number typed in the 办理状态 column is parked without any of its digits in the reason (kept in the
    ledger and alerted): a code is named only when it looks like one."""
    row = {"case_no": "bz1", "item_code": "01", "status_code": "13912345678",
           "changed_at": "2025-03-01T10:00:00+08:00"}
    result = read_status(SourceRow(3, row), CODES, "statuses.py")
    assert isinstance(result, Unreadable) and any("办理状态码 （非编码内容） 不在" in r for r in result.reasons)
    assert not any("1391" in r for r in result.reasons)


def test_a_status_log_read_row_after_row_says_the_same_of_a_repeated_value_every_time() -> None:
    """Columns remember what they made of each value; a refused value is refused again, and a value of
    another type (a number for a text, a list from a JSON body) is read as itself, not as an equal text."""
    good = {"case_no": "bz2", "item_code": "０１", "status_code": "1", "changed_at": "2025-03-01T10:00:00+08:00",
            "reason": " 已受理 "}
    first, again = (read_status(SourceRow(n, good), CODES, "statuses.py") for n in (5, 6))
    assert isinstance(first, StatusChange) and isinstance(again, StatusChange)
    assert (first.seq, again.seq) == (5, 6)
    assert (again.case_no, again.item_code, again.reason) == ("BZ2", "01", "已受理")
    bad = {**good, "changed_at": "2025-13-01T10:00:00"}
    for n in (7, 8):
        refused = read_status(SourceRow(n, bad), CODES, "statuses.py")
        assert isinstance(refused, Unreadable) and any("办理时间格式错误" in r for r in refused.reasons)
    as_list = read_status(SourceRow(9, {**good, "case_no": ["BZ2"]}), CODES, "statuses.py")
    assert isinstance(as_list, Unreadable) and as_list.reasons
    assert isinstance(read_status(SourceRow(10, {**good, "item_code": 1}), CODES, "statuses.py"), StatusChange)
    assert isinstance(read_status(SourceRow(11, {**good, "item_code": True}), CODES, "statuses.py"), Unreadable)


def test_a_status_row_refused_in_several_columns_is_told_every_reason() -> None:
    """Read at once and, once something refuses, again column by column: no reason is lost."""
    bad = {"case_no": "bz3", "item_code": "01", "status_code": "77", "changed_at": "2025-13-01T10:00:00",
           "reason": None, "materials": "M99"}
    refused = read_status(SourceRow(12, bad), CODES, "statuses.py")
    assert isinstance(refused, Unreadable) and refused.case_no == "BZ3"
    assert len(refused.reasons) == 3, refused.reasons
    assert [any(words in r for r in refused.reasons) for words in ("办理状态码 '77'", "办理时间格式错误", "M99")] \
        == [True, True, True]


CODES_WITH_SUPPLEMENT = {"4": Status.SUPPLEMENT}


def test_a_supplement_row_names_its_materials_by_code_in_any_separator() -> None:
    row = {"case_no": "BZ1", "item_code": "01", "status_code": "4", "changed_at": "2025-03-01T10:00:00+08:00",
           "reason": "请补正", "materials": " m01，M12、M01 "}
    change = read_status(SourceRow(4, row), CODES_WITH_SUPPLEMENT, "statuses.py")
    assert isinstance(change, StatusChange) and change.materials == ("M01", "M12")


@pytest.mark.parametrize(("values", "words"), [
    ({"materials": "M16"}, "补正材料编码 'M16' 不在材料目录（schemas/catalog/materials.yaml）中"),
    ({"materials": ""}, "补正材料为空"),
    ({"supplied_at": "soon"}, "提交时间格式错误"),
    ({"case_no": "办件"}, "办件编号只能包含"),
])
def test_a_supplement_submission_that_cannot_be_placed_says_why(values: dict[str, Any], words: str) -> None:
    good = {"case_no": "bz1", "item_code": "14", "materials": "M02,M05", "supplied_at": "2025-03-04T09:00:00+08:00"}
    assert read_supplement(SourceRow(5, good)) == SupplementSubmission(
        5, "BZ1", "14", ("M02", "M05"), "2025-03-04T09:00:00+08:00")
    result = read_supplement(SourceRow(5, {**good, **values}))
    assert isinstance(result, Unreadable) and any(words in r for r in result.reasons), result


def test_text_in_the_materials_column_that_is_no_code_is_not_echoed() -> None:
    row = {"case_no": "BZ1", "item_code": "14", "materials": "13812345678", "supplied_at": "2025-03-04T09:00:00+08:00"}
    result = read_supplement(SourceRow(6, row))
    assert isinstance(result, Unreadable) and "非编码内容" in result.reasons[0]
    assert "1381" not in "".join(result.reasons)


def test_the_query_password_is_read_trimmed_and_optional(record: RetirementRecord, catalog: Catalog) -> None:
    given = read(row(record, password=" 024681 "), catalog)
    assert isinstance(given, RetirementRecord) and given.password == "024681"
    none = read(row(record, password=""), catalog)
    assert isinstance(none, RetirementRecord) and none.password is None


@pytest.mark.parametrize("bad", ["12", "1234 5678", "密码123456", "9" * 33])
def test_a_malformed_query_password_is_refused_without_quoting_it(record: RetirementRecord, catalog: Catalog,
                                                                  bad: str) -> None:
    result = read(row(record, password=bad), catalog)
    assert isinstance(result, Unreadable)
    assert any("查询密码格式错误" in r for r in result.reasons) and not any(bad in r for r in result.reasons)


@pytest.mark.parametrize(("column", "value", "code"), [
    ("contribution_months", "三百", "CONTRIBUTION_FORMAT"),
    ("contribution_months", -1, "CONTRIBUTION_RANGE"),
    ("approved_at", "2025/01/02 10:00", "APPROVED_AT_FORMAT"),
    ("name", "张" * 51, "TOO_LONG_NAME"),
    ("original_age", "600", "TOO_LONG_ORIGINAL_AGE"),
    ("name", "张\x07三", "UNREADABLE_NAME"),
    ("employer_name", b"\x80abc", "UNREADABLE_EMPLOYER_NAME"),
    ("items", "01,11,01", "ITEMS_REPEATED"),
    ("case_no", "\x00", "UNREADABLE_CASE_NO"),
    ("password", "短", "UNREADABLE_PASSWORD"),
])
def test_each_refusal_carries_its_code(record: RetirementRecord, catalog: Catalog, column: str, value: Any,
                                       code: str) -> None:
    result = read(row(record, **{column: value}), catalog)
    assert isinstance(result, Unreadable)
    assert [r.code for r in result.coded()] == [code] and result.coded()[0].message == result.reasons[0]


def test_the_reform_columns_are_read_as_given(record: RetirementRecord, catalog: Catalog) -> None:
    result = read(row(record, original_age=55, retirement_type="2"), catalog)
    assert isinstance(result, RetirementRecord)
    assert (result.original_age, result.retirement_type) == ("55", "2")  # judged by the rules, never fixed


def test_invisible_characters_are_found_alone_or_inside_text_ascii_or_not() -> None:
    from lianban.domain.intake import _invisible

    for point in [*range(0x3000), 0xFEFF, 0xE0001, 0x1D173, 0x10FFFF]:
        c = chr(point)
        expected = unicodedata.category(c) in ("Cc", "Cf")
        assert _invisible(c) is expected and _invisible(f"BZ-{c}-01") is expected, hex(point)


def test_text_is_taken_as_it_is_unless_it_holds_an_invisible_character_or_a_lone_surrogate() -> None:
    from lianban.domain.intake import _as_text, _Refused

    for point in [*range(0x3000), 0xD800, 0xDFFF, 0xFEFF, 0xE0001, 0x1D173, 0x10FFFF]:
        text = f"张-{chr(point)}-三"
        refused = unicodedata.category(chr(point)) in ("Cc", "Cf", "Cs")
        try:
            taken = _as_text(text, "姓名")
        except _Refused as problem:
            assert refused and "姓名" in str(problem), hex(point)
        else:
            assert not refused and taken == text, hex(point)


def test_reading_a_frontend_row_does_not_import_pandas() -> None:
    """HRSS's status log is read in every feedback round: pandas (a third of a second) is the rules' alone."""
    import subprocess
    import sys

    probe = "import sys, lianban.domain.intake, lianban.pipeline.status_log; print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
