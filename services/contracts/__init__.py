"""Translation between shared-kernel value objects and the lastmile.common.v1 messages,
used by every service's entrypoints and client adapters (protobuf stops there)."""
