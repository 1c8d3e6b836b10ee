"""A throwaway PKI for local servers, tests and drills: certificates for 127.0.0.1 made with `cryptography`.

Never for production: keys are written unencrypted next to the certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
Issued = tuple[x509.Certificate, PrivateKey]


def _key(kind: Literal["ec", "rsa"]) -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1()) if kind == "ec" else rsa.generate_private_key(65537, 2048)


def certificate(common_name: str, ca: bool, issuer: Issued | None = None,
                kind: Literal["ec", "rsa"] = "ec") -> Issued:
    """A certificate for 127.0.0.1 (SAN IP) valid for a day, signed by `issuer` or self-signed."""
    key = _key(kind)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
            .sign(signer, hashes.SHA256()))
    return cert, key


def write_pem(folder: Path, issued: Issued, prefix: str = "") -> tuple[Path, Path]:
    """`issued` as PEM files ``<prefix>cert.pem`` and ``<prefix>key.pem`` in `folder`."""
    cert, key = issued
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / f"{prefix}cert.pem", folder / f"{prefix}key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def self_signed(folder: Path, common_name: str = "127.0.0.1", kind: Literal["ec", "rsa"] = "ec",
                prefix: str = "") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (PEM cert path, PEM key path)."""
    return write_pem(folder, certificate(common_name, ca=True, kind=kind), prefix)
