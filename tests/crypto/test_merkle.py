"""RFC 6962 hash tree: the Certificate Transparency reference vectors, proofs for every shape, SM3 too."""

from __future__ import annotations

import pytest

from lianban.crypto import merkle
from lianban.crypto.hashing import sha256, sm3
from lianban.crypto.merkle import Proof, leaf_hash, node_hash, proof, root, verify_proof

# RFC 6962 reference inputs and roots (certificate-transparency merkle_tree_test), tree sizes 0..8
CT_LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("size", range(9))
def test_sha256_roots_match_rfc_6962_reference(size: int) -> None:
    assert root(CT_LEAVES[:size], sha256).hex() == CT_ROOTS[size]


def test_inclusion_proof_matches_rfc_6962_reference() -> None:
    expected = ("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")
    assert tuple(p.hex() for p in proof(CT_LEAVES, 0, sha256).path) == expected


def test_sm3_tree_is_the_same_shape() -> None:
    a, b, c = b"a", b"b", b"c"
    assert root([], sm3) == sm3(b"")
    assert root([a]) == sm3(b"\x00a")
    assert root([a, b, c]) == node_hash(node_hash(leaf_hash(a), leaf_hash(b)), leaf_hash(c))


@pytest.mark.parametrize("hash_fn", [sm3, sha256])
def test_every_leaf_proves_in_every_tree_size(hash_fn: merkle.HashFn) -> None:
    for size in range(1, 34):
        leaves = [bytes([i, size]) for i in range(size)]
        head = root(leaves, hash_fn)
        for i in range(size):
            assert verify_proof(leaves[i], proof(leaves, i, hash_fn), head, hash_fn), (size, i)


def test_a_proof_fails_for_another_leaf_position_path_or_root() -> None:
    leaves = [bytes([i]) for i in range(11)]
    head, good = root(leaves), proof(leaves, 6)
    assert not verify_proof(leaves[5], good, head)
    assert not verify_proof(leaves[6], Proof(5, good.size, good.path), head)
    assert not verify_proof(leaves[6], Proof(6, 7, good.path), head)
    assert not verify_proof(leaves[6], Proof(6, good.size, good.path[:-1]), head)
    assert not verify_proof(leaves[6], Proof(6, good.size, (*good.path, head)), head)
    assert not verify_proof(leaves[6], good, root(leaves[:-1]))
    assert not verify_proof(leaves[6], Proof(11, 11, good.path), head)


def test_changing_dropping_adding_or_reordering_a_leaf_changes_the_root() -> None:
    leaves = [bytes([i]) for i in range(6)]
    head = root(leaves)
    assert root([*leaves[:2], b"x", *leaves[3:]]) != head
    assert root(leaves[:-1]) != head
    assert root([*leaves, leaves[-1]]) != head
    assert root([leaves[1], leaves[0], *leaves[2:]]) != head


def test_proof_for_a_missing_leaf_is_an_index_error() -> None:
    with pytest.raises(IndexError):
        proof([b"a"], 1)
    with pytest.raises(IndexError):
        proof([], 0)
