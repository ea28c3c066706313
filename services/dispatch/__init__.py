"""dispatch: matches pending deliveries to the nearest eligible idle courier, runs the
offers and their timeouts, and assigns accepted offers through orders. One replica is
the active matcher; the others stand by."""
