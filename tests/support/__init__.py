"""Helpers shared by the test layers: paths, the local PostgreSQL, moto's server, the oracle, runners."""
