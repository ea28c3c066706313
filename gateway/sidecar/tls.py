"""mTLS between workloads: SPIFFE identities, where the certificate files are, and the Envoy
transport sockets and health checks that use them (the edge reuses these for its upstreams).

Two ways to give Envoy the files, chosen by `CertPaths.sds_dir`:

- file-based SDS (Kubernetes): the transport sockets name two secrets whose definitions Envoy
  reads from resource files in `sds_dir` (`sds_documents`, rendered next to the bootstrap).
  Both the SDS subscription (`path_config_source.watched_directory`) and the secrets
  themselves (`watched_directory`) watch the certificate directory for moves, so when the
  kubelet swaps the Secret's `..data` symlink after a cert-manager renewal, Envoy re-reads the
  key pair and the CA bundle and new handshakes use them, without a restart;
- static `tls_certificates` (the local mesh): read once when Envoy starts, never again. The
  local certificates are reissued only when the launcher starts, so nothing rotates under a
  running local Envoy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gateway.envoy_config import Config, is_ip_literal, typed

TRUST_DOMAIN = "lastmile.dev"
NAMESPACE = "lastmile"

_TLS_SOCKET = "envoy.transport_sockets.tls"
_TLS_CONTEXT = "envoy.extensions.transport_sockets.tls.v3"
# Only Envoys (sidecars and the edge) speak mTLS to each other, so nothing older is needed.
# Both bounds: Envoy's client default maximum is still TLS 1.2.
_TLS_PARAMS = {"tls_minimum_protocol_version": "TLSv1_3", "tls_maximum_protocol_version": "TLSv1_3"}
# Endpoint-metadata label that selects the plaintext socket for health checks only.
_HEALTH_SOCKET_LABEL = {"lastmile.dev/health-check": "plaintext"}
_SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
# The SDS resource files (one secret each) and the names the transport sockets refer to.
SDS_CERTIFICATE_FILE = "sds-tls-certificate.yaml"
SDS_TRUSTED_CA_FILE = "sds-trusted-ca.yaml"
_CERTIFICATE_SECRET = "mesh_certificate"
_TRUSTED_CA_SECRET = "mesh_trusted_ca"


def spiffe_id(workload: str) -> str:
    """The URI SAN a workload's certificate carries; its ServiceAccount is named `workload`."""
    return f"spiffe://{TRUST_DOMAIN}/ns/{NAMESPACE}/sa/{workload}"


@dataclass(frozen=True)
class CertPaths:
    """A workload's key pair and the CA bundle, in cert-manager's Secret layout."""

    directory: Path
    # Where the SDS resource files (`sds_documents`) are, as Envoy sees them; None: static
    # files, read once at start.
    sds_dir: Path | None = None

    def with_sds(self, sds_dir: Path) -> CertPaths:
        return replace(self, sds_dir=sds_dir)

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
    context: Config = {"tls_params": _TLS_PARAMS, "alpn_protocols": ["h2"]}
    if certs.sds_dir is None:
        context["tls_certificates"] = [_key_pair(certs)]
        context["validation_context"] = {
            **_trusted_ca(certs),
            "match_typed_subject_alt_names": peers,
        }
        return context
    context["tls_certificate_sds_secret_configs"] = [
        _sds_secret_config(certs, _CERTIFICATE_SECRET, certs.sds_dir / SDS_CERTIFICATE_FILE)
    ]
    # The trusted CA comes from SDS; which SANs to accept stays per socket.
    context["combined_validation_context"] = {
        "default_validation_context": {"match_typed_subject_alt_names": peers},
        "validation_context_sds_secret_config": _sds_secret_config(
            certs, _TRUSTED_CA_SECRET, certs.sds_dir / SDS_TRUSTED_CA_FILE
        ),
    }
    return context


def _key_pair(certs: CertPaths) -> Config:
    return {
        "certificate_chain": {"filename": str(certs.certificate)},
        "private_key": {"filename": str(certs.private_key)},
    }


def _trusted_ca(certs: CertPaths) -> Config:
    return {"trusted_ca": {"filename": str(certs.ca)}}


def _sds_secret_config(certs: CertPaths, name: str, resource_file: Path) -> Config:
    return {
        "name": name,
        "sds_config": {
            "path_config_source": {
                "path": str(resource_file),
                # A Secret volume changes by a rename of `..data` in this directory: re-read
                # the resource (and with it the files it names) whenever an entry is moved.
                "watched_directory": {"path": str(certs.directory)},
            },
            "resource_api_version": "V3",
        },
    }


def sds_documents(certs: CertPaths) -> dict[str, Config]:
    """The SDS resource files that `certs.sds_dir` must hold, by file name: the workload's key
    pair and the CA bundle, each watching the certificate directory for the kubelet's swap."""
    watched = {"watched_directory": {"path": str(certs.directory)}}
    return {
        SDS_CERTIFICATE_FILE: _secret(
            _CERTIFICATE_SECRET, tls_certificate={**_key_pair(certs), **watched}
        ),
        SDS_TRUSTED_CA_FILE: _secret(
            _TRUSTED_CA_SECRET, validation_context={**_trusted_ca(certs), **watched}
        ),
    }


def _secret(name: str, **secret: Config) -> Config:
    return {"resources": [{"@type": _SECRET, "name": name, **secret}]}


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
    if not is_ip_literal(host):
        context["sni"] = host
    return {"name": _TLS_SOCKET, "typed_config": context}


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
