"""The 联络员 register is checked when loaded: every party once, with a valid mobile and e-mail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lianban.domain.catalog import load_catalog
from lianban.domain.liaisons import HUB, load_liaisons, parse_liaisons
from lianban.errors import ConfigError

PATH = Path("liaisons.yaml")


def _register(**changes: Any) -> dict[str, Any]:
    parties = [HUB, *load_catalog().departments]
    entries = [{"party": p, "name": f"{p}联络员", "mobile": f"1380000{n:04d}", "email": f"{p}@example.gov.cn"}
               for n, p in enumerate(parties)]
    entries[1].update(changes)
    return {"liaisons": entries}


def test_the_shipped_register_names_a_liaison_for_every_party_and_never_shows_a_full_mobile() -> None:
    register = load_liaisons()
    assert set(register) == {HUB, *load_catalog().departments}
    assert all(r.mobile not in repr(r) for r in register.values())


@pytest.mark.parametrize(("changes", "said"), [
    ({"mobile": "1380000"}, "手机号码无效"), ({"email": "not-an-address"}, "电子邮箱格式无效"),
    ({"name": " "}, "都必须填写"), ({"party": HUB}, "重复"), ({"party": "civil_affairs"}, "缺少："),
])
def test_a_broken_entry_is_named_with_what_is_wrong(changes: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError, match=said):
        parse_liaisons(_register(**changes), PATH)


def test_a_register_without_a_list_says_so() -> None:
    with pytest.raises(ConfigError, match="缺少 liaisons 列表"):
        parse_liaisons({"liaison": []}, PATH)
