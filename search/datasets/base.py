"""What the trainer sees: a :class:`Dataset` of three splits, each a :class:`Split` (in memory)
or a ``StreamSplit`` (from disk). The trainer only calls ``len(split)``,
``split.num_batches(batch_size, drop_last)`` and ``split.batches(...)``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scalesearch.search.datasets.augment import Augment, epoch_generator


class DataClock:
    """Seconds spent producing batches (indexing, copying, decoding, augmenting)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def add(self, seconds: float) -> None:
        self.seconds += seconds


def timed(batches: Iterator[Any], clock: DataClock | None) -> Iterator[Any]:
    """``batches``, charging the time spent inside ``next()`` to ``clock``."""
    while True:
        started = time.perf_counter()
        try:
            item = next(batches)
        except StopIteration:
            return
        finally:
            if clock is not None:
                clock.add(time.perf_counter() - started)
        yield item


def num_batches(n: int, batch_size: int, drop_last: bool) -> int:
    return max(1, n // batch_size) if drop_last else -(-n // batch_size)


@dataclass(frozen=True)
class Split:
    """An in-memory split: normalised ``x`` (N, C, H, W) and ``y`` (N,), on any device.

    ``augment`` applies to shuffled batches only (training), never to evaluation passes.
    """

    x: Any  # float tensor (N, C, H, W), normalised
    y: Any  # long tensor (N,)
    augment: Augment | None = None
    clock: DataClock | None = field(default=None, compare=False)

    def __len__(self) -> int:
        return len(self.y)

    def num_batches(self, batch_size: int, drop_last: bool = False) -> int:
        return num_batches(len(self), batch_size, drop_last)

    def batches(self, batch_size: int, *, device: str, shuffle: bool = False,
                generator: Any = None, drop_last: bool = False) -> Iterator[tuple[Any, Any]]:
        """``(x, y)`` batches on ``device``; ``drop_last`` drops a ragged tail (BatchNorm needs > 1)."""
        return timed(self._batches(batch_size, device, shuffle, generator, drop_last), self.clock)

    def _batches(self, batch_size: int, device: str, shuffle: bool, generator: Any,
                 drop_last: bool) -> Iterator[tuple[Any, Any]]:
        import torch

        n = len(self)
        batch_size = min(batch_size, n)
        order = torch.randperm(n, generator=generator).to(self.y.device) if shuffle else None
        augment = self.augment if shuffle and self.augment is not None and self.augment.active else None
        augment_generator = epoch_generator(device, generator) if augment is not None else None
        for b in range(self.num_batches(batch_size, drop_last)):
            idx = slice(b * batch_size, (b + 1) * batch_size) if order is None else order[b * batch_size:(b + 1) * batch_size]
            x, y = self.x[idx].to(device, non_blocking=True), self.y[idx].to(device, non_blocking=True)
            yield (augment(x, augment_generator) if augment is not None else x), y

    def to(self, device: str) -> Split:
        return dataclasses.replace(self, x=self.x.to(device), y=self.y.to(device))

    def __add__(self, other: Split) -> Split:
        """Both splits' samples, with this one's augmentation (e.g. train + val for a retrain)."""
        import torch

        return dataclasses.replace(self, x=torch.cat([self.x, other.x]), y=torch.cat([self.y, other.y]))


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Any  # Split | StreamSplit
    val: Any
    test: Any
    num_classes: int
    in_chans: int
    input_size: int
    class_names: tuple[str, ...]
    mean: tuple[float, ...] = ()  # per channel, pixels in [0, 1], as used to normalise
    std: tuple[float, ...] = ()
    split_record: dict[str, Any] = field(default_factory=dict, compare=False)  # see split.py
    load_seconds: float = 0.0  # time load_dataset took (decode, or read the cache)
    streaming: bool = False

    @property
    def data_seconds(self) -> float:
        """Loading time plus every second spent producing batches from any split so far."""
        clocks = {id(c): c for s in (self.train, self.val, self.test) if (c := getattr(s, "clock", None))}
        return self.load_seconds + sum(c.seconds for c in clocks.values())

    def to(self, device: str) -> Dataset:
        """In-memory splits moved to ``device`` (streaming splits copy batch by batch anyway)."""
        return dataclasses.replace(self, train=self.train.to(device), val=self.val.to(device),
                                   test=self.test.to(device))
