"""The envelope contract as the departments read it (schemas/, and the stub `lianban connectors new` writes): it
names files and modules that exist, and says what the hub's batch signature covers as lianban.crypto.batch signs
it (every header field but the signature, as canonical JSON: not the hash-tree root alone)."""

from __future__ import annotations

import base64
import importlib.util
import re
from pathlib import Path

import pytest

from lianban.crypto.batch import canonical_header, seal_batch
from lianban.crypto.suites import get_suite

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = sorted([*REPO.glob("schemas/*/openapi.yaml"), *REPO.glob("schemas/*/*.xsd"),
                    *REPO.glob("lianban/app/templates/connector/*.tmpl")])
SEALED = [p for p in CONTRACTS if "Seal:" in p.read_text(encoding="utf-8") or "name=\"seal\"" in
          p.read_text(encoding="utf-8")]


def _named(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w/.])lianban(?:[./][A-Za-z_]+)+(?:\.py)?", text))  # not in a URL


def _exists(name: str) -> bool:
    if "/" in name:
        return (REPO / name).exists()
    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_lianban_file_or_module_a_contract_names_exists(contract: Path) -> None:
    assert [n for n in sorted(_named(contract.read_text(encoding="utf-8"))) if not _exists(n)] == []


@pytest.mark.parametrize("contract", SEALED, ids=lambda p: str(p.relative_to(REPO)))
def test_a_contract_says_the_batch_signature_covers_the_whole_header(contract: Path) -> None:
    text = contract.read_text(encoding="utf-8")
    assert "lianban/crypto/batch.py" in text and ("除 signature 外" in text or "but signature" in text)


def test_the_signature_covers_the_canonical_header_and_not_the_root_alone() -> None:
    suite = get_suite("SM")
    signer, recipient = suite.generate_signing_key(), suite.generate_recipient_key()
    header = seal_batch(suite, "r1", recipient.public, "s1", signer.private, "health", [("a", {"x": 1})]).header
    signature = base64.b64decode(header["signature"])
    assert suite.verify(signer.public, canonical_header(header), signature)
    assert not suite.verify(signer.public, bytes.fromhex(header["root"]), signature)
