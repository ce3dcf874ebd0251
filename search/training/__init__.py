"""Build a model from a sampled config and train it; robustness metrics of a trained model."""
