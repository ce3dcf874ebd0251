"""Every dataset test gets its own disk cache and an empty in-memory cache."""

import pytest

from scalesearch.search.datasets import clear_memory_cache


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALESEARCH_CACHE", str(tmp_path / "cache"))
    clear_memory_cache()
    yield
    clear_memory_cache()
