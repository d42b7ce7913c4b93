"""Helpers shared by tests and benchmarks: servers they start, data they upload."""
