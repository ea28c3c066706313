"""mTLS between workloads: SPIFFE identities, where the certificate files are, and the Envoy
transport sockets and health checks that use them (the edge reuses these for its upstreams)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from gateway.envoy_config import Config, typed

TRUST_DOMAIN = "lastmile.dev"
NAMESPACE = "lastmile"

_TLS_SOCKET = "envoy.transport_sockets.tls"
_TLS_CONTEXT = "envoy.extensions.transport_sockets.tls.v3"
# Only Envoys (sidecars and the edge) speak mTLS to each other, so nothing older is needed.
# Both bounds: Envoy's client default maximum is still TLS 1.2.
_TLS_PARAMS = {"tls_minimum_protocol_version": "TLSv1_3", "tls_maximum_protocol_version": "TLSv1_3"}
# Endpoint-metadata label that selects the plaintext socket for health checks only.
_HEALTH_SOCKET_LABEL = {"lastmile.dev/health-check": "plaintext"}


def spiffe_id(workload: str) -> str:
    """The URI SAN a workload's certificate carries; its ServiceAccount is named `workload`."""
    return f"spiffe://{TRUST_DOMAIN}/ns/{NAMESPACE}/sa/{workload}"


@dataclass(frozen=True)
class CertPaths:
    """A workload's key pair and the CA bundle, in cert-manager's Secret layout."""

    directory: Path

    @property
    def certificate(self) -> Path:
        return self.directory / "tls.crt"

    @property
    def private_key(self) -> Path:
        return self.directory / "tls.key"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"


# Where the workload's cert-manager Secret is mounted in every Kubernetes pod.
KUBERNETES_CERTS = CertPaths(Path("/etc/lastmile/tls"))


def _common_context(certs: CertPaths, peers: list[Config]) -> Config:
    return {
        "tls_params": _TLS_PARAMS,
        "alpn_protocols": ["h2"],
        "tls_certificates": [
            {
                "certificate_chain": {"filename": str(certs.certificate)},
                "private_key": {"filename": str(certs.private_key)},
            }
        ],
        "validation_context": {
            "trusted_ca": {"filename": str(certs.ca)},
            "match_typed_subject_alt_names": peers,
        },
    }


def downstream_tls(certs: CertPaths) -> Config:
    """The inbound socket: a client certificate from the mesh CA is required. Which workload
    may call what is the RBAC filter's decision, on the verified URI SAN."""
    in_trust_domain = {"san_type": "URI", "matcher": {"prefix": f"spiffe://{TRUST_DOMAIN}/"}}
    return {
        "name": _TLS_SOCKET,
        "typed_config": typed(
            f"{_TLS_CONTEXT}.DownstreamTlsContext",
            require_client_certificate=True,
            common_tls_context=_common_context(certs, [in_trust_domain]),
        ),
    }


def upstream_tls(certs: CertPaths, peer: str, host: str) -> Config:
    """The socket to `peer`'s sidecar at `host`: its certificate must carry exactly `peer`'s
    SPIFFE id (the name it is reached by proves nothing; the identity does)."""
    exact_peer = {"san_type": "URI", "matcher": {"exact": spiffe_id(peer)}}
    context = typed(
        f"{_TLS_CONTEXT}.UpstreamTlsContext",
        common_tls_context=_common_context(certs, [exact_peer]),
    )
    if not _is_ip(host):
        context["sni"] = host
    return {"name": _TLS_SOCKET, "typed_config": context}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def plaintext_health_socket() -> Config:
    """A `transport_socket_matches` entry: health checks go in plaintext (to the peer's health
    listener, which serves nothing but Health/Check), while calls keep the cluster's mTLS."""
    return {
        "name": "plaintext-health-checks",
        "match": _HEALTH_SOCKET_LABEL,
        "transport_socket": {
            "name": "envoy.transport_sockets.raw_buffer",
            "typed_config": typed("envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"),
        },
    }


def grpc_health_check(service_name: str, *, plaintext: bool) -> Config:
    """Active gRPC health checks of every upstream host, of one proto service's status (a
    dispatch standby is NOT_SERVING for its internal service, so Links find the leader)."""
    check: Config = {
        "timeout": "1s",
        "interval": "5s",
        "unhealthy_threshold": 2,
        "healthy_threshold": 1,
        # Keeps the status fresh for an idle caller too (the default is 60 s).
        "no_traffic_interval": "10s",
        "grpc_health_check": {"service_name": service_name},
    }
    if plaintext:
        check["transport_socket_match_criteria"] = _HEALTH_SOCKET_LABEL
    return check
