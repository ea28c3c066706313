"""Unit tests of identity's service_layer."""
