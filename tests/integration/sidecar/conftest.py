"""Certificates from a throwaway CA (and one from an unrelated CA) for the sidecar tests, the
real mesh topology, and gRPC channels that present a workload's certificate."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from gateway.sidecar.certs import CertificateAuthority, ensure_workload_certs
from gateway.sidecar.tls import CertPaths
from gateway.sidecar.topology import EDGE, SERVICES, MeshTopology

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def certs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    ensure_workload_certs(directory, [*SERVICES, EDGE])
    return directory


@pytest.fixture(scope="session")
def wrong_ca_certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    """An `edge` certificate with the right SPIFFE id, issued by a CA nobody trusts."""
    return CertificateAuthority.create("An unrelated CA").issue(
        "edge", tmp_path_factory.mktemp("wrong-ca")
    )


@pytest.fixture(scope="session")
def mesh() -> MeshTopology:
    return MeshTopology.load()


def mtls_channel(
    certs: CertPaths, port: int, *, trusted: CertPaths | None = None
) -> grpc.aio.Channel:
    """A channel presenting `certs`' key pair, trusting `trusted`'s CA (default: its own)."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(trusted or certs).ca.read_bytes(),
        private_key=certs.private_key.read_bytes(),
        certificate_chain=certs.certificate.read_bytes(),
    )
    return grpc.aio.secure_channel(f"localhost:{port}", credentials)
