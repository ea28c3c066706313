"""The courier simulator: simulated couriers and customers that drive the whole mesh through
the edge, as the demo (`make simulate`) and as a load generator."""
