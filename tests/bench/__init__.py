"""Benchmarks (not tests): `python -m tests.bench [NAME ...]` runs them and prints figures.

Nothing here is collected by pytest: no module is named test_*.py and no function test_*.
"""
