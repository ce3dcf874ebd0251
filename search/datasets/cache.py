"""Decoded images cached as arrays, keyed by content, shared by trials, workers and reruns.

Two levels: a small in-process memo (trials and repeated loads in one process) and ``.npz``
files on disk (other workers, later runs). The disk key hashes each file's relative path,
size and modification time plus the decoding settings, so editing, adding or removing an
image makes a new entry. Files are written to a temporary name and renamed, so concurrent
workers never read a half-written cache; they are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from scalesearch.errors import DataWarning

ENV_VAR = "SCALESEARCH_CACHE"
FORMAT_VERSION = "1"
_MEMO: OrderedDict[str, Any] = OrderedDict()
_MEMO_SIZE = 4


def cache_dir(configured: str | None = None) -> Path:
    """``dataset.cache_dir``, else ``$SCALESEARCH_CACHE``, else ``~/.cache/scalesearch``."""
    return Path(configured or os.environ.get(ENV_VAR) or Path.home() / ".cache" / "scalesearch").expanduser()


def content_key(parts: Iterable[str]) -> str:
    """A hex digest of ``parts`` (plus the cache format version)."""
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\0")
    return digest.hexdigest()


def file_stamps(root: Path, files: Iterable[str]) -> Iterable[str]:
    """``path:size:mtime_ns`` for each file: what the content key hashes for a folder."""
    for rel in files:
        st = (root / rel).stat()
        yield f"{rel}:{st.st_size}:{st.st_mtime_ns}"


def memo_get(key: str) -> Any:
    value = _MEMO.get(key)
    if value is not None:
        _MEMO.move_to_end(key)
    return value


def memo_put(key: str, value: Any) -> None:
    _MEMO[key] = value
    _MEMO.move_to_end(key)
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)


def clear_memory_cache() -> None:
    """Forget in-process entries (what a fresh worker process starts with)."""
    _MEMO.clear()


def entry_path(directory: Path, kind: str, key: str) -> Path:
    return directory / f"{kind}-{key[:32]}.npz"


def load_arrays(path: Path) -> dict[str, Any] | None:
    """The arrays stored at ``path``, or None when absent or unreadable (then it is rebuilt)."""
    import numpy as np

    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except Exception as e:  # a truncated or foreign file: decode again and overwrite it
        warnings.warn(DataWarning(f"dataset cache {path} is unreadable ({e}); decoding the images again"), stacklevel=2)
        return None


def save_arrays(path: Path, arrays: dict[str, Any]) -> bool:
    """Write ``arrays`` atomically (temp file + rename); False, with a warning, if it cannot."""
    import numpy as np

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    except OSError as e:
        warnings.warn(DataWarning(f"dataset cache: cannot write to {path.parent} ({e}); set dataset.cache_dir "
                                  f"or ${ENV_VAR} to a writable folder"), stacklevel=2)
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
        return True
    except OSError as e:
        warnings.warn(DataWarning(f"dataset cache: cannot write {path} ({e})"), stacklevel=2)
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
