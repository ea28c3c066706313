"""Lastmile services and the runtime they share."""
