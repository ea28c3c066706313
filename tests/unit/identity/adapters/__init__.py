"""Unit tests of identity's adapters."""
