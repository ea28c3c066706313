"""A development CA and one certificate per workload, made locally with `cryptography`.

For `make run MESH=sidecars` and the tests only; clusters get theirs from cert-manager. The
files follow cert-manager's Secret layout (tls.crt, tls.key, ca.crt) in one directory per
workload; keys are 0600. `ensure_workload_certs` reissues whatever is missing or expiring.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.sidecar.tls import CertPaths, spiffe_id

CA_VALIDITY = datetime.timedelta(days=365)
LEAF_VALIDITY = datetime.timedelta(days=30)
# Reissue when less than this is left, so a long-running local mesh never sees one expire.
RENEW_BEFORE = datetime.timedelta(days=7)
_CA_DIR = "ca"
_CA_CERT, _CA_KEY = "ca.crt", "ca.key"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    # Created 0600 from the start: a key is never readable by others, even for an instant.
    mode = 0o600 if secret else 0o644
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    temporary.replace(path)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA that issues workload certificates with SPIFFE URI SANs."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, name: str = "Lastmile development CA") -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            _builder(subject, key.public_key(), CA_VALIDITY)
            .issuer_name(subject)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def load_or_create(cls, directory: Path) -> CertificateAuthority:
        """The CA kept in `directory`; a new one if it is missing or expiring."""
        cert_file, key_file = directory / _CA_CERT, directory / _CA_KEY
        if cert_file.exists() and key_file.exists():
            certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey) and not _expiring(certificate):
                return cls(certificate, key)
        authority = cls.create()
        _write(key_file, _pem_key(authority.key), secret=True)
        _write(cert_file, authority.pem)
        return authority

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, workload: str, directory: Path, *, local: bool = True) -> CertPaths:
        """Write `workload`'s key pair and this CA's certificate into `directory`. `local`
        adds the loopback names, so that a test client can check the server's name too."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(spiffe_id(workload))]
        if local:
            names += [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, workload)])
        certificate = (
            _builder(subject, key.public_key(), LEAF_VALIDITY)
            .issuer_name(self.certificate.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        paths = CertPaths(directory)
        _write(paths.private_key, _pem_key(key), secret=True)
        _write(paths.certificate, certificate.public_bytes(serialization.Encoding.PEM))
        _write(paths.ca, self.pem)
        return paths

    def issued(self, paths: CertPaths) -> bool:
        """Whether `paths` holds a current certificate of this CA, not close to expiry."""
        try:
            certificate = x509.load_pem_x509_certificate(paths.certificate.read_bytes())
            bundled = paths.ca.read_bytes()
        except (FileNotFoundError, ValueError):
            return False
        return (
            paths.private_key.exists()
            and bundled == self.pem
            and certificate.issuer == self.certificate.subject
            and not _expiring(certificate)
        )


def ensure_workload_certs(directory: Path, workloads: Iterable[str]) -> dict[str, CertPaths]:
    """`directory/<workload>/` for each workload, reissued where missing or expiring (all of
    them when the CA in `directory/ca/` had to be renewed)."""
    authority = CertificateAuthority.load_or_create(directory / _CA_DIR)
    issued = {}
    for workload in workloads:
        paths = CertPaths(directory / workload)
        if not authority.issued(paths):
            authority.issue(workload, paths.directory)
        issued[workload] = paths
    return issued


def _expiring(certificate: x509.Certificate) -> bool:
    return certificate.not_valid_after_utc - _now() < RENEW_BEFORE


def _builder(
    subject: x509.Name, public_key: ec.EllipticCurvePublicKey, validity: datetime.timedelta
) -> x509.CertificateBuilder:
    # Backdated a little: clocks of the processes that check it may lag.
    start = _now() - datetime.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
