"""The edge's view of the contract: the gRPC methods it exposes, how, and what it hides."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from google.protobuf import descriptor_pb2

from gateway.access import ANONYMOUS_METHODS, STRICTLY_LIMITED_METHODS
from gateway.idempotency import IDEMPOTENCY_KEY_FIELD, IDEMPOTENT_METHODS
from gateway.path_template import parse_path_template
from gateway.proto_catalog import ProtoCatalog, binding_pattern, http_bindings

_INTERNAL_SUFFIX = "InternalService"
_PACKAGE = re.compile(r"lastmile\.(?P<upstream>[a-z][a-z0-9_]*)\.v\d+")
# grpc.health, grpc.reflection, channelz: the mesh's plumbing, never the public's business.
GRPC_INFRASTRUCTURE_PREFIX = "/grpc."


class RateClass(StrEnum):
    """Which token bucket a method draws from."""

    GENERAL = "general"
    STRICT = "strict"


class Replay(StrEnum):
    """Whether the edge may send a call again after a reset, when the service may have
    processed it already."""

    # Idempotent by design: a read (bound to GET), or a method the mesh declares idempotent.
    ALWAYS = "always"
    # The method honours an idempotency key: a call that carries one may be sent again.
    WITH_KEY = "with-key"
    # Anything else, and every stream.
    NEVER = "never"


@dataclass(frozen=True)
class RestBinding:
    """One google.api.http binding, as an HTTP method and an RE2 regex over the path."""

    http_method: str
    path_regex: str


@dataclass(frozen=True)
class PublicMethod:
    """A method the edge routes to its upstream, over REST and native gRPC."""

    service: str
    name: str
    client_streaming: bool
    server_streaming: bool
    anonymous: bool
    rate_class: RateClass
    rest: tuple[RestBinding, ...]
    replay: Replay = Replay.NEVER

    @property
    def full_name(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def streaming(self) -> bool:
        return self.client_streaming or self.server_streaming


@dataclass(frozen=True)
class PublicService:
    """A public proto service and the upstream (cluster) that serves it."""

    full_name: str
    upstream: str
    methods: tuple[PublicMethod, ...]

    @property
    def grpc_prefix(self) -> str:
        return f"/{self.full_name}/"


@dataclass(frozen=True)
class EdgeSurface:
    """Everything routed to an upstream, and the gRPC path prefixes answered at the edge."""

    public: tuple[PublicService, ...]
    hidden_prefixes: tuple[str, ...]

    @property
    def upstreams(self) -> tuple[str, ...]:
        return tuple(sorted({service.upstream for service in self.public}))

    @property
    def methods(self) -> tuple[PublicMethod, ...]:
        return tuple(method for service in self.public for method in service.methods)


def edge_surface(
    catalog: ProtoCatalog,
    *,
    anonymous_methods: frozenset[str] = ANONYMOUS_METHODS,
    strictly_limited_methods: frozenset[str] = STRICTLY_LIMITED_METHODS,
) -> EdgeSurface:
    """Classify every `lastmile.*` service of the catalog; refuse policy naming unknown RPCs."""
    # Public services are those not named *InternalService; the upstream that serves one is
    # named after its package, lastmile.<upstream>.v1.
    public: list[PublicService] = []
    hidden = []
    for name in sorted(catalog.services):
        if not name.startswith("lastmile."):
            continue
        match = _PACKAGE.match(name)
        if match is None:
            raise ValueError(f"{name}: not in a lastmile.<service>.v<N> package")
        if name.endswith(_INTERNAL_SUFFIX):
            hidden.append(f"/{name}/")
            continue
        methods = tuple(
            _public_method(catalog, name, method, anonymous_methods, strictly_limited_methods)
            for method in catalog.services[name].method
        )
        public.append(PublicService(name, match["upstream"], methods))
    surface = EdgeSurface(tuple(public), (*hidden, GRPC_INFRASTRUCTURE_PREFIX))
    exposed = {method.full_name for method in surface.methods}
    for policy, names in (("anonymous", anonymous_methods), ("strict", strictly_limited_methods)):
        if unknown := sorted(names - exposed):
            raise ValueError(f"{policy} methods that no public service has: {unknown}")
    return surface


def _public_method(
    catalog: ProtoCatalog,
    service: str,
    method: descriptor_pb2.MethodDescriptorProto,
    anonymous_methods: frozenset[str],
    strictly_limited_methods: frozenset[str],
) -> PublicMethod:
    full_name = f"{service}/{method.name}"
    strict = full_name in strictly_limited_methods
    rest = tuple(_rest_bindings(method))
    return PublicMethod(
        service=service,
        name=method.name,
        client_streaming=method.client_streaming,
        server_streaming=method.server_streaming,
        anonymous=full_name in anonymous_methods,
        rate_class=RateClass.STRICT if strict else RateClass.GENERAL,
        rest=rest,
        replay=_replay(catalog, full_name, method, rest),
    )


def _replay(
    catalog: ProtoCatalog,
    full_name: str,
    method: descriptor_pb2.MethodDescriptorProto,
    rest: tuple[RestBinding, ...],
) -> Replay:
    if method.client_streaming or method.server_streaming:
        return Replay.NEVER
    reads = bool(rest) and all(binding.http_method == "GET" for binding in rest)
    if reads or full_name in IDEMPOTENT_METHODS:
        return Replay.ALWAYS
    request = catalog.message(method.input_type)
    if any(field.name == IDEMPOTENCY_KEY_FIELD for field in request.field):
        return Replay.WITH_KEY
    return Replay.NEVER


def _rest_bindings(method: descriptor_pb2.MethodDescriptorProto) -> Iterable[RestBinding]:
    for binding in http_bindings(method):
        http_method, template = binding_pattern(binding)
        if http_method and template:
            yield RestBinding(http_method.upper(), path_regex(template))


def path_regex(template: str) -> str:
    """An RE2 regex matching exactly the paths of a google.api.http path template."""
    parsed = parse_path_template(template)
    patterns = {variable.field_path: variable.pattern for variable in parsed.variables}
    parts = re.split(r"\{([^}]+)\}", parsed.openapi_path)
    regex = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            regex.append(re.escape(part))
        else:
            pattern = patterns[part]
            regex.append(pattern.removeprefix("^").removesuffix("$") if pattern else "[^/]+")
    return "".join(regex)
