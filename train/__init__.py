"""Training: fit a model on the train split, tune thresholds on dev, write a run folder."""
