"""``scalesearch run --workers N``: N worker processes on one study, one merged output.

Each worker is ``python -m scalesearch.cli worker --study-name NAME --index I ...``, the same
command a user starts on another host, so local and remote workers behave alike. The storage
URL travels in ``$SCALESEARCH_STORAGE``, never on a command line (which every user of the host
can read with ``ps``). Worker ``I``:

- seeds its sampler with ``sampler.seed + I`` (workers must not propose identical configs);
- gets ``threads // N`` CPU threads (or the spec's ``threads``);
- on CUDA machines, with ``device: auto`` or ``cuda``, uses GPU ``I mod #GPUs`` (an explicit
  ``cuda:K`` or ``--devices cuda:0,cuda:2`` says otherwise).

Workers run in their own sessions; Ctrl-C reaches the supervisor, which forwards it once, so
each worker stores its running trial as FAIL ``interrupted`` and exits 130. If the supervisor
dies, Linux sends its workers SIGTERM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import EXIT_INTERRUPTED, ScalesearchError, SpecError
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.storage.storage import ENV_VAR


def assign_device(device: str, index: int | None, gpu_count: int) -> str:
    """The device of worker ``index``: ``auto``/``cuda`` -> ``cuda:{index mod gpu_count}`` when
    there are GPUs (``auto`` -> ``cpu`` otherwise); an explicit ``cpu`` or ``cuda:K`` stays."""
    if device in ("auto", "cuda") and gpu_count > 0:
        return f"cuda:{(index or 0) % gpu_count}"
    return "cpu" if device == "auto" else device


def threads_per_worker(spec_threads: int | None, n_workers: int, cores: int) -> int:
    """The spec's per-worker ``threads``, else an equal share of the cores (at least one)."""
    return spec_threads or max(1, cores // n_workers)


def worker_seed(seed: int | None, index: int | None) -> int | None:
    """``seed + index``; None (fresh randomness) for a worker started without ``--index``."""
    return None if seed is None or index is None else seed + index


def prepare_worker(study: Any, spec: StudySpec, *, index: int | None = None, threads: int | None = None,
                   device: str | None = None, timeout: float | None = None) -> StudySpec:
    """This process's spec for one worker (not stored), and its own sampler seed on ``study``."""
    from scalesearch.search.study.objective import constraints_func
    from scalesearch.search.study.samplers import make_sampler
    from scalesearch.search.study.seeding import study_seed
    from scalesearch.search.study.startup import with_startup
    from scalesearch.search.study.warm_sampler import learning_sampler

    if index is not None and index < 0:
        raise SpecError(f"--index: must be 0 or more, got {index}")
    if threads is not None and threads < 1:
        raise SpecError(f"--threads: must be 1 or more, got {threads}")
    if timeout is not None and timeout <= 0:
        raise SpecError(f"--timeout: must be positive, got {timeout}")
    if device is None:
        gpus = 0
        if spec.device in ("auto", "cuda"):
            import torch

            gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        device = assign_device(spec.device, index, gpus)
    seed = worker_seed(spec.sampler.seed, index)
    budget = dataclasses.replace(spec.budget, timeout=timeout) if timeout is not None else spec.budget
    study_spec, spec = spec, dataclasses.replace(spec, device=device, threads=threads or spec.threads, budget=budget,
                                                 sampler=dataclasses.replace(spec.sampler, seed=seed))
    # The worker's seed, moved on by the study's state: a worker joining a study never repeats
    # the configs that earlier processes with the same seed proposed. The startup design and a
    # warm start's earlier trials are the study's, the same in every worker.
    sampler = make_sampler(spec.sampler.name, study_seed(seed, study), constraints_func(spec), spec.budget.n_trials)
    study.sampler = learning_sampler(study, study_spec, with_startup(sampler, study, study_spec))
    return spec


@dataclass(frozen=True)
class WorkerPlan:
    index: int
    threads: int
    device: str | None  # None: the worker picks (GPU round-robin by index)


def plan_workers(n: int, spec: StudySpec, cores: int, devices: Sequence[str] = ()) -> list[WorkerPlan]:
    threads = threads_per_worker(spec.threads, n, cores)
    return [WorkerPlan(i, threads, devices[i % len(devices)] if devices else None) for i in range(n)]


def worker_command(study_name: str, plan: WorkerPlan, *, graceful: bool = False,
                   timeout: float | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "scalesearch.cli", "worker", "--study-name", study_name,
           "--index", str(plan.index), "--threads", str(plan.threads)]
    cmd += ["--device", plan.device] if plan.device else []
    cmd += ["--graceful"] if graceful else []
    cmd += ["--timeout", str(timeout)] if timeout is not None else []
    return cmd


def parent_death_signal(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to send the child ``signum`` when its parent dies (None elsewhere).

    ``prctl`` is looked up here, in the parent: between fork and exec the child only calls it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signum)  # PR_SET_PDEATHSIG


def run_workers(storage_url: str, study_name: str, plans: Sequence[WorkerPlan], *,
                out: Callable[[str], None] = print, graceful: bool = False,
                timeout: float | None = None) -> int:
    """Start one ``scalesearch worker`` per plan, print their lines as ``w<I> ...``, wait.

    Returns 0 when every worker finished cleanly, 1 when one stopped after repeated trial
    failures. Raises ``KeyboardInterrupt`` when a worker was interrupted, and
    :class:`ScalesearchError` with the worker's own error line when one stopped on an error.
    """
    env = dict(os.environ, **{ENV_VAR: storage_url}, PYTHONUNBUFFERED="1")
    lines: queue.Queue[tuple[int, str | None]] = queue.Queue()
    preexec = parent_death_signal()
    procs = [subprocess.Popen(worker_command(study_name, plan, graceful=graceful, timeout=timeout), env=env,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1,
                              start_new_session=True, preexec_fn=preexec)
             for plan in plans]
    for plan, proc in zip(plans, procs, strict=True):  # threads only once every child is forked
        threading.Thread(target=_pump, args=(plan.index, proc, lines), daemon=True).start()

    def forward(signum: int, frame: Any) -> None:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    errors: dict[int, str] = {}
    try:
        open_streams = len(procs)
        while open_streams:
            index, line = lines.get()
            if line is None:
                open_streams -= 1
                continue
            if line.startswith("error: "):
                errors.setdefault(index, line[len("error: "):])
            out(f"w{index} {line}")
        codes = [proc.wait() for proc in procs]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if EXIT_INTERRUPTED in codes or any(c < 0 for c in codes):
        raise KeyboardInterrupt("a worker was interrupted")
    for plan, code in zip(plans, codes, strict=True):
        if code not in (0, 1):
            raise ScalesearchError(f"worker {plan.index} stopped: {errors.get(plan.index, f'exit code {code}')}")
    return max(codes, default=0)


def _pump(index: int, proc: subprocess.Popen[str], lines: queue.Queue[tuple[int, str | None]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put((index, line.rstrip("\n")))
    lines.put((index, None))
