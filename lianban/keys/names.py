"""Names of the key files one installation holds, and which cipher suite each department's keys use.

    hub        SM4 ring: the blind index (find a person without storing who they are)
    vault      SM4 ring: payloads at rest in the ledger
    evidence   SM4 ring: the evidence chain's SM3-HMAC
    query      SM4 ring: the 查询密码's SM3-HMAC (lianban.crypto.passwords)
    hub-signing-<suite>                       the hub's signing keys, one set per suite in use
    <dept>-recipient, <dept>-signing          a department's unwrapping and response-signing keys

Not a key, but kept beside them: ``evidence-head`` (+ ``.lock``), the evidence chain's MACed head, mirrored
outside the ledger so a wiped or rolled-back ledger is detected (lianban.ledger.evidence).
"""

from __future__ import annotations

from lianban.domain.catalog import load_catalog

INDEX = "hub"
VAULT = "vault"
EVIDENCE = "evidence"
QUERY = "query"
#: not a key: the evidence chain's head file ``<keys_dir>/evidence-head.json``
EVIDENCE_HEAD = "evidence-head"
#: the SM4 rings (as opposed to the asymmetric key sets)
RINGS = (INDEX, VAULT, EVIDENCE, QUERY)


def hub_signing_name(suite: str) -> str:
    """The hub's signing key set for `suite` (one per suite in use)."""
    return f"hub-signing-{suite.lower()}"


def names_for(department: str) -> tuple[str, str]:
    """The department's recipient and signing key-set names."""
    return f"{department}-recipient", f"{department}-signing"


def suite_of(department: str) -> str:
    """The cipher suite agreed with `department` (``schemas/catalog/departments.yaml``)."""
    return load_catalog().departments[department].suite
