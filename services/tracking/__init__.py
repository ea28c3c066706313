"""tracking: the live view of a delivery, streamed to its watchers."""
