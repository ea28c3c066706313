"""Unit tests of identity's entrypoints."""
