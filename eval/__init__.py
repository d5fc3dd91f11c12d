"""Evaluation: metrics (pure functions), scoring a run, comparing runs."""
