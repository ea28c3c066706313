"""cert-manager renews every mesh certificate (24 h, 8 h before expiry) and the kubelet updates
the mounted Secret by swapping its `..data` symlink. A real Envoy running pricing's Kubernetes
sidecar config (file-based SDS, only its ports and directories moved to free ones) must serve
the renewed certificate, and trust a renewed CA bundle, on new handshakes without a restart."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from cryptography import x509

from gateway.sidecar.certs import CertificateAuthority
from gateway.sidecar.placement import LOOPBACK, Placement, kubernetes_placement
from gateway.sidecar.tls import CertPaths, sds_documents
from gateway.sidecar.topology import EDGE, MeshTopology
from services.devstack.ports import free_port
from tests.integration.sidecar.sidecar_process import running_sidecar

pytestmark = pytest.mark.slow

# The HTTP/2 client preface and an empty SETTINGS frame: a server that accepted our client
# certificate answers with its own SETTINGS; one that refused it sends an alert instead.
T = TypeVar("T")
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


class SecretVolume:
    """A directory laid out as the kubelet lays out a Secret volume: the files live in a
    timestamped `..<version>` directory, `..data` links to it, and every key links through
    `..data`. An update writes a new version and renames `..data_tmp` over `..data`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._versions = 0
        directory.mkdir(parents=True)

    def publish(self, write: Callable[[Path], object]) -> None:
        """Write the next version with `write(version_dir)`, then swap it in atomically."""
        self._versions += 1
        version = self.directory / f"..2026_01_01_00_00_{self._versions:02d}.000000001"
        write(version)
        staged = self.directory / "..data_tmp"
        staged.symlink_to(version.name)
        staged.rename(self.directory / "..data")
        for key in sorted(p.name for p in version.iterdir()):
            link = self.directory / key
            if not link.is_symlink():
                link.symlink_to(f"..data/{key}")


@dataclass(frozen=True)
class RotatingSidecar:
    placement: Placement
    volume: SecretVolume
    authority: CertificateAuthority


@pytest.fixture
async def rotating_sidecar(mesh: MeshTopology, tmp_path: Path) -> AsyncIterator[RotatingSidecar]:
    authority = CertificateAuthority.create("Mesh CA")
    volume = SecretVolume(tmp_path / "tls")
    volume.publish(lambda version: authority.issue("pricing", version))
    # The Kubernetes placement as rendered for deploy/k8s, on free loopback ports, with the
    # Secret's mount and the ConfigMap's SDS files in temporary directories.
    certs = CertPaths(volume.directory).with_sds(tmp_path / "sidecar")
    placement = replace(
        kubernetes_placement("pricing", mesh),
        public_host=LOOPBACK,
        inbound_port=free_port(),
        app_port=free_port(),
        admin_port=free_port(),
        health_port=free_port(),
        stats_port=free_port(),
        certs=certs,
    )
    assert certs.sds_dir is not None
    certs.sds_dir.mkdir()
    for name, document in sds_documents(certs).items():
        (certs.sds_dir / name).write_text(yaml.safe_dump(document))
    async with running_sidecar(placement, mesh, tmp_path / "work"):
        yield RotatingSidecar(placement, volume, authority)


def _client_context(client: CertPaths, trusted_ca: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.load_verify_locations(trusted_ca)
    context.load_cert_chain(client.certificate, client.private_key)
    context.set_alpn_protocols(["h2"])
    return context


def handshake(port: int, client: CertPaths, trusted_ca: Path) -> tuple[int, bool]:
    """One new mTLS connection: the serial of the certificate the server presented, and
    whether the server accepted our client certificate."""
    context = _client_context(client, trusted_ca)
    with (
        socket.create_connection((LOOPBACK, port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        served = tls.getpeercert(binary_form=True)
        assert served is not None
        serial = x509.load_der_x509_certificate(served).serial_number
        try:
            tls.sendall(_H2_PREFACE)
            accepted = bool(tls.recv(9))
        except (ssl.SSLError, ConnectionError):
            accepted = False
    return serial, accepted


async def eventually(probe: Callable[[], T], done: Callable[[T], bool], limit: float = 20) -> T:
    """Probe until `done` holds (Envoy reloads on an inotify event, not at once)."""
    give_up = time.monotonic() + limit
    while True:
        result = await asyncio.to_thread(probe)
        if done(result) or time.monotonic() > give_up:
            return result
        await asyncio.sleep(0.1)


def serial_of(certificate: Path) -> int:
    return x509.load_pem_x509_certificate(certificate.read_bytes()).serial_number


async def test_a_renewed_certificate_is_served_after_the_kubelet_swaps_the_secret(
    rotating_sidecar: RotatingSidecar, tmp_path: Path
) -> None:
    sidecar, authority = rotating_sidecar, rotating_sidecar.authority
    client = authority.issue(EDGE, tmp_path / "edge")
    mounted = CertPaths(sidecar.volume.directory)
    port = sidecar.placement.inbound_port
    first = serial_of(mounted.certificate)
    assert await asyncio.to_thread(handshake, port, client, client.ca) == (first, True)

    # cert-manager's renewal: a new key and certificate from the same CA.
    sidecar.volume.publish(lambda version: authority.issue("pricing", version))
    renewed = serial_of(mounted.certificate)
    assert renewed != first
    served = await eventually(
        lambda: handshake(port, client, client.ca), lambda result: result[0] == renewed
    )
    assert served == (renewed, True), f"still serving {served[0]:x}, renewed is {renewed:x}"


async def test_a_renewed_ca_bundle_is_trusted_after_the_kubelet_swaps_the_secret(
    rotating_sidecar: RotatingSidecar, tmp_path: Path
) -> None:
    """Rotating the mesh CA: the bundle gains the new CA, and the sidecar starts accepting
    client certificates it issued, while the old CA's stay accepted."""
    sidecar, old_ca = rotating_sidecar, rotating_sidecar.authority
    new_ca = CertificateAuthority.create("Next mesh CA")
    old_client = old_ca.issue(EDGE, tmp_path / "old-edge")
    new_client = new_ca.issue(EDGE, tmp_path / "new-edge")
    port = sidecar.placement.inbound_port
    _, accepted = await asyncio.to_thread(handshake, port, new_client, old_client.ca)
    assert not accepted, "a client certificate of a CA not yet trusted was accepted"

    def both_cas(version: Path) -> None:
        old_ca.issue("pricing", version)
        bundle = version / "ca.crt"
        bundle.write_bytes(old_ca.pem + new_ca.pem)
        os.chmod(bundle, 0o644)

    sidecar.volume.publish(both_cas)
    _, accepted = await eventually(
        lambda: handshake(port, new_client, old_client.ca), lambda result: result[1]
    )
    assert accepted, "the new CA in the swapped bundle was never trusted"
    assert (await asyncio.to_thread(handshake, port, old_client, old_client.ca))[1]
