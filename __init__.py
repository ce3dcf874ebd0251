"""scalesearch: find the image-classification model that fits your budget.

A multi-objective Optuna study over model scale (timm families, width, depth), compression and
training hyper-parameters, trading accuracy against parameters, FLOPs, latency and size.
"""

__version__ = "0.1.0"
