"""How much of a hypervolume gap is validation noise? (reading a search-efficiency JSON)

Issue 5's target asks arm (a) to reach arm (b)'s *final* hypervolume, and (b)'s final front
holds the best validation scores of all its trials. A validation accuracy is a count of correct
images, so this prints, for each seed's (b) run: the number of validation images (inferred from
the accuracies: the smallest count that makes every one a whole number of images), the change
in hypervolume if every point of the final front scored one image less, and the binomial
standard error of those points' accuracies, in images.

    python benchmarks/front_noise.py RUN_DIR/search_efficiency.json   # written by search_efficiency.py --out RUN_DIR
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_efficiency import hypervolume  # noqa: E402  (a sibling script, not a package)

from scalesearch.search.results.pareto import pareto_indices  # noqa: E402


def validation_size(accuracies: list[float], largest: int = 100_000) -> int:
    """The smallest image count ``n`` for which every accuracy is a whole number of images."""
    for n in range(1, largest + 1):
        if all(abs(a * n - round(a * n)) < 1e-6 for a in accuracies):
            return n
    raise ValueError(f"no validation size up to {largest} fits these accuracies")


def noise(run: dict[str, Any]) -> dict[str, Any]:
    """One run's front, its hypervolume, and what one validation image is worth."""
    points = [(t["accuracy"], t["params"]) for t in run["trials"] if t["state"] == "COMPLETE"]
    n = validation_size([a for a, _ in points])
    best = [points[i] for i in pareto_indices(points, ["maximize", "minimize"])]
    hv = hypervolume(best)
    lower = hypervolume([(a - 1 / n, p) for a, p in best])
    errors = [math.sqrt(n * a * (1 - a)) for a, _ in best]
    return {"seed": run["seed"], "images": n, "front": len(best), "hv": hv, "one_image_lower": lower / hv - 1,
            "error_images": (min(errors), max(errors))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("json", type=Path, help="a search_efficiency.json")
    p.add_argument("--arm", default="b", help="whose final fronts (default b)")
    args = p.parse_args(argv)
    try:
        runs = json.loads(args.json.read_text())["runs"]
    except (OSError, ValueError, KeyError) as e:
        raise SystemExit(f"front_noise: cannot read runs from {args.json}: {e}") from None
    print("| seed | validation images | points on the final front | HV | HV with every front point one "
          "image lower | standard error of a front point's accuracy (images) |")
    print("|---|---|---|---|---|---|")
    for run in sorted((r for r in runs if r["arm"] == args.arm), key=lambda r: r["seed"]):
        r = noise(run)
        low, high = r["error_images"]
        print(f"| {r['seed']} | {r['images']} | {r['front']} | {r['hv']:.4f} | {r['one_image_lower']:+.1%} "
              f"| {low:.1f} to {high:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
