"""What may be tried: the model-family registry and search spaces (data, YAML)."""
