"""The item catalog (附件4), materials (附件5) and field allow-lists as loaded from schemas/catalog/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lianban.domain.catalog import SEED_ITEM_CODES, Catalog, load_catalog
from lianban.errors import ConfigError
from tests.catalog_kit import edit

MISSION = Path(__file__).resolve().parents[3] / "shared" / "MISSION.md"  # ../shared beside the checkout
#: 附件4 责任清单 as MISSION.md restates it; used when MISSION.md is not beside the checkout.
ITEMS_FROM_SEED = {
    "01": ("职工养老保险待遇申领", "hrss"),
    "02": ("社会保险费欠费补缴申报", "hrss"),
    "03": ("职工养老保险待遇发放账户变更", "hrss"),
    "04": ("工伤保险伤残津贴待遇补差", "hrss"),
    "05": ("城镇职工基本养老保险关系异地转移接续", "hrss"),
    "06": ("机关事业单位基本养老保险与城镇企业职工基本养老保险转移接续", "hrss"),
    "07": ("城镇职工基本养老保险与城乡居民基本养老保险转移接续", "hrss"),
    "08": ("多重养老保险关系个人账户退费", "hrss"),
    "09": ("失业保险金停发", "hrss"),
    "10": ("劳动用工（解聘）备案", "hrss"),
    "11": ("职工基本医疗保险在职转退休信息变更", "medical"),
    "12": ("退休职工医疗保险累计缴费年限确认", "medical"),
    "13": ("企业退休职工领取独生子女父母光荣证一次性奖励", "health"),
    "14": ("退休职工住房公积金提取", "housing_fund"),
}


def seed_items() -> dict[str, tuple[str, str]]:
    """The table under "## The 14 items" in MISSION.md: code -> (name, first department named)."""
    if not MISSION.exists():
        return ITEMS_FROM_SEED
    section = MISSION.read_text(encoding="utf-8").split("## The 14 items", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (\S+) \| (\w+)", section, flags=re.MULTILINE)
    return {f"{int(n):02d}": (name, dept) for n, name, dept in rows}


def test_items_match_the_seed_table(catalog: Catalog) -> None:
    expected = seed_items()
    assert len(expected) == 14
    assert {c: (i.name, i.department) for c, i in catalog.items.items()} == expected


def test_materials(catalog: Catalog) -> None:
    assert len(catalog.materials) == 15
    assert [m.always for m in catalog.materials] == [True, True] + [False] * 13
    assert catalog.materials[0].name.startswith("社会保障卡或身份证") and catalog.materials[1].name == "联办申请表"


def test_only_items_11_to_14_are_pushed_and_only_declared_fields(catalog: Catalog) -> None:
    assert catalog.pushed_departments() == ["health", "housing_fund", "medical"]
    assert sorted(c for c, i in catalog.items.items() if i.fields) == ["11", "12", "13", "14"]
    for item in catalog.items.values():
        assert set(item.fields) <= set(catalog.field_names), item.code


def test_every_item_commits_to_a_positive_time_limit_in_working_days(catalog: Catalog) -> None:
    limits = {code: item.time_limit_days for code, item in catalog.items.items()}
    assert all(type(n) is int and n > 0 for n in limits.values()), limits
    assert set(limits) >= set(SEED_ITEM_CODES)
    # 压时限: shorter than the ordinary 20 working days; 公积金提取 within the 条例's 3 days
    assert max(limits.values()) <= 15 and limits["14"] <= 3


@pytest.mark.parametrize("limit, words", [
    (None, "缺少承诺时限"), ("0", "必须是正整数"), ("-3", "必须是正整数"), ("2.5", "必须是正整数"),
    ("ten", "必须是正整数"), ("true", "必须是正整数"),
])
def test_a_missing_or_bad_time_limit_names_the_item(broken_catalog_dir: Path, limit: str | None, words: str
                                                    ) -> None:
    items = broken_catalog_dir / "items.yaml"
    line = "    time_limit_days: 3\n"  # item 14's
    text = items.read_text(encoding="utf-8")
    assert text.endswith(line)
    items.write_text(text.removesuffix(line) + (f"    time_limit_days: {limit}\n" if limit is not None else ""),
                     encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"items\.yaml: 事项 14 .*{words}"):
        load_catalog()


def test_unknown_item_code_is_a_config_error(catalog: Catalog) -> None:
    assert catalog.item("11").department == "medical"
    with pytest.raises(ConfigError, match="'99'"):
        catalog.item("99")


def test_an_unknown_item_code_shaped_like_a_phone_number_is_masked_in_the_error(catalog: Catalog) -> None:
    with pytest.raises(ConfigError) as raised:
        catalog.item("13912345678")
    assert "13912345" not in str(raised.value) and "'139****5'" in str(raised.value)



def test_item_with_unknown_department_names_file_and_item(broken_catalog_dir: Path) -> None:
    items = broken_catalog_dir / "items.yaml"
    items.write_text(items.read_text(encoding="utf-8").replace("department: housing_fund", "department: bank"),
                     encoding="utf-8")
    with pytest.raises(ConfigError, match=r"items\.yaml: item 14 names unknown department 'bank'"):
        load_catalog()


def test_unreadable_catalog_file_names_the_file(broken_catalog_dir: Path) -> None:
    (broken_catalog_dir / "materials.yaml").write_text("version: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"materials\.yaml"):
        load_catalog()


def test_a_later_department_may_add_items_but_no_item_of_the_seed_may_go(broken_catalog_dir: Path) -> None:
    items = broken_catalog_dir / "items.yaml"
    seed_text = items.read_text(encoding="utf-8")
    later = '  - {code: "15", name: 新事项, department: health, fields: [name], time_limit_days: 5}\n'
    items.write_text(seed_text + later, encoding="utf-8")
    assert load_catalog().item("15").department == "health"
    load_catalog.cache_clear()
    items.write_text(seed_text.replace('{code: "07"', '{code: "77"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"items\.yaml: .*附件4.*missing 07"):
        load_catalog()


@pytest.mark.parametrize("department, fields, said", [
    ("medical", "[]", r"items\.yaml: .*15.*medical.*fields"),
    ("hrss", "[name]", r"items\.yaml: .*15.*hrss.*connector"),
])
def test_an_item_whose_push_setting_contradicts_its_department_is_refused(
        broken_catalog_dir: Path, department: str, fields: str, said: str) -> None:
    """``fields: []`` means handled in place (HRSS's window): for a department reached through a connector the
    item was never delivered nor polled, its time limit never started, and it stayed open with no word; fields
    for a department without a connector (HRSS) put deliveries in an outbox no run can send."""
    items = broken_catalog_dir / "items.yaml"
    later = f'  - {{code: "15", name: 新事项, department: {department}, fields: {fields}, time_limit_days: 5}}\n'
    items.write_text(items.read_text(encoding="utf-8") + later, encoding="utf-8")
    with pytest.raises(ConfigError, match=said):
        load_catalog()


@pytest.mark.parametrize("file, entry, said", [
    ("items.yaml", '{code: "CSYJ01", name: 新事项, department: health, fields: [name], time_limit_days: 5}',
     r"items\.yaml: .*'CSYJ01'.*4"),
    ("departments.yaml", "{key: civil_affairs_and_veterans_services, name: 民政局, transport: rest, connector: null}",
     r"departments\.yaml: .*civil_affairs_and_veterans_services.*32"),
])
def test_an_item_code_or_department_key_longer_than_the_ledger_keeps_is_refused(
        broken_catalog_dir: Path, file: str, entry: str, said: str) -> None:
    """The ledger keeps an item code in 4 characters and a department key in 32 (PostgreSQL refuses longer ones):
    a catalog with longer ones loaded, and staging the first case choosing such an item failed on PostgreSQL."""
    _appended(broken_catalog_dir / file, entry)
    with pytest.raises(ConfigError, match=said):
        load_catalog()


def _appended(path: Path, entry: str) -> None:
    path.write_text(f"{path.read_text(encoding='utf-8')}  - {entry}\n", encoding="utf-8")


def test_a_department_with_an_unknown_transport_is_refused(broken_catalog_dir: Path) -> None:
    """Callbacks are taken from ``rest`` departments and simulators made for ``rest`` and ``soap`` ones: a department
    whose transport was mistyped (``REST``) loaded, and was then left out of both without a word."""
    departments = broken_catalog_dir / "departments.yaml"
    departments.write_text(departments.read_text(encoding="utf-8").replace(
        "short_name: 卫健, transport: rest", "short_name: 卫健, transport: REST"),
        encoding="utf-8")
    with pytest.raises(ConfigError, match=r"departments\.yaml: .*health.*'REST'.*rest"):
        load_catalog()


@pytest.mark.parametrize(("file", "old", "new", "entry"), [
    ("departments.yaml", "connector: connectors.health", "conector: connectors.health", "health"),
    ("items.yaml", "{code: \"09\", name: 失业保险金停发, ", "{code: \"09\", ", "09"),
    ("fields.yaml", "key: phone, name:", "key: phone, nmae:", "phone"),
    ("materials.yaml", "always: true", "allways: true", "M01"),
])
def test_an_entry_with_a_missing_or_mistyped_key_is_one_config_error_naming_file_and_entry(
        broken_catalog_dir: Path, file: str, old: str, new: str, entry: str) -> None:
    """A department spelt ``conector:`` (or an item without its name) ended the start with a TypeError or
    KeyError traceback, where the catalog promises a sentence naming the file and the entry."""
    path = broken_catalog_dir / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{file.replace('.', '[.]')}.*{entry}"):
        load_catalog()

@pytest.mark.parametrize("file, entry, said", [
    ("items.yaml", '{code: "14", name: 新事项, department: health, fields: [name], time_limit_days: 5}',
     r"items\.yaml: .*14"),
    ("departments.yaml", "{key: health, name: 口腔医疗服务中心, transport: rest, "
     "connector: connectors.health.connector:HealthConnector}", r"departments\.yaml: .*health"),
])
def test_an_item_code_or_department_key_given_twice_is_refused(
        broken_catalog_dir: Path, file: str, entry: str, said: str) -> None:
    """A second entry with an existing code replaced the first without a word: an item appended as code 14
    took item 14 (住房公积金提取) from the housing fund and routed every case choosing it elsewhere."""
    _appended(broken_catalog_dir / file, entry)
    with pytest.raises(ConfigError, match=said):
        load_catalog()


SEED_DIR = Path(__file__).resolve().parents[3] / "shared" / "seed"
SEED_UNITS = {"市人力资源社会保障局": "hrss", "市医疗保障局": "medical", "市卫生健康委员会": "health",
              "市住房公积金管理中心": "housing_fund"}


def _seed_section(start: str, end: str) -> str:
    seeds = sorted(SEED_DIR.glob("*.txt"))
    if not seeds:
        pytest.skip("the seed document is not beside this checkout")
    text = seeds[0].read_text(encoding="utf-8")
    section = text[text.rindex(start):]
    return re.sub(r"\s+", "", section[:section.index(end)] if end in section else section)


def test_items_match_the_seed_document_attachment_4() -> None:
    """附件4 责任清单 in the original document: every item, in order, with its responsible unit."""
    table = _seed_section("附件 4", "附件 5")
    position = 0
    for code, item in sorted(load_catalog().items.items()):
        found = table.find(f"{int(code)}{item.name}", position)
        assert found >= 0, f"item {code} {item.name} not in the seed's 附件4 at its place"
        position = found + len(item.name)
        following = {u: table.find(u, position) for u in SEED_UNITS if table.find(u, position) >= 0}
        unit = min(following, key=following.__getitem__)
        assert SEED_UNITS[unit] == item.department, f"item {code}: seed names {unit}"


def test_materials_match_the_seed_document_attachment_5() -> None:
    """附件5 材料清单: 15 materials; exactly those marked 必需提供 are always required."""
    table = _seed_section("附件 5", "\x00").split("类别备注", 1)[1]
    rows = re.findall(r"(\d+)(.+?)(?:材料|表格)(必需提供|依申请表提供)", table)
    assert [int(n) for n, _, _ in rows] == list(range(1, 16))
    assert [m.always for m in load_catalog().materials] == [flag == "必需提供" for _, _, flag in rows]


def test_the_window_is_the_one_department_whose_front_database_the_hub_reads(broken_catalog_dir: Path) -> None:
    """一窗受理: which department that is, is the catalog's to say (another 一件事 has another window)."""
    assert load_catalog().window == "hrss"
    load_catalog.cache_clear()
    for name in ("departments.yaml", "items.yaml", "results.yaml"):
        path = broken_catalog_dir / name
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("key: hrss", "key: civil").replace("department: hrss", "department: civil")
                        .replace("completed_by: hrss", "completed_by: civil").replace("party: hrss", "party: civil"),
                        encoding="utf-8")
    assert load_catalog().window == "civil"
    assert load_catalog().item("13").completer == "civil"


@pytest.mark.parametrize("old, new, count", [
    ("transport: frontend_db", "transport: none", "0"),
    ("short_name: 卫健, transport: rest", "short_name: 卫健, transport: frontend_db", "2"),
])
def test_a_catalog_without_exactly_one_window_is_refused(broken_catalog_dir: Path, old: str, new: str,
                                                           count: str) -> None:
    edit(broken_catalog_dir / "departments.yaml", old, new)
    with pytest.raises(ConfigError, match=rf"departments\.yaml: 应有且只有一个部门.*现有 {count} 个"):
        load_catalog()


def test_an_item_completed_by_a_department_other_than_the_window_is_refused(broken_catalog_dir: Path) -> None:
    """Only the window is asked to complete another's item (a payment request in its 前置库) and read for that
    已办结 (its status log): another completer would never be asked nor heard, the item stuck at 审核通过
    with no clock."""
    edit(broken_catalog_dir / "items.yaml", "    completed_by: hrss\n", "    completed_by: medical\n")
    with pytest.raises(ConfigError, match=r"事项 13 的 completed_by 为 medical.*一窗受理部门 hrss"):
        load_catalog()


@pytest.mark.parametrize("old, new, said", [
    ("    completion_days: 10\n", "", r"事项 13 缺少承诺时限 completion_days"),
    ("    completion_days: 10\n", "    completion_days: 0\n", r"事项 13 的承诺时限 completion_days 必须是正整数"),
    ("    completed_by: hrss\n", "", r"事项 13 有 completion_days 却没有 completed_by"),
])
def test_the_completing_partys_limit_is_given_exactly_with_the_party(broken_catalog_dir: Path, old: str, new: str,
                                                                     said: str) -> None:
    """A party completing another's item is on a clock of its own (item 13: HRSS paying the reward)."""
    edit(broken_catalog_dir / "items.yaml", old, new)
    with pytest.raises(ConfigError, match=said):
        load_catalog()
