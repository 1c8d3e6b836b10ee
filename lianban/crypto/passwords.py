"""The 查询密码 (``PROJPWD``) at rest: an SM3-HMAC with the hub's own ``query`` key, never the password.

Stored form (one text column; the key id inside, so the key can be rotated without a migration)::

    sm3hmac$<kid>$<hex SM3-HMAC(key, "查询密码|" + 办件编号 + "|" + password)>

Why a keyed hash and not a slow one: a 6-digit password is 10^6 guesses, which no affordable hash makes safe
against someone holding the ledger (scrypt at 50 ms is hours per case on one core), while scrypt at staging cost
30–60 ms per case — the hub's whole staging budget many times over. The key lives with the other keys (the
``query`` ring), not in the ledger, so the ledger alone gives an attacker nothing to guess against; the rate
limit in front of the query (:mod:`lianban.ledger.query_attempts`) stops online guessing. Binding the 办件编号
into the MAC means a hash copied onto another case does not verify there.

Hashes of the earlier scheme (``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>``, all made at :data:`LEGACY_COST`) still
verify, slowly, and :func:`verify_password` says when a match should be stored again in the keyed form; so it
does for a match under a query key that is no longer the active one (after ``lianban keys rotate query``), which
is how the old key comes to hash no case's password and can be retired.

:func:`verify_password` always computes one MAC: against a dummy key when there is no stored hash or its key is
unknown, so an unknown case answers in the same time as a known one with a wrong password. While any case still
holds an earlier hash (the caller says so: ``legacy_remain``), every other check also pays one dummy scrypt at
:data:`LEGACY_COST` (some 40 ms, what every query cost under that scheme): otherwise such a case would answer a
wrong password slower than an unknown case answers, and its existence would show by time; and only an unknown
case paying it would make every keyed case show by being faster.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from enum import Enum

from lianban.crypto.hashing import hmac_sm3_hex

__all__ = ["LEGACY", "LEGACY_COST", "Verdict", "hash_password", "new_password", "verify_password"]

SCHEME = "sm3hmac"
LEGACY = "scrypt"
PASSWORD_DIGITS = 6
#: the earlier scheme's scrypt cost (log2 n, r, p): 16 MiB, some 30–60 ms on one core
LEGACY_COST = (14, 8, 1)
_DUMMY_KEY = secrets.token_bytes(16)
_DUMMY_SALT = secrets.token_bytes(16)
_MAXMEM = 128 * 1024 * 1024

#: a key id → its key (None when unknown or retired)
KeyLookup = Callable[[str], bytes | None]


class Verdict(Enum):
    NO = "no"
    YES = "yes"
    YES_REHASH = "yes, stored in an older form: store it again"


def _mac(key: bytes, case_no: str, password: str) -> str:
    return hmac_sm3_hex(key, f"查询密码|{case_no}|{password}")


def hash_password(password: str, case_no: str, key: tuple[str, bytes]) -> str:
    """The stored form of `password` for case `case_no`, under `key` (kid, key bytes)."""
    kid, secret = key
    return f"{SCHEME}${kid}${_mac(secret, case_no, password)}"


def verify_password(password: str, case_no: str, stored: str | None, keys: KeyLookup, *,
                    legacy_remain: bool = False, active: str | None = None) -> Verdict:
    """Whether `password` opens case `case_no` whose stored hash is `stored`; `legacy_remain`: some case in the
    ledger still holds a hash of the earlier scheme (module docstring); `active`: the key id new hashes are made
    under, a match under another one asking to be stored again (so a rotated-out key can be retired)."""
    scheme, _, rest = (stored or "").partition("$")
    if scheme == LEGACY and stored:
        return Verdict.YES_REHASH if _legacy_matches(password, stored) else Verdict.NO
    if legacy_remain:
        _scrypt(password, _DUMMY_SALT, *LEGACY_COST)  # as long as a legacy case's check, whatever there is
    kid, _, digest = rest.partition("$")
    key = keys(kid) if scheme == SCHEME else None
    computed = _mac(key or _DUMMY_KEY, case_no, password)  # one MAC whatever there is to check against
    if key is None or not hmac.compare_digest(computed, digest):
        return Verdict.NO
    return Verdict.YES if active in (None, kid) else Verdict.YES_REHASH


def _legacy_matches(password: str, stored: str) -> bool:
    """An earlier scheme's scrypt hash (``scrypt$log_n$r$p$salt$hash``); False when it does not read."""
    try:
        _, log_n, r, p, salt, digest = stored.split("$")
        if not 10 <= int(log_n) <= 20:
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(log_n), int(r), int(p))
        return hmac.compare_digest(computed, base64.b64decode(digest))
    except ValueError:
        return False


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2 ** log_n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def new_password() -> str:
    """A fresh random 6-digit 查询密码 (what the window hands the applicant)."""
    return f"{secrets.randbelow(10 ** PASSWORD_DIGITS):0{PASSWORD_DIGITS}d}"
