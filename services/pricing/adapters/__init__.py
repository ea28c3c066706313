"""pricing's adapters to the outside world."""
