"""Rules on the chosen items (办理事项) and on the person: catalog codes, none twice, allowed together
(``conflicts`` in ``schemas/validation/rules.yaml``), and not a second open case of the same person.

They read the canonical ``_items`` column (``,01,11,12,``, :func:`lianban.domain.rules.frame.canonical_items`),
so each is one vectorised regex or substring test; only the failing rows' unknown codes are listed one by one.
"""

from __future__ import annotations

import re

import pandas as pd

from lianban.domain.catalog import UNKNOWN_ITEMS, Catalog, unknown_codes
from lianban.domain.rules.base import Rule, RuleData

#: a code that occurs again later in the canonical list
_REPEATED = r",([^,]+),(?:[^,]*,)*?\1,"


def _unknown(items: pd.Series, catalog: Catalog) -> pd.Series:
    """What is left of each canonical list once every catalog code is removed (``,`` when nothing)."""
    known = "|".join(map(re.escape, sorted(catalog.items, key=len, reverse=True)))
    return items.str.replace(f"(?<=,)(?:{known})(?=,)", "", regex=True).str.replace(",,+", ",", regex=True)


def _unknown_detail(f: pd.DataFrame, catalog: Catalog) -> pd.Series:
    return _unknown(f["_items"], catalog).str.strip(",").str.split(",").map(unknown_codes)


def _conflict_rule(pair: frozenset[str], reason: str) -> Rule:
    first, second = sorted(pair)
    return Rule("ITEMS_CONFLICT", f"所选事项不能同时申请：{reason}", ("_items",),
                lambda f: ~(f["_items"].str.contains(f",{first},", regex=False)
                            & f["_items"].str.contains(f",{second},", regex=False)))


def item_rules(data: RuleData, catalog: Catalog) -> list[Rule]:
    return [
        Rule("ITEMS_UNKNOWN", UNKNOWN_ITEMS, ("_items",), lambda f: _unknown(f["_items"], catalog) == ",",
             lambda f: _unknown_detail(f, catalog)),
        Rule("ITEMS_REPEATED", "办理事项重复选择", ("_items",),
             lambda f: ~f["_items"].str.match(".*" + _REPEATED)),
        *(_conflict_rule(pair, reason) for pair, reason in data.conflicts),
        Rule("DUPLICATE_PERSON", "同一身份证号码已有在办办件：请核对是否重复申请", ("person_open",),
             lambda f: ~f["person_open"].astype(bool)),
    ]
