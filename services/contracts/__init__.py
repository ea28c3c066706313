"""What services agree on across the wire: translation between shared-kernel value objects
and the lastmile.common.v1 messages, used by every service's entrypoints and client adapters
(protobuf stops there), and the quote token that pricing signs and orders verifies."""
