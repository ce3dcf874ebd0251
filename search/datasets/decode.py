"""Reading image files with PIL: probe headers, decode to square uint8 arrays, apply the
``on_corrupt`` policy (``fail`` names the file; ``skip`` warns, naming it, and drops it).
"""

from __future__ import annotations

import statistics
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalesearch.errors import DataError, DataWarning

#: PIL modes that hold one (grey) channel; anything else is decoded as RGB.
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


@dataclass(frozen=True)
class Probe:
    width: int
    height: int
    grey: bool


def probe(path: Path) -> Probe:
    """Size and colour of an image from its header (no pixel decoding)."""
    from PIL import Image

    with Image.open(path) as img:
        return Probe(img.width, img.height, img.mode in GREY_MODES)


def square(img: Any, size: int) -> Any:
    """Resize the shorter side to ``size`` and centre-crop to ``size`` x ``size``."""
    from PIL import Image

    w, h = img.size
    if (w, h) == (size, size):
        return img
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    return img.crop((left, top, left + size, top + size))


def decode(path: Path, size: int, in_chans: int) -> Any:
    """``path`` as a uint8 array (in_chans, size, size)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        img = square(img.convert("L" if in_chans == 1 else "RGB"), size)
        array = np.array(img, dtype=np.uint8)
    return array[None] if in_chans == 1 else np.ascontiguousarray(array.transpose(2, 0, 1))


def unreadable(path: Path | str, error: BaseException) -> DataError:
    return DataError(f"dataset: cannot read image {path} ({type(error).__name__}: {error}); "
                     "fix or delete it, or set dataset.on_corrupt: skip")


def warn_skipped(paths: Sequence[str], why: str = "unreadable") -> None:
    """One readable warning line for all the images left out (``on_corrupt: skip``)."""
    if not paths:
        return
    shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
    warnings.warn(DataWarning(f"dataset: skipped {len(paths)} {why} image{'s' * (len(paths) != 1)} "
                              f"(dataset.on_corrupt: skip): {shown}"), stacklevel=3)


def read_all(paths: Sequence[Path], read: Callable[[Path], Any], on_corrupt: str,
             workers: int = 4) -> tuple[list[Any], list[int]]:
    """``read`` every path (threads: PIL decodes without the GIL). Returns the results of the
    readable ones and the indices of the unreadable ones (``fail`` raises on the first)."""
    def attempt(path: Path) -> tuple[Any, BaseException | None]:
        try:
            return read(path), None
        except Exception as e:  # PIL raises UnidentifiedImageError, OSError, SyntaxError, ...
            return None, e

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(attempt, paths, chunksize=64))
    results, bad = [], []
    for i, (value, error) in enumerate(outcomes):
        if error is None:
            results.append(value)
        elif on_corrupt == "skip":
            bad.append(i)
        else:
            raise unreadable(paths[i], error)
    warn_skipped([str(paths[i]) for i in bad])
    return results, bad


def native_size(probes: Sequence[Probe]) -> int:
    """The size images are decoded to when the spec does not say: their common size when all
    are square and equal, else the median of their shorter sides."""
    sizes = {(p.width, p.height) for p in probes}
    if len(sizes) == 1 and (only := sizes.pop())[0] == only[1]:
        return only[0]
    return int(statistics.median(min(p.width, p.height) for p in probes))
