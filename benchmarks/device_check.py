"""The GPU path end to end, in one bounded run: prints one table and writes JSON.

Sections, in the order they run (each adds rows; the JSON is rewritten after each, so a
cut-short run keeps what it measured):

1. ``bf16_vs_fp32``: the same configs and seeds trained with bf16 autocast and in float32;
2. ``latency``: deployed fp32 / bf16 / fp16 latency (CUDA events, channels-last) at batch 1
   and batch N;
3. ``int8_cpu``: a model trained on the device (channels-last, bf16 autocast) and int8-quantized
   on the CPU: accuracy against its float self, CPU latency;
4. ``default_study``: ``scalesearch run studies/digits.yaml`` on the device (the CLI, as a
   user runs it): wall time, trials by state, best accuracy, trials/hour, peak GPU memory;
5. ``packing``: trials/hour with 1, 2, 4, 8 workers on one GPU (``run --workers N``; the
   rate is finished trials over the span from the first trial's start to the last one's end,
   so process start-up is not counted), each trial's peak GPU memory, and the worker count
   that the measured rate and the free memory recommend.

The last two grow with trials and process start-ups (5 CLI runs, 16 worker processes, 69
trials): they are the ones that may not fit, so they run last, stop starting trials when their
share of the time is up (``run --timeout``), and the table says so. ``default_study`` gets
``DEFAULT_STUDY_SHARE`` (40 %) of the time left when it starts, ``packing`` the rest, split
evenly over its worker counts, so neither can squeeze the other. Each section's time is
reported as its share of the 8 minutes (``LIMIT_SECONDS``).

The table opens with what a GPU owner needs to read it (``machine`` rows, also in the JSON):
the GPU and its compute capability, the autocast dtype training really used (bf16 only from
compute capability 8.0; on a V100 or T4 the "bf16" runs train in float32, and the
``bf16_vs_fp32`` rows say so), torch, the git commit, the date and the load average.

``--cpu-smoke`` runs every section on the CPU with the same studies, workers, trials, trainings
and latency measurements as the GPU run (``COUNTS``), at tiny sizes (1 epoch, small models, 128
images for the in-process sections), and no deadline, so its table shows what each section's
fixed costs (process start-ups, CLI runs, storage) take of the 8 minutes; the GPU's training time
comes on top and only a GPU run measures it.

    benchmarks/device_check.sh              # on a GPU machine: at most 8 minutes
    benchmarks/device_check.sh --cpu-smoke  # anywhere: a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT_SECONDS = 480  # device_check.sh's hard stop: what each section's share is of
TRIAL_MARGIN = 60  # seconds before the deadline at which a CLI study stops starting trials
DEFAULT_STUDY_SHARE = 0.4  # of the time left when default_study starts; packing gets the rest

#: What the smoke run shares with the GPU run, so that its table counts the same work.
COUNTS = ("n_trials", "packing", "trials_per_worker", "configs", "dtypes")
FULL = {"device": "cuda", "n_trials": 24, "epochs": None, "packing": (1, 2, 4, 8), "trials_per_worker": 3,
        "dtypes": ("fp32", "bf16", "fp16"), "latency_batch": 256, "repeats": 50, "warmup": 10, "configs": 3,
        "samples": None, "budget": 450, "overrides": []}
SMOKE = FULL | {"device": "cpu", "epochs": 1, "latency_batch": 8, "repeats": 3, "warmup": 1, "samples": 128,
                "budget": None,  # no deadline: every section runs, and its time is what it costs
                "overrides": ["space.training.batch_size=64", "measure.latency_repeats=2",
                              "measure.latency_warmup=1", "threads=1",
                              "space.families.resnet.width_multiplier={low: 0.0625, high: 0.125, log: true}",
                              "space.families.convnext.width_multiplier={low: 0.25, high: 0.3}"]}
#: Models of the default space (studies/digits.yaml) used where a section trains or times one.
CONFIGS = [
    {"family": "resnet", "model": {"width_multiplier": 0.125, "depth_multiplier": 0.5, "block": "basic"}},
    {"family": "convnext", "model": {"width_multiplier": 0.5, "depth_multiplier": 0.34}},
    {"family": "resnet", "model": {"width_multiplier": 0.25, "depth_multiplier": 1.0, "block": "basic"}},
]


class Report:
    def __init__(self, out: Path, mode: str, budget: float | None, machine: dict[str, Any] | None = None):
        self.out = out
        self.deadline = None if budget is None else time.monotonic() + budget
        self.data: dict[str, Any] = {"mode": mode, "host": platform.node(), "limit_s": LIMIT_SECONDS,
                                     "machine": machine or {}, "sections": {}, "rows": []}

    def left(self) -> float:
        return math.inf if self.deadline is None else self.deadline - time.monotonic()

    def row(self, section: str, item: str, value: Any, note: str = "") -> None:
        self.data["rows"].append({"section": section, "item": item, "value": value, "note": note})

    def section(self, name: str, status: str, seconds: float, may_not_fit: bool, **facts: Any) -> None:
        seconds = round(seconds, 1)
        self.data["sections"][name] = {"status": status, "seconds": seconds,
                                       "share": round(seconds / LIMIT_SECONDS, 3), "may_not_fit": may_not_fit,
                                       **facts}
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(self.data, indent=2, default=str))

    def table(self) -> str:
        """One table: each section's measurements, then each section's time and share of the limit."""
        rows = [("section", "item", "value", "note")]
        rows += [("machine", item, _fmt(value), "") for item, value in self.data["machine"].items()]
        rows += [(r["section"], r["item"], _fmt(r["value"]), r["note"]) for r in self.data["rows"]]
        limit = f"{LIMIT_SECONDS // 60} min"
        for name, s in self.data["sections"].items():
            note = s["status"] + ("; ordered last: may not fit, stops starting trials near the limit"
                                  if s["may_not_fit"] else "")
            rows.append((name, f"time, share of {limit}", f"{s['seconds']:.0f} s = {s['share']:.0%}", note))
        total = sum(s["seconds"] for s in self.data["sections"].values())
        rows.append(("total", f"time, share of {limit}", f"{total:.0f} s = {total / LIMIT_SECONDS:.0%}",
                     "sizes tiny, CPU: fixed costs only" if self.data["mode"] == "cpu-smoke" else ""))
        widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
        lines = [" | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def machine_facts(device: str) -> dict[str, Any]:
    """What a reader needs beside the numbers: the GPU, its compute capability, the autocast
    dtype training used there (``speed.autocast_dtype``), torch, the commit, date and load."""
    import datetime

    import torch

    from scalesearch.search.training.speed import autocast_dtype

    if device.startswith("cuda"):
        gpu = torch.cuda.get_device_name(torch.device(device))
        capability = ".".join(map(str, torch.cuda.get_device_capability(torch.device(device))))
    else:
        gpu, capability = "none (CPU run)", "-"
    dtype = autocast_dtype(device)
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M")
    return {"gpu": gpu, "compute capability": capability,
            "autocast dtype (amp=True)": "bfloat16" if dtype is torch.bfloat16 else "float32 (autocast off)",
            "torch": torch.__version__, "commit": _commit(), "date (UTC)": now,
            "load average at start, 1/5/15 min": " / ".join(f"{x:.2f}" for x in os.getloadavg())}


def _commit() -> str:
    """``git describe``-like: the short commit, ``+dirty`` when the tree has changes."""
    try:
        git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=ROOT,  # noqa: E731
                                        timeout=10).stdout.strip()
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain", "-uno") else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _amp_name(device: str) -> str:
    """What ``amp=True`` trains in on ``device``: bf16 only where speed.autocast_dtype gives it."""
    import torch

    from scalesearch.search.training.speed import autocast_dtype

    return "bf16" if autocast_dtype(device) is torch.bfloat16 else "fp32"


# --------------------------------------------------------------------------- sections


def _run_cli(args: list[str], left: float, stop_after: float | None = None) -> tuple[int, float, str]:
    """``scalesearch ARGS``; with ``left`` seconds to the deadline it stops starting trials after
    ``stop_after`` seconds (default: ``TRIAL_MARGIN`` before the deadline; ``run --timeout``)
    and is killed at the deadline."""
    started = time.monotonic()
    if math.isfinite(left):
        stop = left - TRIAL_MARGIN if stop_after is None else min(stop_after, left - TRIAL_MARGIN)
        args = [*args, "--timeout", str(round(max(5.0, stop)))]
    proc = subprocess.run([sys.executable, "-m", "scalesearch.cli", *args], capture_output=True, text=True,
                          timeout=max(5.0, left) if math.isfinite(left) else None, cwd=ROOT,
                          env=dict(os.environ, PYTHONUNBUFFERED="1"))
    return proc.returncode, time.monotonic() - started, (proc.stdout + proc.stderr)[-2000:]


def _finished_note(facts: dict[str, Any], n_trials: int) -> str:
    finished = facts["complete"] + facts["pruned"]
    return "" if finished >= n_trials else f"cut short: {finished} of {n_trials} trials before the limit"


def _study_facts(url: str, name: str) -> dict[str, Any]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials = optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)
    finished = [t for t in trials if t.state.name in ("COMPLETE", "PRUNED")]
    starts = [t.datetime_start for t in finished if t.datetime_start]
    ends = [t.datetime_complete for t in finished if t.datetime_complete]
    span = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    peaks = [t.user_attrs.get("ss.gpu_peak_mb") for t in trials if t.user_attrs.get("ss.gpu_peak_mb") is not None]
    accuracy = [t.values[0] for t in trials if t.state.name == "COMPLETE" and t.values]
    return {"complete": sum(t.state.name == "COMPLETE" for t in trials),
            "pruned": sum(t.state.name == "PRUNED" for t in trials),
            "failed": sum(t.state.name == "FAIL" for t in trials),
            "span_s": span, "trials_per_hour": len(finished) / span * 3600 if span > 0 else float("nan"),
            "peak_gpu_mb": max(peaks) if peaks else None, "best_accuracy": max(accuracy) if accuracy else None}


def _run_args(cfg: dict[str, Any], url: str, name: str, n_trials: int, extra: list[str] = ()) -> list[str]:
    sets = [f"device={cfg['device']}", *cfg["overrides"], *extra]
    if cfg["epochs"]:
        sets.append(f"space.training.epochs={cfg['epochs']}")
    args = ["run", str(ROOT / "studies" / "digits.yaml"), "--storage", url, "--study-name", name,
            "--n-trials", str(n_trials)]
    for s in sets:
        args += ["--set", s]
    return args


def default_study(report: Report, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    url, name = f"sqlite:///{work / 'default.db'}", "device-check-default"
    left = report.left()  # its share: packing, after it, must not be squeezed to a few seconds
    share = DEFAULT_STUDY_SHARE * (left - TRIAL_MARGIN) if math.isfinite(left) else None
    code, wall, tail = _run_cli(_run_args(cfg, url, name, cfg["n_trials"]), left, stop_after=share)
    if code != 0:
        raise RuntimeError(f"scalesearch run exited {code}: {tail}")
    facts = _study_facts(url, name) | {"wall_s": wall}
    report.row("default_study", f"wall time, {cfg['n_trials']} trials (CLI, incl. start-up)", wall,
               "s " + _finished_note(facts, cfg["n_trials"]))
    report.row("default_study", "complete / pruned / failed",
               f"{facts['complete']} / {facts['pruned']} / {facts['failed']}")
    report.row("default_study", "best validation accuracy", facts["best_accuracy"])
    report.row("default_study", "trials/hour (first start to last end)", facts["trials_per_hour"])
    report.row("default_study", "peak GPU memory of a trial", facts["peak_gpu_mb"], "MB")
    return facts


def _data(device: str, samples: int | None = None) -> Any:
    """Digits (the default study's data) on ``device``; the first ``samples`` of each split."""
    import dataclasses

    from scalesearch.search.datasets import Split, load_dataset

    data = load_dataset("digits")
    if samples:
        cut = lambda s: Split(s.x[:samples], s.y[:samples])  # noqa: E731
        data = dataclasses.replace(data, train=cut(data.train), val=cut(data.val), test=cut(data.test))
    return data.to(device) if device.startswith("cuda") else data


def _train_one(config: dict[str, Any], data: Any, device: str, epochs: int, *, amp: bool, seed: int = 0) -> Any:
    from scalesearch.search.training.models import build_model
    from scalesearch.search.training.train import TrainConfig, train

    model = build_model(config | {"seed": seed}, data)
    cfg = TrainConfig(lr=3e-3, epochs=epochs, batch_size=64, schedule="onecycle", amp=amp, seed=seed)
    return model, train(model, data, cfg, device)


def bf16_vs_fp32(report: Report, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    data, epochs = _data(cfg["device"], cfg["samples"]), cfg["epochs"] or 12
    amp = _amp_name(cfg["device"])  # on a GPU without bf16 (V100, T4) both runs are float32
    pairs = []
    for config in CONFIGS[: cfg["configs"]]:
        _, bf16 = _train_one(config, data, cfg["device"], epochs, amp=True)
        _, fp32 = _train_one(config, data, cfg["device"], epochs, amp=False)
        label = f"{config['family']} w={config['model']['width_multiplier']}"
        pairs.append({"model": label, "bf16": bf16.val_accuracy, "fp32": fp32.val_accuracy,
                      "bf16_train_s": bf16.train_seconds, "fp32_train_s": fp32.train_seconds})
        report.row("bf16_vs_fp32", f"{label}: accuracy amp ({amp}) / fp32",
                   f"{bf16.val_accuracy:.4f} / {fp32.val_accuracy:.4f}",
                   f"train {bf16.train_seconds:.1f} s / {fp32.train_seconds:.1f} s, seed 0, {epochs} epochs")
    gap = max(abs(p["bf16"] - p["fp32"]) for p in pairs)
    report.row("bf16_vs_fp32", "largest accuracy gap", gap,
               "" if amp == "bf16" else "no bf16 autocast on this device: both runs float32, not a bf16 test")
    return {"amp": amp, "pairs": pairs, "max_gap": gap}


def packing(report: Report, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    from scalesearch.search.runtime.packing import recommend_workers

    rates: dict[int, dict[str, Any]] = {}
    for i, n in enumerate(cfg["packing"]):
        # Each worker count gets an equal part of what is left, so a slow first count cannot
        # leave the others unmeasured: a rate needs a few finished trials, not all of them.
        part = (report.left() - TRIAL_MARGIN) / (len(cfg["packing"]) - i)
        if report.left() < 30:
            report.row("packing", f"{n} workers", "skipped", "out of time (this section may not fit)")
            continue
        url, name = f"sqlite:///{work / f'pack{n}.db'}", f"device-check-pack{n}"
        n_trials = n * cfg["trials_per_worker"]
        args = _run_args(cfg, url, name, n_trials, ["early_stopping.name=none"]) + ["--workers", str(n)]
        code, wall, tail = _run_cli(args, report.left(), stop_after=part)
        if code != 0:
            raise RuntimeError(f"run --workers {n} exited {code}: {tail}")
        rates[n] = _study_facts(url, name) | {"wall_s": wall}
        report.row("packing", f"{n} worker(s) per device: trials/hour", rates[n]["trials_per_hour"],
                   f"{n_trials} trials in {wall:.0f} s, peak {rates[n]['peak_gpu_mb']} MB per trial "
                   + _finished_note(rates[n], n_trials))
    free_mb = None
    if cfg["device"].startswith("cuda"):
        import torch

        free_mb = torch.cuda.mem_get_info()[0] / 1e6
    peaks = [r["peak_gpu_mb"] for r in rates.values() if r["peak_gpu_mb"]]
    throughput = {n: r["trials_per_hour"] for n, r in rates.items()}
    best = recommend_workers(throughput, free_mb=free_mb, peak_mb=max(peaks) if peaks else None)
    report.row("packing", "recommended workers per device", best, f"free memory {free_mb and round(free_mb)} MB")
    return {"runs": rates, "free_mb": free_mb, "recommended": best}


def latency(report: Report, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    import torch

    from scalesearch.search.compression.measure import measure_latency
    from scalesearch.search.compression.quantize import quantize

    data = _data("cpu", cfg["samples"])
    names = {"fp32": "none", "bf16": "bf16", "fp16": "fp16"}
    out = []
    for config in CONFIGS[:2]:
        for dtype in cfg["dtypes"]:
            from scalesearch.search.training.models import build_model

            model = build_model(config | {"seed": 0}, data).to(cfg["device"])
            if cfg["device"].startswith("cuda"):
                model = model.to(memory_format=torch.channels_last)  # as trained there
            deployed, _ = quantize(names[dtype], model, data.train.x[:2].to(cfg["device"]))
            lat = measure_latency(deployed, (data.in_chans, data.input_size, data.input_size), cfg["device"],
                                  batch_size=cfg["latency_batch"], warmup=cfg["warmup"], repeats=cfg["repeats"])
            label = f"{config['family']} w={config['model']['width_multiplier']} {dtype}"
            out.append({"model": label, "batch1_ms": lat.batch1_ms, "batch_ms": lat.batch_ms,
                        "batch_size": lat.batch_size})
            report.row("latency", f"{label}: batch 1 / batch {lat.batch_size}",
                       f"{lat.batch1_ms:.3f} / {lat.batch_ms:.3f}", f"ms on {cfg['device']}")
    return {"models": out}


def int8_cpu(report: Report, cfg: dict[str, Any], work: Path) -> dict[str, Any]:
    import copy

    import torch

    from scalesearch.search.compression.compress import calibration_batches, predictions
    from scalesearch.search.compression.measure import measure_latency
    from scalesearch.search.compression.quantize import quantize

    device, epochs = cfg["device"], cfg["epochs"] or 12
    data = _data(device, cfg["samples"])
    model, result = _train_one(CONFIGS[0], data, device, epochs, amp=True)
    cpu_data = _data("cpu", cfg["samples"])
    float_cpu = copy.deepcopy(model).cpu().float().to(memory_format=torch.contiguous_format).eval()
    reference = predictions(float_cpu, cpu_data.val, "cpu")
    deployed, _ = quantize("int8_static", copy.deepcopy(model), cpu_data.train.x[:2],
                           calibration_batches(cpu_data.train, 512))
    int8_pred = predictions(deployed, cpu_data.val, "cpu")
    n = len(cpu_data.val)
    int8_correct, float_correct = int((int8_pred == cpu_data.val.y).sum()), int((reference == cpu_data.val.y).sum())
    agree = int((int8_pred == reference).sum())  # predictions the int8 model shares with its float self
    accuracy, agreement = int8_correct / n, agree / n
    shape = (cpu_data.in_chans, cpu_data.input_size, cpu_data.input_size)
    lat_f = measure_latency(float_cpu, shape, "cpu", batch_size=1, warmup=cfg["warmup"], repeats=cfg["repeats"])
    lat_q = measure_latency(deployed, shape, "cpu", batch_size=1, warmup=cfg["warmup"], repeats=cfg["repeats"])
    report.row("int8_cpu", f"trained on {device} (amp {_amp_name(device)}): float accuracy / int8 on CPU",
               f"{result.val_accuracy:.4f} / {accuracy:.4f}",
               f"{agree} of {n} predictions agree ({agreement:.1%})")
    report.row("int8_cpu", "CPU latency float32 / int8, batch 1", f"{lat_f.batch1_ms:.3f} / {lat_q.batch1_ms:.3f}",
               f"ms, {torch.get_num_threads()} threads")
    return {"float_accuracy": result.val_accuracy, "int8_accuracy": accuracy, "agreement": agreement,
            "val_samples": n, "agree": agree, "int8_correct": int8_correct, "float_cpu_correct": float_correct,
            "float_ms": lat_f.batch1_ms, "int8_ms": lat_q.batch1_ms}


#: (name, section, may not fit): sections bounded by their few trainings first; those that grow
#: with trials and process start-ups last.
SECTIONS = [("bf16_vs_fp32", bf16_vs_fp32, False), ("latency", latency, False), ("int8_cpu", int8_cpu, False),
            ("default_study", default_study, True), ("packing", packing, True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="every section on the CPU with the GPU run's studies and workers, tiny sizes")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "device_check.json"))
    parser.add_argument("--budget", type=float, help="seconds for all sections (default: 450 on a GPU, "
                                                     "none with --cpu-smoke)")
    args = parser.parse_args(argv)
    cfg = SMOKE if args.cpu_smoke else FULL
    if cfg["device"] == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: no CUDA device here; run with --cpu-smoke to check the code paths on the CPU")
            return 2
    report = Report(Path(args.out), "cpu-smoke" if args.cpu_smoke else "cuda",
                    args.budget if args.budget is not None else cfg["budget"], machine_facts(cfg["device"]))
    failed = 0
    with tempfile.TemporaryDirectory(prefix="device-check-") as tmp:
        for name, section, may_not_fit in SECTIONS:
            started = time.monotonic()
            if report.left() < 20:
                report.section(name, "skipped (out of time)", 0.0, may_not_fit)
                continue
            try:
                facts = section(report, cfg, Path(tmp))
                report.section(name, "ok", time.monotonic() - started, may_not_fit, **facts)
            except Exception as e:  # one broken section must not hide the others' numbers
                failed += 1
                report.section(name, f"error: {type(e).__name__}: {str(e)[-300:]}", time.monotonic() - started,
                               may_not_fit)
    print(report.table())
    print(f"\nJSON: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
