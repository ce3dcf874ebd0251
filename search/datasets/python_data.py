"""``kind: python``: tensors ``(x, y)`` or a torch ``Dataset`` given to ``scalesearch.run(data=...)``.

The data lives only in the process that was given it. :func:`register` reads it once (a
``Dataset`` item by item), checks it, fingerprints its content and keeps it in memory; the
study's spec records ``kind: python`` and that fingerprint, never the data. From there it is
split, normalised and recorded like every other kind (``load.py``, ``split.py``). Trials,
resumes and ``scalesearch.train`` in this process find it by fingerprint; any other process
(``scalesearch worker``, the CLI) cannot see it and is refused with one line.

Accepted forms::

    (x, y)                       # x: (N, C, H, W) or (N, H, W) images, y: (N,) class indices
    dataset                      # a map-style torch Dataset of (image, label) items
    {"x": x, "y": y, "num_classes": 10, "input_size": 32, "class_names": [...], "name": "scans"}
    {"dataset": dataset, ...}    # the same options around a Dataset

``num_classes`` defaults to ``max(y) + 1``; ``input_size`` (a square side; images are resized to
it) defaults to the images' own side, which must then be square.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from scalesearch.errors import DataError
from scalesearch.search.datasets.source import ImageSource

if TYPE_CHECKING:
    from scalesearch.search.datasets.spec import DatasetSpec

KIND = "python"
FORMAT = b"scalesearch-python-data/1"
OPTIONS = ("x", "y", "dataset", "num_classes", "input_size", "class_names", "name")
_SOURCES: OrderedDict[str, ImageSource] = OrderedDict()
_KEEP = 4  # datasets held at once (a notebook may try a few)


def register(data: Any) -> dict[str, Any]:
    """Read, check and keep ``data``; the ``dataset`` spec fields that name it."""
    options = _options(data)
    x, y = (_from_dataset(options["dataset"]) if "dataset" in options
            else (_images(options["x"]), _labels(options["y"])))
    if len(x) != len(y):
        raise DataError(f"data: x has {len(x)} samples but y has {len(y)} labels; give one label per sample")
    if len(y) == 0:
        raise DataError("data: no samples; give at least two images of each class")
    class_names = _class_names(y, options.get("num_classes"), options.get("class_names"))
    input_size = options.get("input_size")
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1):
        raise DataError(f"data: input_size must be a positive whole number of pixels, got {input_size!r}")
    if input_size is None and x.shape[-1] != x.shape[-2]:
        raise DataError(f"data: images are {x.shape[-2]}x{x.shape[-1]} pixels; give input_size "
                        "(data={'x': x, 'y': y, 'input_size': N}) to resize them to N x N")
    name = str(options.get("name", KIND))
    key = fingerprint(x, y, class_names)
    _SOURCES[key] = ImageSource(name, x, y, class_names)
    _SOURCES.move_to_end(key)
    while len(_SOURCES) > _KEEP:
        _SOURCES.popitem(last=False)
    return {"kind": KIND, "name": name, "root": None, "fingerprint": key, "input_size": input_size}


def fingerprint(x: Any, y: Any, class_names: tuple[str, ...]) -> str:
    """sha256 of the images (shape, type, bytes), the labels and the class names."""
    import numpy as np

    digest = hashlib.sha256(FORMAT)
    digest.update(f"{x.shape}|{x.dtype}|{len(class_names)}".encode())
    digest.update(np.ascontiguousarray(x).tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    digest.update("\0".join(class_names).encode())
    return digest.hexdigest()


def available(key: str | None) -> bool:
    return key in _SOURCES


def require(spec: DatasetSpec) -> None:
    """Refuse, in one line, a ``kind: python`` dataset that this process was not given."""
    if spec.kind == KIND and not available(spec.fingerprint):
        raise DataError(
            f"dataset: this study's data came from Python (kind python, fingerprint {str(spec.fingerprint)[:12]}) "
            "and exists only in the process that passed it to scalesearch.run(data=...); pass the same "
            "data= to scalesearch.run to resume it, or store the images on disk (dataset.kind: imagefolder)")


def load(spec: DatasetSpec) -> ImageSource:
    require(spec)
    source = _SOURCES[str(spec.fingerprint)]
    _SOURCES.move_to_end(str(spec.fingerprint))
    return source


# --------------------------------------------------------------------------- reading


def _options(data: Any) -> dict[str, Any]:
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - set(OPTIONS))
        if unknown:
            raise DataError(f"data: unknown key {unknown[0]!r}; give x and y (or dataset), and optionally "
                            "num_classes, input_size, class_names, name")
        if ("dataset" in data) == ("x" in data or "y" in data):
            raise DataError("data: give either x and y (tensors) or dataset (a torch Dataset), not both")
        if "dataset" not in data and not ("x" in data and "y" in data):
            raise DataError("data: give both x (images) and y (labels)")
        return dict(data)
    pair = isinstance(data, list) and len(data) == 2 and len(getattr(data[0], "shape", ())) >= 3
    if isinstance(data, tuple) or pair:  # a list of (image, label) items is a dataset
        if len(data) != 2:
            raise DataError(f"data: expected (x, y), got a sequence of {len(data)} items")
        return {"x": data[0], "y": data[1]}
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return {"dataset": data}
    raise DataError(f"data: expected (x, y) tensors, a torch Dataset or a dict, got {type(data).__name__}")


def _array(value: Any, what: str) -> Any:
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "getbands"):  # a PIL image: (H, W) or (H, W, C)
        value = np.asarray(value)
        value = value.transpose(2, 0, 1) if value.ndim == 3 else value
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as e:
        raise DataError(f"data: {what} is not an array or tensor ({e})") from None


def _images(x: Any) -> Any:
    import numpy as np

    x = _array(x, "x")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise DataError(f"data: x must hold images as (N, C, H, W) or (N, H, W), got shape {tuple(x.shape)}")
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"data: x must hold numbers, got {x.dtype}")
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise DataError("data: x holds NaN or infinite values; clean or drop those images")
    return x


def _labels(y: Any) -> Any:
    import numpy as np

    y = _array(y, "y")
    if y.ndim != 1:
        raise DataError(f"data: y must be one class index per sample, shape (N,), got shape {tuple(y.shape)}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"data: y must hold integer class indices (0, 1, ...), got {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise DataError(f"data: y holds a negative label ({int(y.min())}); labels are class indices 0, 1, ...")
    return y


def _from_dataset(dataset: Any) -> tuple[Any, Any]:
    """Every ``(image, label)`` item of a map-style dataset, stacked."""
    import numpy as np

    images, labels = [], []
    for i in range(len(dataset)):
        item = dataset[i]
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise DataError(f"data: dataset[{i}] is not an (image, label) pair; a Dataset must return (image, label)")
        image = _array(item[0], f"dataset[{i}]'s image")
        if images and image.shape != images[0].shape:
            raise DataError(f"data: dataset[{i}]'s image has shape {tuple(image.shape)}, dataset[0]'s "
                            f"{tuple(images[0].shape)}; every image must have the same shape")
        label = _array(item[1], f"dataset[{i}]'s label")
        if label.size != 1 or not np.issubdtype(label.dtype, np.integer):
            raise DataError(f"data: dataset[{i}]'s label is {item[1]!r}; labels are integer class indices")
        images.append(image)
        labels.append(int(label.reshape(())))
    if not images:
        raise DataError("data: the dataset is empty; give at least two images of each class")
    return _images(np.stack(images)), _labels(np.asarray(labels, dtype=np.int64))


def _class_names(y: Any, num_classes: Any, names: Any) -> tuple[str, ...]:
    seen = int(y.max()) + 1
    if names is not None:
        names = tuple(str(n) for n in names)
        if num_classes is not None and num_classes != len(names):
            raise DataError(f"data: {len(names)} class_names but num_classes is {num_classes}; give one name per class")
        num_classes = len(names)
    if num_classes is None:
        num_classes = seen
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise DataError(f"data: num_classes must be a whole number, at least 2, got {num_classes!r}")
    if seen > num_classes:
        raise DataError(f"data: y holds label {seen - 1} but there are {num_classes} classes (0..{num_classes - 1}); "
                        "raise num_classes or fix the labels")
    return names or tuple(str(i) for i in range(num_classes))
