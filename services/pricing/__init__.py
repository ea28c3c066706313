"""pricing: quotes deliveries from a deterministic tariff and verifies its own quotes."""
