"""Fixtures for the real servers the tests use (filled in by its harness)."""
