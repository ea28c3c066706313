"""fleet's gRPC servicers: the courier session and the mesh-only internal API."""
