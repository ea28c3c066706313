"""Unit tests of identity's domain."""
