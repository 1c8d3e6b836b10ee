"""The 联络员 register (``schemas/operations/liaisons.yaml``): who answers for each party and gets its alerts.

Checked when loaded: every catalog department and the hub itself (``hub``, the duty desk) has exactly one
liaison with a name, a valid mobile number and an e-mail address; anything else is a ConfigError naming the
file and the entry, so a broken register stops the alerting job at start, not when an alert is due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from lianban.domain.catalog import load_catalog
from lianban.domain.identity import mask_phone, phone_problem
from lianban.domain.schemas import schema_path
from lianban.errors import ConfigError

__all__ = ["HUB", "SMS_GATEWAY", "SMS_GATEWAY_NAME", "Liaison", "load_liaisons"]

HUB = "hub"  # the data-resource bureau's duty desk: alerts that belong to no department, and every alert's copy
#: the SMS gateway (connection dept_sms) as a party whose connection is checked: no department, so the hub's duty
#: desk answers for it
SMS_GATEWAY, SMS_GATEWAY_NAME = "sms", "短信网关"
_EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class Liaison:
    party: str  # a catalog department key, or HUB
    name: str
    mobile: str
    email: str

    def __repr__(self) -> str:  # staff contact data: a traceback shows the party and a masked mobile only
        return f"Liaison(party={self.party!r}, mobile={mask_phone(self.mobile)!r})"


def _bad(path: Path, where: str, zh: str, en: str) -> ConfigError:
    return ConfigError(f"联络员名册 {path} 第 {where} 项：{zh} (liaison register {path}, entry {where}: {en})")


def _liaison(path: Path, n: int, raw: Any) -> Liaison:
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw[k].strip()
                                            for k in ("party", "name", "mobile", "email")):
        raise _bad(path, str(n), "party、name、mobile、email 都必须填写", "party, name, mobile and email are required")
    if phone_problem(raw["mobile"]):
        raise _bad(path, str(n), "手机号码无效", "invalid mobile number")
    if not _EMAIL.match(raw["email"]):
        raise _bad(path, str(n), "电子邮箱格式无效", "invalid e-mail address")
    return Liaison(raw["party"].strip(), raw["name"].strip(), raw["mobile"], raw["email"])


def parse_liaisons(doc: Any, path: Path) -> dict[str, Liaison]:
    """The register by party; every catalog department and the hub must be there, once."""
    entries = doc.get("liaisons") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ConfigError(f"联络员名册 {path} 缺少 liaisons 列表 (no liaisons list)")
    register: dict[str, Liaison] = {}
    for n, raw in enumerate(entries, 1):
        liaison = _liaison(path, n, raw)
        if liaison.party in register:
            raise _bad(path, str(n), f"{liaison.party} 重复", f"{liaison.party} appears twice")
        register[liaison.party] = liaison
    missing = sorted({HUB, *load_catalog().departments} - set(register))
    if missing:
        raise ConfigError(f"联络员名册 {path} 缺少：{'、'.join(missing)} (no liaison for {', '.join(missing)})")
    return register


@cache
def load_liaisons(path: Path | None = None) -> dict[str, Liaison]:
    """The register, loaded and checked once per process."""
    source = path or schema_path("operations", "liaisons.yaml")
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"无法读取联络员名册 {source}（{type(exc).__name__}）(cannot read the register)") from None
    return parse_liaisons(doc, source)
