"""The Envoy sidecar of every Lastmile pod: mTLS with SPIFFE identities, RBAC from the mesh
topology, retries, deadlines that never cut a stream, health checks, outlier detection and
circuit breakers; rendered for Kubernetes and for the local mesh from one template."""
