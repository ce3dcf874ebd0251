"""Fixed configurations trained as a default-study trial is, over a grid of peak learning rates,
epochs and augmentation strengths: which recipe the default space should search.

Each ``--models`` FAMILY:WIDTH:DEPTH trains as a default-study trial does (one-cycle, batch 64,
weight decay 1e-2, label smoothing 0.05; CPU, one thread) at each ``--lrs`` peak learning rate,
``--epochs`` count, ``--augment`` strength and ``--seeds`` seed. Prints one JSON line per
training (params, validation and test accuracy, seconds), then per grid point the mean test
accuracy ± SE over seeds and the paired difference from the model's first grid point.

``--dataset`` is ``digits`` or an image folder (one sub-folder per class). ``--make-photo-digits
DIR`` first writes one a recipe fitted to digits has not seen: each digit drawn in a random
colour at 16 px over a random patch of scikit-learn's two sample photographs (RGB PNGs).

    PYTHONPATH=.. python benchmarks/train_grid.py [--models resnet:0.03125:0.5 ...] [--lrs 1e-3 ...] [--epochs 20] [--seeds 0 1 2]
    PYTHONPATH=.. python benchmarks/train_grid.py --make-photo-digits /tmp/pd --dataset /tmp/pd ...
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from small_models import mean_se  # noqa: E402  (a sibling script of this folder)

PHOTO_DIGIT_SIZE = 16


def make_photo_digits(folder: Path, seed: int = 0, size: int = PHOTO_DIGIT_SIZE) -> int:
    """scikit-learn's 1797 digits as ``size`` px RGB PNGs in ``folder/<digit>/``, each over a random
    photo patch in a random bright colour (the digit's ink is alpha); returns the image count."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits, load_sample_images

    rng = np.random.default_rng(seed)
    photos = [np.asarray(Image.fromarray(p).resize((p.shape[1] // 4, p.shape[0] // 4), Image.BILINEAR), dtype=np.float32)
              for p in load_sample_images().images]
    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        ink = np.asarray(Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((size, size), Image.BILINEAR),
                         dtype=np.float32)[..., None] / 255
        photo = photos[rng.integers(len(photos))]
        y, x = rng.integers(photo.shape[0] - size), rng.integers(photo.shape[1] - size)
        colour = rng.uniform(128, 255, size=3)
        pixels = photo[y:y + size, x:x + size] * (1 - ink) + colour * ink
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(folder / str(label) / f"{i:04d}.png")
    return len(digits.images)


def load(dataset: str):
    """``digits``, or the image folder at ``dataset``, loaded and split once for the whole grid."""
    from scalesearch.search.datasets.load import load_dataset
    from scalesearch.search.datasets.spec import DatasetSpec

    return load_dataset("digits" if dataset == "digits" else DatasetSpec(kind="imagefolder", root=dataset))


def run_one(data, family: str, width: float, depth: float, lr: float, epochs: int, augment: float, seed: int) -> dict:
    import torch

    from scalesearch.search.compression.measure import count_params
    from scalesearch.search.training.train import TrainConfig, evaluate, train
    from scalesearch.spaces.registry import ModelInput, get_family

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    io = ModelInput(data.num_classes, data.in_chans, data.input_size)
    model = get_family(family).build(io, width_multiplier=width, depth_multiplier=depth)
    cfg = TrainConfig(lr=lr, weight_decay=1e-2, label_smoothing=0.05, epochs=epochs, batch_size=64,
                      schedule="onecycle", augment=augment, seed=seed)
    started = time.perf_counter()
    result = train(model, data, cfg, "cpu")
    return {"model": f"{family} w={width} d={depth}", "lr": lr, "epochs": epochs, "augment": augment, "seed": seed,
            "params": count_params(model), "val": round(result.val_accuracy, 4),
            "test": round(evaluate(model, data.test, "cpu", cfg), 4), "seconds": round(time.perf_counter() - started, 1)}


def summary(rows: list[dict]) -> list[str]:
    """The Markdown table, header included: a row per model and (lr, epochs, augment), in that
    order, with the mean test accuracy ± SE over seeds and its difference from the model's first
    row, paired by seed."""
    lines = ["| model | params | peak lr | epochs | augment | test accuracy | vs the first row, paired |",
             "|---|---|---|---|---|---|---|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        by_point: dict[tuple, dict[int, float]] = {}
        for r in sorted((r for r in rows if r["model"] == model), key=lambda r: (r["lr"], r["epochs"], r["augment"])):
            by_point.setdefault((r["lr"], r["epochs"], r["augment"]), {})[r["seed"]] = r["test"]
        first = next(iter(by_point.values()))
        params = next(r["params"] for r in rows if r["model"] == model)
        for (lr, epochs, augment), tests in by_point.items():
            paired = [t - first[seed] for seed, t in tests.items() if seed in first] if tests is not first else []
            lines.append(f"| {model} | {params / 1000:.1f}K | {lr:g} | {epochs} | {augment:g} | "
                         f"{mean_se(list(tests.values()))} | {mean_se(paired) if paired else ''} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet:0.03125:0.5", "resnet:0.1:0.5", "convnext:0.4:0.34"],
                        help="FAMILY:WIDTH:DEPTH")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3.2e-2])
    parser.add_argument("--epochs", type=int, nargs="+", default=[20])
    parser.add_argument("--augment", type=float, nargs="+", default=[0.4])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dataset", default="digits", help="digits, or an image folder")
    parser.add_argument("--make-photo-digits", type=Path, metavar="DIR", help="write the photo-digits folder first")
    args = parser.parse_args()
    if args.make_photo_digits:
        print(f"wrote {make_photo_digits(args.make_photo_digits)} images to {args.make_photo_digits}", flush=True)
    models = [(m.split(":")[0], float(m.split(":")[1]), float(m.split(":")[2])) for m in args.models]
    data, rows = load(args.dataset), []
    for (family, width, depth), lr, epochs, augment, seed in itertools.product(
            models, args.lrs, args.epochs, args.augment, args.seeds):
        rows.append(run_one(data, family, width, depth, lr, epochs, augment, seed))
        print(json.dumps(rows[-1]), flush=True)
    print("\n".join(summary(rows)))


if __name__ == "__main__":
    main()
