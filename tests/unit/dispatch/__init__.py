"""Unit tests of dispatch: the grid index and the matching rules, with fakes."""
