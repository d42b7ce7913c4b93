"""Helpers shared by the test suites (import them by module: ``from support import faults``)."""
