"""identity's use cases and the interfaces they need from the outside world."""
