"""What keeping the dashboard current costs: the default study with and without the refresh hook.

Runs the same study (same spec, same seed, a fresh SQLite file each) alternately without and
with :class:`~scalesearch.search.results.refresh.Refresh` (trial notes, study note, figures),
as ``scalesearch run`` and ``scalesearch worker`` use it, each run in its own process (so each
pays its own imports: optuna-dashboard's and plotly's are the hook's), and prints per pair the wall times,
their ratio, and the hook's own time (measured inside it) as a share of the run. On a shared
machine the wall-time ratio carries the machine's noise; the hook's own share does not.

    python benchmarks/inspection_overhead.py                      # the default study, one pair
    python benchmarks/inspection_overhead.py --pairs 2 --set budget.n_trials=8
    python benchmarks/inspection_overhead.py --costs sqlite:///runs.db --study-name digits   # each part's cost
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(spec_path: str | None, overrides: list[str], folder: Path, hooked: bool) -> tuple[float, float]:
    """Wall seconds of one study run, and the hook's own seconds (0 without it)."""
    from scalesearch.search.config.spec import load_spec
    from scalesearch.search.results.refresh import Refresh
    from scalesearch.search.study.study import open_study, run_study

    url = f"sqlite:///{folder / ('hooked.db' if hooked else 'plain.db')}"
    started = time.perf_counter()
    study, spec = open_study(load_spec(spec_path, overrides), url)
    refresh = Refresh(spec, url) if hooked else None
    if refresh is not None:
        refresh.start(study)
    run_study(study, spec, storage_url=url, on_trial_end=refresh)
    if refresh is not None:
        refresh.finish(study)
    return time.perf_counter() - started, refresh.spent if refresh is not None else 0.0


def in_own_process(spec_path: str | None, overrides: list[str], folder: Path, hooked: bool) -> tuple[float, float]:
    """:func:`one_run` in a fresh Python process; its wall time counts from process start."""
    started = time.perf_counter()
    cmd = [sys.executable, __file__, "--one", json.dumps([spec_path, overrides, str(folder), hooked])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    _, hook = json.loads(out.strip().splitlines()[-1])
    return time.perf_counter() - started, hook


def part_costs(url: str, name: str) -> None:
    """Median seconds of each part of a refresh, replayed once per trial of an existing study."""
    from optuna_dashboard import save_note

    from scalesearch.search.results import figures
    from scalesearch.search.results.notes import live_trial, study_note, trial_note
    from scalesearch.search.storage.storage import open_storage
    from scalesearch.search.study.study import load_study, stored_spec

    study = load_study(open_storage(url), name)
    spec = stored_spec(study)
    costs: dict[str, list[float]] = {"trial note": [], "study note": [], "figures": []}
    for trial in study.get_trials(deepcopy=False):
        for part, action in (("trial note", lambda t=trial: save_note(live_trial(study, t), trial_note(t, spec))),
                             ("study note", lambda: save_note(study, study_note(study, spec, url))),
                             ("figures", lambda: (figures._published.clear(), figures.publish_figures(study, spec)))):
            begun = time.perf_counter()
            action()
            costs[part].append(time.perf_counter() - begun)
    print(", ".join(f"{part} {1000 * statistics.median(c):.0f} ms" for part, c in costs.items())
          + f" (median of {len(costs['figures'])} trials)")


def main() -> None:
    import optuna

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("spec", nargs="?", help="study spec (default: studies/digits.yaml)")
    parser.add_argument("--pairs", type=int, default=1, help="runs without and with the hook (default 1 pair)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="spec override")
    parser.add_argument("--costs", metavar="URL", help="instead: time each refresh part on this storage's study")
    parser.add_argument("--study-name", default="digits", help="with --costs (default digits)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # one run, in a process of its own
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.one:
        spec_path, overrides, folder, hooked = json.loads(args.one)
        print(json.dumps(one_run(spec_path, overrides, Path(folder), hooked)))
        return
    if args.costs:
        part_costs(args.costs, args.study_name)
        return
    ratios, shares = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for pair in range(args.pairs):
            # Alternate the order, so a machine getting busier or quieter favours neither arm.
            order = (False, True) if pair % 2 == 0 else (True, False)
            times: dict[bool, tuple[float, float]] = {}
            for hooked in order:
                folder = Path(tmp) / f"pair{pair}"
                folder.mkdir(exist_ok=True)
                times[hooked] = in_own_process(args.spec, args.set, folder, hooked)
            (plain, _), (hooked_wall, hook) = times[False], times[True]
            ratios.append(hooked_wall / plain)
            shares.append(hook / hooked_wall)
            print(f"pair {pair + 1}: without hook {plain:.1f}s, with hook {hooked_wall:.1f}s, "
                  f"ratio {ratios[-1]:.3f}; the hook's own time {hook:.2f}s = {100 * shares[-1]:.2f} % of its run",
                  flush=True)
    print(f"median over {args.pairs} pair(s): wall-time ratio {statistics.median(ratios):.3f}, "
          f"hook's own share {100 * statistics.median(shares):.2f} %")


if __name__ == "__main__":
    main()
