"""dispatch's use cases: the matcher's term of leadership, offers, assignments, the
fleet Links, the intake of delivery events, and the ops views."""
