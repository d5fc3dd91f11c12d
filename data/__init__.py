"""Data: the label schema, the labeled data format, splits, and documents to label."""
