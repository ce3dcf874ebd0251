"""The tool's own overhead: scalesearch against a bare, hand-written Optuna + timm loop.

Both arms run the same work, side by side, interleaved (a, b, b, a, a, b, ...), each in a fresh
process:

- the same models: the default space's families and ranges (ResNet and ConvNeXt at 8x8, written
  to one space file both arms read: ``SPACE``), built the same way from timm;
- the same data: scikit-learn's digits, 60/20/20 stratified, normalised by the training mean/std;
- the same training: AdamW, one-cycle, label smoothing, grad clip 5, drop_last, 12 epochs,
  validation after every epoch; early stopping off in both;
- the same sampler (Optuna's RandomSampler, seed 0, so both arms sample the same configs: TPE
  would follow each arm's own accuracies after its start-up trials) and the same storage
  (a fresh SQLite file per run); both store (accuracy, params).

(a) is ``scalesearch run`` (the CLI, as a user runs it: it also counts FLOPs, measures latency,
stores its ``ss.*`` attributes and progress); (b) is :func:`bare` in this file. Reported per
arm: wall time per trial (process start to exit, over the run's trials) and in-trial time per
trial (trial start to end, from the storage), medians over repeats, and the ratio (a)/(b) of
each. The configs each arm sampled are compared, so a ratio over different work is flagged.

    nice python benchmarks/overhead.py [--trials 6] [--repeats 3] [--epochs 12]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPACE = """\
name: overhead
input_size: 8
families:
  resnet:
    width_multiplier: {low: 0.03125, high: 0.5, log: true}
    depth_multiplier: {choices: [0.5, 1.0]}
    block: basic
  convnext:
    width_multiplier: {low: 0.25, high: 1.0, log: true}
    depth_multiplier: {choices: [0.34, 0.5]}
training:
  lr: {low: 1.0e-3, high: 1.0e-2, log: true}
  weight_decay: {low: 1.0e-5, high: 1.0e-1, log: true}
  label_smoothing: {low: 0.0, high: 0.15}
  epochs: EPOCHS
  batch_size: {choices: [32, 64]}
  schedule: onecycle
"""


# --------------------------------------------------------------------------- arm (b): the bare loop


def bare_model(family: str, width: float, depth: float) -> Any:
    """The default space's models, straight from timm (what ``spaces/families/`` builds)."""
    from timm.models.convnext import ConvNeXt
    from timm.models.resnet import BasicBlock, ResNet
    from torch import nn

    def channels(base: int, divisor: int) -> int:
        value = base * width
        rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
        return rounded + divisor if rounded < 0.9 * value else rounded

    if family == "resnet":
        ch = tuple(channels(c, 4) for c in (64, 128, 256, 512))
        model = ResNet(block=BasicBlock, layers=[max(1, round(2 * depth))] * 4, channels=ch, stem_type="deep",
                       stem_width=ch[0] // 2, num_classes=10, in_chans=1)
        model.conv1 = nn.Conv2d(1, ch[0], 3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
        return model
    return ConvNeXt(in_chans=1, num_classes=10, depths=tuple(max(1, round(n * depth)) for n in (2, 2, 6, 2)),
                    dims=tuple(channels(d, 8) for d in (40, 80, 160, 320)), patch_size=1)


def bare_data() -> tuple[Any, Any, Any, Any]:
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    rest_x, _, rest_y, _ = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    tx, vx, ty, vy = train_test_split(rest_x, rest_y, test_size=0.25, stratify=rest_y, random_state=0)
    mean, std = tx.mean(), tx.std()
    t = lambda a: torch.from_numpy((a - mean) / std)  # noqa: E731
    return t(tx), torch.from_numpy(ty), t(vx), torch.from_numpy(vy)


def bare(storage: str, n_trials: int, epochs: int) -> None:
    """A hand-written Optuna + timm study over the same space: train, validate each epoch,
    count params; store (accuracy, params)."""
    import optuna
    import torch
    import torch.nn.functional as F

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tx, ty, vx, vy = bare_data()

    def objective(trial: optuna.Trial) -> tuple[float, int]:
        family = trial.suggest_categorical("family", ["resnet", "convnext"])
        low, high, depths = {"resnet": (0.03125, 0.5, [0.5, 1.0]), "convnext": (0.25, 1.0, [0.34, 0.5])}[family]
        width = trial.suggest_float(f"{family}.width_multiplier", low, high, log=True)
        depth = trial.suggest_categorical(f"{family}.depth_multiplier", depths)
        lr = trial.suggest_float("lr", 1e-3, 1e-2, log=True)
        wd = trial.suggest_float("weight_decay", 1e-5, 1e-1, log=True)
        smoothing = trial.suggest_float("label_smoothing", 0.0, 0.15)
        batch = trial.suggest_categorical("batch_size", [32, 64])
        torch.manual_seed(trial.number)
        model = bare_model(family, width, depth)
        params = sum(p.numel() for p in model.parameters())
        steps = len(ty) // batch
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps, pct_start=0.3)
        g = torch.Generator().manual_seed(trial.number)
        accuracy = 0.0
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(ty), generator=g)
            for b in range(steps):
                idx = order[b * batch:(b + 1) * batch]
                loss = F.cross_entropy(model(tx[idx]), ty[idx], label_smoothing=smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                opt.step()
                sched.step()
            model.eval()
            with torch.inference_mode():
                accuracy = (model(vx).argmax(1) == vy).float().mean().item()
        return accuracy, params

    study = optuna.create_study(storage=storage, study_name="bare", directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=0))
    for family in ("resnet", "convnext"):  # as scalesearch does: every family is tried first
        study.enqueue_trial({"family": family})
    study.optimize(objective, n_trials=n_trials)


# --------------------------------------------------------------------------- the side-by-side run


def run_arm(arm: str, work: Path, index: int, n_trials: int, epochs: int, space: Path) -> dict[str, Any]:
    url = f"sqlite:///{work / f'{arm}{index}.db'}"
    if arm == "a":
        name = "overhead"
        cmd = [sys.executable, "-m", "scalesearch.cli", "run", str(ROOT / "studies" / "digits.yaml"),
               "--storage", url, "--study-name", name, "--n-trials", str(n_trials),
               "--set", f"space={space}", "--set", "early_stopping.name=none",
               "--set", "sampler.name=random", "--set", "sampler.seed=0"]
    else:
        name = "bare"
        cmd = [sys.executable, __file__, "--bare", url, "--trials", str(n_trials), "--epochs", str(epochs)]
    # Its own lock folder: arm (a) waits for no other scalesearch process on a shared host
    # (search/runtime/device_share.py); alone on a machine, it would not either.
    env = dict(os.environ, SCALESEARCH_LOCK_DIR=str(work))
    started, cpu = time.monotonic(), _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall, cpu = time.monotonic() - started, _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError(f"arm {arm} exited {proc.returncode}: {(proc.stdout + proc.stderr)[-1500:]}")
    return {"wall": wall, "cpu": cpu, **_trials(url, name)}


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (less moved by other
    people's load on the machine than wall time is)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _trials(url: str, name: str) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = [t for t in optuna.load_study(study_name=name, storage=url).get_trials()
              if t.state.name == "COMPLETE"]
    in_trial = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in trials)
    configs = [{k.split(".")[-1]: (round(v, 8) if isinstance(v, float) else v) for k, v in t.params.items()}
               for t in trials]
    return {"n": len(trials), "in_trial": in_trial, "configs": configs}


def side_by_side(n_trials: int, repeats: int, epochs: int, out: Path | None = None,
                 say: Any = print) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        work = Path(tmp)
        space = work / "space.yaml"
        space.write_text(SPACE.replace("EPOCHS", str(epochs)))
        for r in range(repeats):
            for arm in ("a", "b") if r % 2 == 0 else ("b", "a"):
                result = run_arm(arm, work, r, n_trials, epochs, space)
                runs[arm].append(result)
                say(f"repeat {r + 1}/{repeats} arm {arm}: {result['wall']:.1f} s wall, "
                    f"{result['in_trial']:.1f} s in trials, {result['n']} trials")
    same = all(a["configs"] == b["configs"] for a, b in zip(runs["a"], runs["b"], strict=True))
    per = {arm: {"wall_per_trial": statistics.median(r["wall"] / r["n"] for r in rs),
                 "cpu_per_trial": statistics.median(r.get("cpu", 0.0) / r["n"] for r in rs),
                 "in_trial_per_trial": statistics.median(r["in_trial"] / r["n"] for r in rs)}
           for arm, rs in runs.items()}
    paired = [a["wall"] / b["wall"] for a, b in zip(runs["a"], runs["b"], strict=True)]
    cpu_b = per["b"]["cpu_per_trial"]
    summary = {"trials": n_trials, "repeats": repeats, "epochs": epochs, "same_configs": same, "per_arm": per,
               "ratio_wall": per["a"]["wall_per_trial"] / per["b"]["wall_per_trial"],
               "ratio_in_trial": per["a"]["in_trial_per_trial"] / per["b"]["in_trial_per_trial"],
               "ratio_cpu": per["a"]["cpu_per_trial"] / cpu_b if cpu_b else float("nan"),
               "paired_wall_ratios": paired, "median_paired_wall_ratio": statistics.median(paired),
               "runs": {arm: [{k: v for k, v in r.items() if k != "configs"} for r in rs] for arm, rs in runs.items()}}
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2))
    return summary


def table(s: dict[str, Any]) -> str:
    a, b = s["per_arm"]["a"], s["per_arm"]["b"]
    return "\n".join([
        f"{s['trials']} trials x {s['repeats']} repeats per arm, {s['epochs']} epochs, same configs: "
        f"{'yes' if s['same_configs'] else 'NO'}",
        "| per trial (median) | (a) scalesearch | (b) bare loop | (a)/(b) |",
        "|---|---|---|---|",
        f"| wall time, s | {a['wall_per_trial']:.2f} | {b['wall_per_trial']:.2f} | {s['ratio_wall']:.3f} |",
        f"| in-trial time, s | {a['in_trial_per_trial']:.2f} | {b['in_trial_per_trial']:.2f} | "
        f"{s['ratio_in_trial']:.3f} |",
        f"| CPU time (user + system), s | {a['cpu_per_trial']:.2f} | {b['cpu_per_trial']:.2f} | {s['ratio_cpu']:.3f} |",
        f"paired wall ratios: {', '.join(f'{r:.3f}' for r in s['paired_wall_ratios'])} "
        f"(median {s['median_paired_wall_ratio']:.3f})",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=6)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "overhead.json")
    p.add_argument("--bare", metavar="STORAGE", help=argparse.SUPPRESS)  # arm (b), in its own process
    args = p.parse_args(argv)
    if args.bare:
        bare(args.bare, args.trials, args.epochs)
        return 0
    print(table(side_by_side(args.trials, args.repeats, args.epochs, args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
