"""RFC 6962 (Certificate Transparency) Merkle hash tree with a pluggable hash function.

    leaf hash  = H(0x00 || data)
    node hash  = H(0x01 || left || right)
    root([])   = H(b"")                      (the empty tree is defined, as in RFC 6962 §2.1)

A tree of n > 1 leaves splits at k, the largest power of two below n, so one signature over the root
commits to every leaf, its position and the leaf count: changing, dropping, adding or reordering any
leaf changes the root. An inclusion :class:`Proof` (RFC 6962 §2.1.1, verified as in RFC 9162
§2.1.3.2) shows one leaf belongs to a signed root without the other leaves.

``data`` is the raw leaf input; this module applies the 0x00 prefix itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lianban.crypto.hashing import sm3

HashFn = Callable[[bytes], bytes]

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


@dataclass(frozen=True)
class Proof:
    """Audit path of the leaf at `index` in a tree of `size` leaves, nearest sibling first."""

    index: int
    size: int
    path: tuple[bytes, ...]


def leaf_hash(data: bytes, hash_fn: HashFn = sm3) -> bytes:
    return hash_fn(LEAF_PREFIX + data)


def node_hash(left: bytes, right: bytes, hash_fn: HashFn = sm3) -> bytes:
    return hash_fn(NODE_PREFIX + left + right)


def _split(n: int) -> int:
    """The largest power of two strictly below n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root(hashed: Sequence[bytes], lo: int, hi: int, hash_fn: HashFn) -> bytes:
    if hi - lo == 1:
        return hashed[lo]
    mid = lo + _split(hi - lo)
    return node_hash(_root(hashed, lo, mid, hash_fn), _root(hashed, mid, hi, hash_fn), hash_fn)


def root(leaves: Sequence[bytes], hash_fn: HashFn = sm3) -> bytes:
    """Merkle tree hash of `leaves` (raw leaf data, in order)."""
    if not leaves:
        return hash_fn(b"")
    return _root([leaf_hash(d, hash_fn) for d in leaves], 0, len(leaves), hash_fn)


def _path(hashed: Sequence[bytes], m: int, lo: int, hi: int, hash_fn: HashFn) -> list[bytes]:
    if hi - lo == 1:
        return []
    mid = lo + _split(hi - lo)
    if m < mid:
        return [*_path(hashed, m, lo, mid, hash_fn), _root(hashed, mid, hi, hash_fn)]
    return [*_path(hashed, m, mid, hi, hash_fn), _root(hashed, lo, mid, hash_fn)]


def proof(leaves: Sequence[bytes], index: int, hash_fn: HashFn = sm3) -> Proof:
    """Inclusion proof for ``leaves[index]``; IndexError when there is no such leaf."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)} leaves")
    hashed = [leaf_hash(d, hash_fn) for d in leaves]
    return Proof(index, len(leaves), tuple(_path(hashed, index, 0, len(leaves), hash_fn)))


def verify_proof(leaf: bytes, proof: Proof, root: bytes, hash_fn: HashFn = sm3) -> bool:
    """True when raw leaf data `leaf` sits at ``proof.index`` of the tree whose hash is `root`."""
    if not 0 <= proof.index < proof.size:
        return False
    fn, sn, r = proof.index, proof.size - 1, leaf_hash(leaf, hash_fn)
    for sibling in proof.path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(sibling, r, hash_fn)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, sibling, hash_fn)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)
