"""orders' use cases and the ports (repositories, unit of work, pricing) they depend on."""
