"""The 查询密码 (``PROJPWD``) at rest: a slow, salted scrypt hash, never the password.

Stored form (one text column, parameters inside so they can be raised later without a migration)::

    scrypt$<log2 n>$<r>$<p>$<salt, base64>$<hash, base64>

:data:`COST` (n = 2^14, r = 8, p = 1: 16 MiB, some 30–60 ms per hash on one core) is paid once per case when it
is staged and once per query. A 6-digit password is weak against anyone holding the ledger whatever the hash
costs (10^6 guesses); the hash makes that attacker pay hours per case, the rate limit in front of the query
(:mod:`lianban.ledger.query_attempts`) stops online guessing.

:func:`verify_password` always runs one full hash: against a dummy hash when there is no stored hash, so an
unknown case costs as much time as a known one with a wrong password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

__all__ = ["COST", "hash_password", "new_password", "verify_password"]

#: (log2 n, r, p) of new hashes
COST = (14, 8, 1)
_SALT_BYTES, _HASH_BYTES, _MAXMEM = 16, 32, 128 * 1024 * 1024
PASSWORD_DIGITS = 6


def _scrypt(password: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=2 ** log_n, r=r, p=p, maxmem=_MAXMEM,
                          dklen=_HASH_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """The stored form of `password` (module docstring), with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    log_n, r, p = COST
    return f"scrypt${log_n}${r}${p}${_b64(salt)}${_b64(_scrypt(password, salt, log_n, r, p))}"


_Parts = tuple[bytes, int, int, int, bytes]


@cache
def _dummy() -> _Parts:
    """A hash no password is known for, verified against when a case is unknown (same cost as a real one)."""
    parts = _parts(hash_password(secrets.token_urlsafe(16)))
    assert parts is not None
    return parts


def _parts(stored: str) -> _Parts | None:
    try:
        scheme, log_n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or not 10 <= int(log_n) <= 20:
            return None
        return base64.b64decode(salt), int(log_n), int(r), int(p), base64.b64decode(digest)
    except ValueError:
        return None


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored`; always one full hash (module docstring), False for no or an
    unreadable stored hash."""
    parts = _parts(stored) if stored else None
    salt, log_n, r, p, digest = parts or _dummy()
    computed = _scrypt(password, salt, log_n, r, p)
    return parts is not None and hmac.compare_digest(computed, digest)


def new_password() -> str:
    """A fresh random 6-digit 查询密码 (what the window hands the applicant)."""
    return f"{secrets.randbelow(10 ** PASSWORD_DIGITS):0{PASSWORD_DIGITS}d}"
