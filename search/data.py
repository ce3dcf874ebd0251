"""Datasets as the trainer sees them; the implementation lives in :mod:`scalesearch.search.datasets`.

Kept so ``from scalesearch.search.data import Dataset, Split, load_dataset`` keeps working.
"""

from scalesearch.search.datasets import DATASETS, Dataset, Split, load_dataset

__all__ = ["DATASETS", "Dataset", "Split", "load_dataset"]
