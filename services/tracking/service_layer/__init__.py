"""Use cases of tracking: watching a delivery, over shared per-delivery hubs."""
