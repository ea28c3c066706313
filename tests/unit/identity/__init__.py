"""Unit tests of identity."""
