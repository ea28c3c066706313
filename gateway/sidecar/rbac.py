"""The inbound listener's RBAC filter: an allow-list of (caller SPIFFE id, RPC) from the
topology; anything else, reflection and health included, is denied with 403, which Envoy
turns into PERMISSION_DENIED for gRPC callers."""

from __future__ import annotations

from gateway.envoy_config import Config, typed
from gateway.sidecar.tls import spiffe_id
from gateway.sidecar.topology import Grant

RBAC = "envoy.filters.http.rbac"


def rbac_filter(grants: tuple[Grant, ...]) -> Config:
    policies = {grant.name: _policy(grant) for grant in grants}
    return {
        "name": RBAC,
        "typed_config": typed(
            "envoy.extensions.filters.http.rbac.v3.RBAC",
            rules={"action": "ALLOW", "policies": policies},
            rules_stat_prefix="inbound_",
        ),
    }


def _policy(grant: Grant) -> Config:
    if grant.method:
        path = {"exact": f"/{grant.service}/{grant.method}"}
    else:
        path = {"prefix": f"/{grant.service}/"}
    return {
        "permissions": [{"url_path": {"path": path}}],
        # The peer's verified URI SAN; the TLS context already required a mesh certificate.
        "principals": [
            {"authenticated": {"principal_name": {"exact": spiffe_id(caller)}}}
            for caller in grant.callers
        ],
    }
