"""What ``scalesearch run`` shows while it works.

On a terminal: a live panel (trial k of N, current epoch, best so far). Elsewhere (CI, logs,
pipes): one line per finished trial. Both implement the objective's ``Events`` plus an Optuna
trial callback.
"""

from __future__ import annotations

import time
from typing import Any

from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results.report import (
    complete_trials,
    doubted,
    fmt,
    left_off_line,
    uses_latency,
)
from scalesearch.search.training.train import EpochReport


def describe(config: dict[str, Any]) -> str:
    model = config.get("model", {})
    parts = [config.get("family", "?")]
    if "width_multiplier" in model:
        parts.append(f"w={model['width_multiplier']:.3g}")
    if "depth_multiplier" in model:
        parts.append(f"d={model['depth_multiplier']:.3g}")
    return " ".join(parts)


class Progress:
    """Progress of one ``run``: events from the objective, and a callback after each trial."""

    def __init__(self, spec: StudySpec, console: Any, finished_before: int = 0):
        self.spec, self.console = spec, console
        self.total = spec.budget.n_trials
        self.finished = finished_before
        self.current = ""  # "trial 4: resnet w=0.12 d=0.5"
        self.epoch_line = ""
        self.best: dict[str, float] = {}
        self.started = time.monotonic()
        self.live: Any = None
        self.announced: set[int] = set()  # trials already said to be left off the front

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._render(), console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    # ---------------------------------------------------------------- events
    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        self.current, self.epoch_line = f"trial {number}: {describe(config)}", ""
        self._refresh()

    def epoch(self, number: int, report: EpochReport, total_epochs: int) -> None:
        self.epoch_line = f"epoch {report.epoch}/{total_epochs}  val acc {report.val_accuracy:.4f}  loss {report.train_loss:.3f}"
        self._refresh()

    def __call__(self, study: Any, trial: Any) -> None:
        """Optuna callback after each trial."""
        from scalesearch.search.study.study import count_finished

        metrics = attrs.trial_metrics(trial.user_attrs)
        self.finished = count_finished(study)  # study-wide: other workers may finish trials too
        if trial.state.name == "COMPLETE":
            for name, direction in zip(self.spec.objectives, self.spec.directions, strict=True):
                value = metrics.get(name)
                if value is None:
                    continue
                old = self.best.get(name)
                better = old is None or (value > old if direction == "maximize" else value < old)
                self.best[name] = value if better else old
        for line in (self._trial_line(trial, metrics), *self._left_off(study)):
            if self.live is not None:
                self.live.console.print(line)
            else:
                self.console.print(line, highlight=False)
        self._refresh()

    def _left_off(self, study: Any) -> list[str]:
        """A line for each trial newly left off the front for a doubted latency (once each; the
        check may find an earlier trial once later ones give it a reference: ``report.doubted``)."""
        if not uses_latency(self.spec):  # no read of the study per trial where nothing can be doubted
            return []
        doubts = doubted([t for t in complete_trials(study) if t.values is not None], self.spec)
        new = sorted(set(doubts) - self.announced)
        self.announced |= set(new)
        return [left_off_line(n, doubts[n]) for n in new]

    # ---------------------------------------------------------------- rendering
    def _trial_line(self, trial: Any, metrics: dict[str, Any]) -> str:
        from scalesearch.search.results.report import STATE_WORDS

        config = system_attrs.trial_config(trial)
        state = STATE_WORDS.get(trial.state.name, trial.state.name.lower())  # PRUNED: "stopped early"
        shown = "  ".join(f"{k}={fmt(metrics.get(k), k)}" for k in ("accuracy", "params", "latency_ms") if k in metrics)
        reason = trial.user_attrs.get(attrs.PRUNE_REASON) or trial.user_attrs.get(attrs.FAIL_REASON) or ""
        tail = f"  ({reason})" if reason and trial.state.name != "COMPLETE" else ""
        return (f"[{self.finished}/{self.total}] trial {trial.number} {state:13s} "
                f"{describe(config):28s} {shown}  {trial.duration.total_seconds() if trial.duration else 0:.1f}s{tail}")

    def _render(self) -> Any:
        from rich.panel import Panel
        from rich.text import Text

        best = "  ".join(f"{k} {fmt(v, k)}" for k, v in self.best.items()) or "-"
        text = Text()
        text.append(f"finished {self.finished}/{self.total}   elapsed {time.monotonic() - self.started:.0f}s\n")
        text.append(f"{self.current or 'starting'}\n")
        text.append(f"{self.epoch_line}\n")
        text.append(f"best so far: {best}")
        return Panel(text, title=f"scalesearch · {self.spec.study_name}", expand=False)

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())
