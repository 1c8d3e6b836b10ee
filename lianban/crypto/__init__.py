"""The pure crypto layer: hash trees, cipher suites and the sealed batch envelope (issue 4).

No I/O, no ledger, no network: callers pass keys and bytes in and get bytes, dicts or a
``RejectedError`` out. Modules:

- :mod:`lianban.crypto.merkle`  RFC 6962 hash tree with a pluggable hash (SM3, SHA-256)
- :mod:`lianban.crypto.suites`  the "SM" (国密) and "NIST" suites behind one ``Suite`` protocol
- :mod:`lianban.crypto.sm2`     SM2 engines: GmSSL (gmssl-pyx, native) by default, gmalg (pure Python) as fallback
- :mod:`lianban.crypto.batch`   one envelope per batch per department: seal, verify, open
- :mod:`lianban.crypto.hashing`, :mod:`lianban.crypto.vault`, :mod:`lianban.crypto.passwords`  SM3 and its HMAC,
  payloads at rest, the 查询密码's keyed hash
"""

from __future__ import annotations

from lianban.crypto.batch import BatchOpener, OpenedBatch, ReplayCache, SealedBatch, seal_batch
from lianban.crypto.suites import KeyPair, Suite, get_suite

__all__ = ["BatchOpener", "KeyPair", "OpenedBatch", "ReplayCache", "SealedBatch", "Suite", "get_suite", "seal_batch"]
