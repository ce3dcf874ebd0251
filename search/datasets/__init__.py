"""Datasets: kinds chosen by ``dataset.kind`` (digits, imagefolder, torchvision, synthetic),
decoded once and cached by content, split stratified and recorded in the study, served to the
trainer as in-memory tensors (on the GPU when there is one) or streamed by DataLoader workers.

The trainer sees only ``Dataset`` and its splits' ``len`` / ``num_batches`` / ``batches``.
"""

from scalesearch.search.datasets.augment import Augment
from scalesearch.search.datasets.base import DataClock, Dataset, Split
from scalesearch.search.datasets.cache import clear_memory_cache
from scalesearch.search.datasets.load import load_dataset
from scalesearch.search.datasets.registry import DATASETS, get_kind

__all__ = ["DATASETS", "Augment", "DataClock", "Dataset", "Split", "clear_memory_cache", "get_kind",
           "load_dataset"]
