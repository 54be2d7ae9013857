"""Helpers shared by the test suite (not part of any distribution)."""
