"""The Envoy edge: its bootstrap config rendered from the descriptor set, and its docs page."""

from gateway.edge.render import CONFIG_FILE, envoy_command, render_edge_config, write_edge_config
from gateway.edge.settings import (
    DEFAULT_UPSTREAMS,
    Address,
    EdgeSettings,
    RateLimit,
    UpstreamMtls,
)

__all__ = [
    "CONFIG_FILE",
    "DEFAULT_UPSTREAMS",
    "Address",
    "EdgeSettings",
    "RateLimit",
    "UpstreamMtls",
    "envoy_command",
    "render_edge_config",
    "write_edge_config",
]
