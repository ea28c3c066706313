"""pricing's use cases and the ports they depend on."""
