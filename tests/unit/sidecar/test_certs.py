"""The development CA: workload certificates with SPIFFE ids, private keys, and reissuing."""

from __future__ import annotations

import datetime
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.sidecar import certs
from gateway.sidecar.certs import CertificateAuthority, ensure_workload_certs


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_a_workload_certificate_carries_its_spiffe_id_and_the_loopback_names(
    tmp_path: Path,
) -> None:
    issued = ensure_workload_certs(tmp_path, ["orders"])["orders"]
    names = load(issued.certificate).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.UniformResourceIdentifier) == [
        "spiffe://lastmile.dev/ns/lastmile/sa/orders"
    ]
    assert names.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]


def test_the_certificate_is_signed_by_the_bundled_ca(tmp_path: Path) -> None:
    issued = ensure_workload_certs(tmp_path, ["pricing"])["pricing"]
    leaf, ca = load(issued.certificate), load(issued.ca)
    leaf.verify_directly_issued_by(ca)
    wrong = CertificateAuthority.create("another CA")
    with pytest.raises((ValueError, TypeError)):
        leaf.verify_directly_issued_by(wrong.certificate)


def test_private_keys_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    issued = ensure_workload_certs(tmp_path, ["identity"])["identity"]
    for key in (issued.private_key, tmp_path / "ca" / "ca.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_current_certificates_are_kept_and_missing_ones_reissued(tmp_path: Path) -> None:
    first = ensure_workload_certs(tmp_path, ["orders", "fleet"])
    kept = first["orders"].certificate.read_bytes()
    first["fleet"].certificate.unlink()
    again = ensure_workload_certs(tmp_path, ["orders", "fleet"])
    assert again["orders"].certificate.read_bytes() == kept
    assert isinstance(load(again["fleet"].certificate).public_key(), ec.EllipticCurvePublicKey)


def test_certificates_close_to_expiry_are_reissued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = ensure_workload_certs(tmp_path, ["tracking"])["tracking"].certificate.read_bytes()
    monkeypatch.setattr(certs, "RENEW_BEFORE", datetime.timedelta(days=400))
    after = ensure_workload_certs(tmp_path, ["tracking"])["tracking"]
    assert after.certificate.read_bytes() != before
    # The CA was expiring too, so the new certificate comes from a new CA.
    load(after.certificate).verify_directly_issued_by(load(tmp_path / "ca" / "ca.crt"))
