"""Batch labeling of document corpora."""
