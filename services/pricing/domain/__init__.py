"""pricing's domain: delivery terms, the tariff and quotes."""
