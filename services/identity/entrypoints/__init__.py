"""identity's entrypoints: gRPC servicers, the JWKS document, key upkeep and the CLI."""
