"""`lianban keys …`: key rings and key sets; key ids only, never key material."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lianban.app.cli.output import JsonFlag, emit, emit_done
from lianban.app.config import Paths
from lianban.errors import ConfigError
from lianban.keys.names import EVIDENCE, INDEX, QUERY, RINGS, VAULT

keys_app = typer.Typer(help="密钥管理 (key rings)", no_args_is_help=True)


def _key_sets(keys_dir: Path) -> list[str]:
    """The asymmetric key sets: every ``*.json`` but public halves, the SM4 rings, the credentials and the
    evidence chain's head file (not a key)."""
    from lianban.keys.names import EVIDENCE_HEAD

    not_key_sets = {*RINGS, "credentials", EVIDENCE_HEAD}
    return sorted(p.name.removesuffix(".json") for p in keys_dir.glob("*.json")
                  if not p.name.endswith(".pub.json") and p.stem not in not_key_sets)


def _own_key(keys_dir: Path, name: str) -> str:
    """`name`, when it is a ring or a key set whose private half this installation holds (what can be rotated
    or retired here); otherwise a ConfigError listing those."""
    if name in RINGS:
        return name
    held = _key_sets(keys_dir) if keys_dir.is_dir() else []
    if name not in held:
        raise ConfigError(f"没有名为 {name!r} 的本方密钥，可选：{'、'.join([*RINGS, *held])} "
                          f"(no key {name!r} is held here; choose one of {', '.join([*RINGS, *held])})")
    return name


@keys_app.command("init")
def keys_init(hub_only: Annotated[bool, typer.Option(help="production: only the hub's own keys")] = False,
              as_json: JsonFlag = False) -> None:
    """创建缺失的密钥；生产环境用 --hub-only，部门公钥用 keys import 导入 (create missing keys)."""
    from lianban.keys.provision import ensure_hub_keys, ensure_keys

    paths = Paths.from_env()
    (ensure_hub_keys if hub_only else ensure_keys)(paths.keys_dir)
    emit_done(f"密钥已就绪 (keys ready) in {paths.keys_dir}", {"keys_dir": str(paths.keys_dir), "ready": True},
              as_json)


def _vault_key_unused(kid: str) -> None:
    """ConfigError when the ledger still needs `kid` to open something (lianban.ledger.sealed)."""
    from lianban.ledger.db import session_factory
    from lianban.ledger.sealed import sealed_under

    with session_factory(Paths.from_env().existing_ledger())() as session:
        held = sealed_under(session, kid)
    if held:
        listed = "、".join(f"{_SEALED_ZH[k]} {n} 条" for k, n in held.items())
        raise ConfigError(f"台账中仍有用 {kid} 加密、尚需解开的数据（{listed}），停用后它们将无法解密：待其投递、"
                          f"发送完毕后再停用；办理结果长期保留，其密钥不能停用 (the ledger still needs {kid}: "
                          f"{', '.join(f'{k} {n}' for k, n in held.items())})")


def _query_key_unused(kid: str) -> None:
    """ConfigError when cases still hold their 查询密码 hashed under query key `kid` (lianban.ledger.sealed)."""
    from lianban.ledger.db import session_factory
    from lianban.ledger.sealed import passwords_under

    with session_factory(Paths.from_env().existing_ledger())() as session:
        held = passwords_under(session, kid)
    if held:
        raise ConfigError(f"台账中仍有 {held} 个办件的查询密码用 {kid} 计算，停用后这些申请人将无法查询办理进度："
                          f"申请人查询成功一次、或窗口重置其查询密码后，即改用当前密钥计算，届时再停用 ({held} cases "
                          f"still hold their query password hashed under {kid}; retiring it would lock their "
                          f"applicants out: a successful query or a reset hashes it again under the active key)")


_SEALED_ZH = {"deliveries": "待投递或死信", "results": "办理结果", "sms_notices": "未发送完的短信",
              "waiting_statuses": "待补记的人社状态记录", "parked_statuses": "搁置待重新读取的人社状态记录"}


@keys_app.command("import")
def keys_import(name: str, source: Path, as_json: JsonFlag = False) -> None:
    """导入对方的公钥文件，如 medical-recipient、medical-signing (install another party's public keys)."""
    from lianban.keys import keysets

    ks = keysets.import_public(Paths.from_env().keys_dir, name, source)
    emit_done(f"{name}: 已导入公钥 (imported) {sorted(ks.public)}，当前 (active) {ks.active}",
              {"name": name, "keys": sorted(ks.public), "active": ks.active}, as_json)


@keys_app.command("list")
def keys_list(as_json: JsonFlag = False) -> None:
    """列出密钥标识与状态，从不显示密钥本身 (key ids only, never key material)."""
    from lianban.keys import keysets
    from lianban.keys.rings import load_ring

    keys_dir = Paths.from_env().keys_dir
    listing: dict[str, Any] = {r: {"kind": "SM4", "active": (ring := load_ring(keys_dir, r)).active,
                                   "keys": sorted(ring.keys)} for r in RINGS}
    held = _key_sets(keys_dir)
    imported = sorted({p.name.removesuffix(".pub.json") for p in keys_dir.glob("*.pub.json")} - set(held))
    for name in sorted([*held, *imported]):  # another party's imported public keys too (no private half here)
        ks = keysets.load(keys_dir, name, public_only=name in imported)
        listing[name] = {"kind": ks.suite, "active": ks.active, "keys": sorted(ks.public),
                         "private_held": sorted(ks.private),
                         **({"retired": sorted(ks.retired)} if ks.retired else {})}  # kept to check old signatures
    emit(listing, as_json, "密钥 (keys)")


@keys_app.command("rotate")
def keys_rotate(name: str, hold: Annotated[bool, typer.Option(
                    help="key sets: add the new pair unused; send the .pub file, then keys activate")] = False,
                as_json: JsonFlag = False) -> None:
    """轮换：新密钥加密/签名，旧密钥在停用前仍可解密/验签；--hold 只添加不启用 (new key seals; old keys open until
    retired; --hold: add it only, keys activate later)."""
    from lianban.keys import keysets
    from lianban.keys.rings import rotate_ring

    keys_dir = Paths.from_env().keys_dir
    name = _own_key(keys_dir, name)
    if name == INDEX:
        raise ConfigError(f"{INDEX} 是盲索引密钥，不能轮换：台账中按身份证号查找人员（识别重复申请）、"
                          f"识别重复读入的行，所用索引都由它算出，换用新密钥后将不再匹配 (the blind-index key cannot "
                          f"be rotated: the ledger's person indexes and row fingerprints were computed with it and "
                          f"would no longer match)")
    if hold:
        _hold(keys_dir, name, as_json)
        return
    active = rotate_ring(keys_dir, name).active if name in RINGS else keysets.rotate(keys_dir, name).active
    emit_done(f"{name}: 新的当前密钥 (now active) {active}", {"name": name, "active": active}, as_json)


def _hold(keys_dir: Path, name: str, as_json: bool) -> None:
    """`keys rotate NAME --hold`: a key set's new pair added and published, not used yet."""
    from lianban.keys import keysets

    if name in RINGS:
        raise ConfigError(f"--hold 只用于签名与接收密钥；{name} 是本方自用的 SM4 密钥环，请直接轮换 (--hold is for key "
                          f"sets whose public file other parties hold; rotate the ring {name} without it)")
    before = set(keysets.load(keys_dir, name).public)
    ks = keysets.rotate(keys_dir, name, hold=True)
    held = min(set(ks.public) - before)  # the one pair added
    emit_done(f"{name}: 已添加未启用 (held) {held}；请将 {keys_dir / f'{name}.pub.json'} 发给对方，对方安装后运行 "
              f"lianban keys activate {name} {held}", {"name": name, "held": held, "active": ks.active}, as_json)


@keys_app.command("activate")
def keys_activate(name: str, kid: str, as_json: JsonFlag = False) -> None:
    """启用 keys rotate --hold 添加的密钥 (make a held key the one that signs and is sealed for)."""
    from lianban.keys import keysets

    keys_dir = Paths.from_env().keys_dir
    name = _own_key(keys_dir, name)
    if name in RINGS:
        raise ConfigError(f"{name} 是 SM4 密钥环，用 lianban keys rotate {name} 轮换 "
                          f"(rings are rotated, not activated)")
    active = keysets.activate(keys_dir, name, kid).active
    emit_done(f"{name}: 新的当前密钥 (now active) {active}", {"name": name, "active": active}, as_json)


@keys_app.command("retire")
def keys_retire(name: str, kid: str, as_json: JsonFlag = False) -> None:
    """停用一个旧密钥：此后用它加密或签名的内容一律拒收 (retire: what it sealed or signed is refused)."""
    from lianban.keys import keysets
    from lianban.keys.rings import check_retirable, load_ring, retire_ring_key

    keys_dir = Paths.from_env().keys_dir
    name = _own_key(keys_dir, name)
    if name == EVIDENCE:
        raise ConfigError(f"{EVIDENCE} 是证据链密钥，不能停用：台账永久保留每一条证据，校验证据链（及月度归档）"
                          f"需要链上用过的每一个密钥，停用后完好的证据链也将校验失败 (chain keys are never retired: "
                          f"the ledger keeps every entry, and verifying the chain needs every key it used)")
    if name in (VAULT, QUERY):  # the key itself first: the ledger always needs the active one
        ring = load_ring(keys_dir, name)
        check_retirable(name, kid, ring.active, ring.keys)
        (_vault_key_unused if name == VAULT else _query_key_unused)(kid)
    if name in RINGS:
        retire_ring_key(keys_dir, name, kid)
    else:
        keysets.retire(keys_dir, name, kid)
    emit_done(f"{name}: 已停用 (retired) {kid}", {"name": name, "retired": kid}, as_json)
