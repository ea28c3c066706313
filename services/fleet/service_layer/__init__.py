"""fleet's use cases: sessions, the courier's up messages, dispatch's orders, positions."""
