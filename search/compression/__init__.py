"""Compression inside the search: pruning, sparsity, quantization, deployment, cost measurement."""
