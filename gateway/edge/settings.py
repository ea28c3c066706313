"""What the edge renderer needs beyond the protos: addresses, paths and limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlsplit

from gateway.sidecar.tls import CertPaths

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR_SET = ROOT / "gen" / "descriptors" / "lastmile.binpb"
OPENAPI_DOCUMENT = ROOT / "gen" / "openapi" / "lastmile.openapi.json"


@dataclass(frozen=True)
class Address:
    """A host (name or IP literal) and a TCP port."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} of {self.host} is not a TCP port")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: bursts of up to `requests`, refilled with `requests` every `per_seconds`."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds <= 0:
            raise ValueError(f"rate limit {self.requests}/{self.per_seconds}s must be positive")


@dataclass(frozen=True)
class UpstreamMtls:
    """mTLS to the services' sidecars: the edge's own certificate (SPIFFE id of `edge`), and
    each upstream's plaintext health port (its sidecar answers Health/Check only there); one
    per replica, in the order of the upstream's addresses, when it has several."""

    certs: CertPaths
    health_ports: Mapping[str, int | tuple[int, ...]]


T = TypeVar("T")


def as_tuple(one_or_many: T | tuple[T, ...]) -> tuple[T, ...]:
    """A setting that holds one value or one per replica, as a tuple."""
    return one_or_many if isinstance(one_or_many, tuple) else (one_or_many,)


# The gRPC ports of the local stack, by service name (the `<name>` of `lastmile.<name>.v1`).
DEFAULT_UPSTREAMS: Mapping[str, Address] = MappingProxyType(
    {
        name: Address("127.0.0.1", 50050 + offset)
        for offset, name in enumerate(
            ("identity", "pricing", "orders", "fleet", "dispatch", "tracking")
        )
    }
)
# identity serves its public keys on its admin HTTP port.
DEFAULT_JWKS_URL = "http://127.0.0.1:9450/.well-known/jwks.json"


@dataclass(frozen=True)
class EdgeSettings:
    """Inputs of `render_edge_config`; defaults describe the local stack."""

    # One address per service, or every replica's (the cluster balances them per request).
    upstreams: Mapping[str, Address | tuple[Address, ...]] = field(
        default_factory=lambda: DEFAULT_UPSTREAMS
    )
    listen: Address = Address("127.0.0.1", 8080)
    # The admin interface always binds to loopback: it can stop the server.
    admin_port: int = 9901
    descriptor_set: Path = DESCRIPTOR_SET
    openapi_document: Path = OPENAPI_DOCUMENT
    # None logs to Envoy's stdout, which the launcher collects.
    access_log_path: Path | None = None
    jwks_url: str = DEFAULT_JWKS_URL
    # Other hosts that serve the same JWKS document on the URL's path (identity's other
    # replicas, which read their keys from one database): the JWKS cluster balances over all.
    jwks_replicas: tuple[Address, ...] = ()
    issuer: str = "https://identity.lastmile.dev"
    audience: str = "lastmile"
    # Exact browser origins allowed to call the API; "*" allows any origin.
    cors_allowed_origins: tuple[str, ...] = ("http://localhost:3000", "http://127.0.0.1:3000")
    # Log-in is a password oracle: its bucket is small so guessing stays slow.
    login_rate_limit: RateLimit = RateLimit(requests=20, per_seconds=60)
    general_rate_limit: RateLimit = RateLimit(requests=2000, per_seconds=1)
    max_request_bytes: int = 64 * 1024
    # Client-streaming bodies (a JSON array of up to 10 000 deliveries) get more room.
    max_streaming_request_bytes: int = 8 * 1024 * 1024
    max_response_bytes: int = 4 * 1024 * 1024
    unary_timeout_seconds: float = 15.0
    # Streams have no deadline; only silence ends them. tracking and fleet send heartbeats far
    # more often than this, so a healthy watch or courier session is never cut.
    stream_idle_timeout_seconds: float = 3600.0
    # Threshold for each upstream cluster; long streams (watchers, couriers) count as requests.
    max_upstream_requests: int = 10_000
    # None: plaintext h2c to the services (the local mesh without sidecars).
    upstream_mtls: UpstreamMtls | None = None
    # An OTLP/gRPC collector (plaintext h2c). When set, the edge traces every request with
    # Envoy's OpenTelemetry tracer as service "edge", sampling at random: it starts
    # a trace (or continues the caller's traceparent) and sends W3C traceparent upstream,
    # where the services' gRPC instrumentation continues it. None: no tracing at all.
    otlp_endpoint: Address | None = None
    # Share of requests (percent) whose trace the edge records; the services' parent-based
    # samplers follow this decision. Kubernetes samples 1%, as the services do for theirs.
    trace_sampling_percent: float = 100.0

    def __post_init__(self) -> None:
        if not 0 < self.admin_port < 65536:
            raise ValueError(f"admin port {self.admin_port} is not a TCP port")
        jwks = urlsplit(self.jwks_url)
        if jwks.scheme != "http" or not jwks.hostname:
            raise ValueError(f"jwks_url {self.jwks_url!r} must be an http:// URL")
        if not 0 <= self.trace_sampling_percent <= 100:
            raise ValueError(f"trace_sampling_percent {self.trace_sampling_percent} is not 0-100")
        if self.max_streaming_request_bytes < self.max_request_bytes:
            raise ValueError("max_streaming_request_bytes is below max_request_bytes")
        for name, addresses in self.upstreams.items():
            if not as_tuple(addresses):
                raise ValueError(f"upstream {name} has no address")
        mtls = self.upstream_mtls
        if mtls is not None and (missing := sorted(set(self.upstreams) - set(mtls.health_ports))):
            raise ValueError(f"no health port for the mTLS upstreams {', '.join(missing)}")
        if mtls is not None:
            for name, addresses in self.upstreams.items():
                if len(as_tuple(mtls.health_ports[name])) != len(as_tuple(addresses)):
                    raise ValueError(f"upstream {name} needs one health port per address")

    def endpoints(self, upstream: str) -> list[tuple[Address, int | None]]:
        """Every replica of `upstream`: its address and, behind sidecars, its health port."""
        addresses = as_tuple(self.upstreams[upstream])
        if self.upstream_mtls is None:
            return [(address, None) for address in addresses]
        health = as_tuple(self.upstream_mtls.health_ports[upstream])
        return list(zip(addresses, health, strict=True))

    @property
    def jwks_address(self) -> Address:
        jwks = urlsplit(self.jwks_url)
        return Address(jwks.hostname or "", jwks.port or 80)
