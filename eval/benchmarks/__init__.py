"""Benchmark scripts: each prints its figures; the figures measured so far are in README.md here."""
