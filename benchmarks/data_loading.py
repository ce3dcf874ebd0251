"""Per-trial data time vs trial time on an image folder of PNGs.

Writes scikit-learn's 1,797 digits as 16x16 grey PNGs (one folder per class) to a temporary
folder, runs a short study on it as one worker (cold cache: decodes every PNG), then joins
the same study as a second worker (fresh process state: reads the decoded-image cache), and
prints each trial's ``ss.data_seconds`` (loading charged to a worker's first trial, plus every
batch fetched) against ``ss.trial_seconds``.

    PYTHONPATH=.. python benchmarks/data_loading.py                 # in-memory (default)
    PYTHONPATH=.. python benchmarks/data_loading.py --stream        # DataLoader workers
    PYTHONPATH=.. python benchmarks/data_loading.py --out results.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def write_pngs(root: Path, size: int) -> int:
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for i, (image, label) in enumerate(zip(bunch.images, bunch.target, strict=True)):
        folder = root / f"digit_{label}"
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray((image * 255 / 16).round().astype(np.uint8), "L")
        img.resize((size, size), Image.Resampling.BILINEAR).save(folder / f"{i:05d}.png")
    return len(bunch.target)


def worker(study_name: str, storage: str, n_trials: int) -> dict:
    """One worker joining the study: fresh in-process state, as a new `scalesearch run` would be."""
    from scalesearch.search.datasets import clear_memory_cache
    from scalesearch.search.study.study import open_study, run_study

    clear_memory_cache()
    study, spec = open_study(None, storage, study_name, budget={"n_trials": n_trials})
    started = time.perf_counter()
    run_study(study, spec)
    return {"seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16, help="PNG side in pixels")
    parser.add_argument("--trials", type=int, default=3, help="trials per worker")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--stream", action="store_true", help="stream through DataLoader workers")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args()

    from scalesearch.search.config.spec import spec_from_data
    from scalesearch.search.study.study import open_study

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        started = time.perf_counter()
        images = write_pngs(tmp / "digits_png", args.size)
        print(f"wrote {images} PNGs ({args.size}x{args.size}) in {time.perf_counter() - started:.1f} s")
        spec = spec_from_data({
            "study_name": "data_loading",
            "dataset": {"kind": "imagefolder", "root": str(tmp / "digits_png"), "cache_dir": str(tmp / "cache"),
                        "input_size": args.size,  # the PNGs' own size, not the space's 8
                        "stream": True if args.stream else None, "augment": {"crop_padding": 2}},
            "space": "small_cnn", "objectives": ["accuracy", "params"],
            "budget": {"n_trials": args.trials}, "sampler": {"name": "random", "seed": 0},
            "device": "cpu", "threads": args.threads,
        })
        spec = spec_from_data(_with_epochs(spec, args.epochs))
        storage = f"sqlite:///{tmp / 'study.db'}"
        study, _ = open_study(spec, storage)
        worker("data_loading", storage, args.trials)  # cold: decodes the PNGs, writes the cache
        worker("data_loading", storage, 2 * args.trials)  # warm: a second worker reads the cache
        rows = _rows(study, args.trials)
    _print(rows, images, args)
    if args.out:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "images": images,
                                        "trials": rows}, indent=2))


def _with_epochs(spec, epochs: int) -> dict:
    from scalesearch.search.config.spec import spec_to_data

    data = spec_to_data(spec)
    data["space"]["training"]["epochs"] = epochs
    return data


def _rows(study, per_worker: int) -> list[dict]:
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        a = t.user_attrs
        if "ss.trial_seconds" not in a:
            continue
        rows.append({"trial": t.number, "worker": 1 + t.number // per_worker,
                     "first_of_worker": t.number % per_worker == 0,
                     "data_seconds": round(a["ss.data_seconds"], 4), "trial_seconds": round(a["ss.trial_seconds"], 3),
                     "data_fraction": round(a["ss.data_seconds"] / a["ss.trial_seconds"], 5)})
    return rows


def _print(rows: list[dict], images: int, args: argparse.Namespace) -> None:
    print(f"\n{images} PNGs, {'streamed' if args.stream else 'in memory'}, {args.epochs} epochs, "
          f"{args.threads} thread(s)\n")
    print("| trial | worker | data s | trial s | data / trial |")
    print("|---|---|---|---|---|")
    for r in rows:
        mark = " (first of worker: includes loading)" if r["first_of_worker"] else ""
        print(f"| {r['trial']} | {r['worker']} | {r['data_seconds']:.4f} | {r['trial_seconds']:.2f} | "
              f"{100 * r['data_fraction']:.2f} %{mark} |")
    later = [r["data_fraction"] for r in rows if r["trial"] > 0]
    print(f"\nafter the first trial: max data/trial {100 * max(later):.2f} %, "
          f"mean {100 * sum(later) / len(later):.2f} %")


if __name__ == "__main__":
    main()
