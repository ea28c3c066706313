"""Integration tests of identity on a real PostgreSQL."""
