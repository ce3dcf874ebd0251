"""The study explains itself in optuna-dashboard: a Markdown note on the study and on each trial.

:func:`study_note` says what is searched, the objectives (direction, unit), constraints, budget
and progress, and the current Pareto front as a table with the ``scalesearch export`` command of
each row and of the knee, so a reader can answer "which model under 100K params is most accurate,
and how do I export it" from the note alone. :func:`trial_note` gives one trial: its config on one
line, its measurements rounded, and why it stopped. ``search/results/refresh.py`` stores them
with ``optuna_dashboard.save_note`` as trials finish.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.config.metrics import METRICS
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.results.report import (
    complete_trials,
    doubted,
    fmt,
    left_off_lines,
    pareto_trials,
    trial_row,
)
from scalesearch.search.storage.storage import redact
from scalesearch.spaces.space import Choice, Fixed, FloatRange, IntRange, Param

#: What each objective means, for the note's objectives table.
MEANING = {"accuracy": "validation accuracy (fraction correct)", "params": "parameters of the deployed model",
           "flops": "forward FLOPs per image", "latency_ms": "latency, batch 1, on the deploy device",
           "size_mb": "serialized model size", "nonzero_params": "non-zero parameters (after sparsity)",
           "robust_accuracy": "accuracy under noise, blur and shift", "accuracy_std": "accuracy spread over seeds"}
#: A trial note's measurements: metric -> (label, unit).
SHOWN = {"accuracy": ("accuracy", ""), "params": ("params", ""), "flops": ("FLOPs", ""),
         "latency_ms": ("latency", " ms"), "size_mb": ("size", " MB"), "epochs_run": ("epochs", ""),
         "train_seconds": ("training", " s")}
#: Pareto table columns: (row key, header).
COLUMNS = (("trial", "trial"), ("family", "family"), ("width", "width"), ("depth", "depth"),
           ("compression", "compression"), ("accuracy", "accuracy"), ("params", "params"), ("flops", "FLOPs"),
           ("latency_ms", "latency (ms)"), ("size_mb", "size (MB)"))


def describe_param(param: Param) -> str:
    """``0.031–0.5 (log)``, ``{32, 64}``, ``27``: a knob's range as people read it."""
    match param:
        case Fixed(v):
            return _num(v)
        case Choice(cs):
            return "{" + ", ".join(_num(c) for c in cs) + "}"
        case FloatRange(low=lo, high=hi, log=log) | IntRange(low=lo, high=hi, log=log):
            return f"{_num(lo)}–{_num(hi)}" + (" (log)" if log else "")
    return str(param)


def _num(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _knobs(knobs: Mapping[str, Param]) -> str:
    return ", ".join(f"{name} {describe_param(p)}" for name, p in knobs.items()) or "-"


def shown_url(storage_url: str) -> str:
    """``storage_url`` as a command shows it: password redacted, a relative SQLite or journal file
    made absolute (``sqlite:///scalesearch.db`` names another file when run from another folder)."""
    import os

    for scheme in ("sqlite:///", "journal:///"):
        path = storage_url[len(scheme):] if storage_url.startswith(scheme) else None
        if path and not path.startswith("/") and path != ":memory:":
            return redact(scheme + os.path.abspath(path))
    return redact(storage_url)


def export_command(study: Any, storage_url: str, *, trial: int | None = None) -> str:
    """The ``scalesearch export`` command for trial ``trial``, or for the knee when None."""
    how = f"--trial {trial} -o trial{trial}.yaml" if trial is not None else "--pick knee -o best.yaml"
    return f"scalesearch export --storage {shown_url(storage_url)} --study-name {study.study_name} {how}"


def progress_counts(study: Any) -> dict[str, int]:
    counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def _started_from(study: Any) -> str:
    from scalesearch.search.study.warm_start import started_from

    return started_from(study)


def study_note(study: Any, spec: StudySpec, storage_url: str) -> str:
    """The study's Markdown note (see the module docstring)."""
    from scalesearch.search.runtime.budget import epochs_spent

    c = progress_counts(study)
    finished = c["COMPLETE"] + c["PRUNED"]
    space = spec.space
    sizes, started = _split_sizes(study), _started_from(study)
    lines = [f"# {study.study_name}: {' vs '.join(spec.objectives)}", "",
             f"**Progress:** {finished} / {spec.budget.n_trials} trials finished ({c['COMPLETE']} complete, "
             f"{c['PRUNED']} stopped early, {c['FAIL']} failed, {c['RUNNING']} running; Optuna's own pages "
             "call a trial stopped early PRUNED, which is early stopping, not compression); "
             f"{epochs_spent(study)} training epochs spent"
             + (f" of {spec.budget.max_epochs}" if spec.budget.max_epochs else "")
             + f". Updated {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.", "",
             "## What is searched", "",
             f"Space `{space.name}` on dataset `{spec.dataset.name}`"
             + (f" ({sizes})" if sizes else "") + "."
             + (f" {started.capitalize()}: its earlier trials teach the sampler and are"
                " never counted here." if started else ""), "",
             "| family | knobs |", "|---|---|",
             *(f"| {family} | {_knobs(knobs)} |" for family, knobs in space.families.items()), "",
             f"Training: {_knobs(space.training)}.", "",
             f"Compression: {_knobs(space.compression) if space.compression else 'none (deployed as trained)'}.", "",
             "## Objectives", "", "| objective | direction | unit |", "|---|---|---|"]
    for name, direction in zip(spec.objectives, spec.directions, strict=True):
        unit = METRICS.get(name, ("", ""))[1]
        lines.append(f"| {name} | {direction} | {MEANING.get(name, name)}{f' ({unit})' if unit else ''} |")
    constraints = ", ".join(f"`{c}`" for c in spec.conditions) or "none"
    lines += ["", f"Constraints: {constraints}. Early stopping: `{spec.early_stopping.name}`.", ""]
    lines += front_section(study, spec, storage_url)
    return "\n".join(lines) + "\n"


def _split_sizes(study: Any) -> str:
    sizes = (study.user_attrs.get(attrs.SPLIT) or {}).get("sizes")
    return ", ".join(f"{n} {part}" for part, n in sizes.items()) if sizes else ""


def seeds_line(study: Any, front: list[Any]) -> list[str]:
    """One line naming the front trials re-evaluated over seeds: deployed accuracy mean ± std
    (seeds, 95 % validation interval)."""
    from scalesearch.search.results.reeval import over_seeds_text, seed_summaries

    summaries = seed_summaries(study, front)
    shown = [f"trial {t.number}: {over_seeds_text(summaries[t.number], interval_inside=True)}"
             for t in front if t.number in summaries]
    return ["", "Accuracy over seeds (deployed, re-evaluated by export, stability or measure.final_reeval; "
            "re-split: each seed on a fresh train/validation partition): "
            + "; ".join(shown) + "."] if shown else []


def front_section(study: Any, spec: StudySpec, storage_url: str) -> list[str]:
    """The Pareto front as a Markdown table, fewest params first, with export commands."""
    from scalesearch.search.results.export import parse_pick
    from scalesearch.search.results.useful import (
        set_aside_text,
        split_useful,
        useful_front,
        usefulness,
    )

    complete = [t for t in complete_trials(study) if t.values is not None]
    doubts = doubted(complete, spec)
    front = useful_front(complete, spec, doubts=doubts)
    if not front:
        return ["## Pareto front", "", "No complete trial yet."]
    aside = set_aside_text(split_useful(pareto_trials(complete, spec, doubts), spec)[1], usefulness(complete, spec))
    left_off = "".join(f" {line}." for line in left_off_lines(complete, spec, doubts))
    knee = parse_pick("knee")(front, spec)[0]
    cost = sort_cost(spec)
    if cost is not None:
        front = sorted(front, key=lambda t: (trial_row(t).get(cost) if trial_row(t).get(cost) is not None else 0,
                                             t.number))
    rows = [trial_row(t) for t in front]
    lines = ["## Pareto front", "", f"{len(front)} Pareto-optimal trial{'s' * (len(front) != 1)} (complete, within "
             f"the constraints, useful models){order_text(spec, cost)}" + (f" Not shown: {aside}." if aside else "")
             + left_off, "",
             "| " + " | ".join(h for _, h in COLUMNS) + " | export |", "|" + "---|" * (len(COLUMNS) + 1)]
    for row in rows:
        cells = [cell(row[key], key) for key, _ in COLUMNS]
        cells[0] = f"**{row['trial']}** (knee)" if row["trial"] == knee.number else str(row["trial"])
        lines.append("| " + " | ".join(cells) + f" | `--trial {row['trial']}` |")
    lines += seeds_line(study, front)
    lines += ["", "Export a row (here the knee's; put the row's trial number after `--trial`): "
                  f"`{export_command(study, storage_url, trial=knee.number)}`", "",
              f"**Knee** (the best compromise over all objectives): trial {knee.number}. Letting `export` choose "
              "re-evaluates the top candidates with extra seeds first, so it may prefer a close neighbour: "
              f"`{export_command(study, storage_url)}`", "",
              *budget_example(study, spec, storage_url, rows, cost)]
    return lines


def sort_cost(spec: StudySpec) -> str | None:
    """The cost the front table is sorted by: params when it is an objective, else the first
    minimised objective shown in the table (None: no such objective, the stored order)."""
    shown = [key for key, _ in COLUMNS]
    costs = [o for o, d in zip(spec.objectives, spec.directions, strict=True) if d == "minimize" and o in shown]
    return "params" if "params" in costs else (costs[0] if costs else None)


def order_text(spec: StudySpec, cost: str | None) -> str:
    """How the table is ordered, in the study's own objectives."""
    if cost is None:
        return "."
    best = next((o for o, d in zip(spec.objectives, spec.directions, strict=True) if d == "maximize"), None)
    name = MEANING.get(cost, cost).split(" (")[0].split(",")[0]
    if best is None or len(spec.objectives) != 2:
        return f", lowest {name} first."
    return (f", lowest {name} first: each is the best {best} found at its {name}, so {best} rises down the "
            f"table. For the best {best} within a budget of {cost}, take the last row within it.")


def budget_example(study: Any, spec: StudySpec, storage_url: str, rows: list[dict[str, Any]],
                   cost: str | None) -> list[str]:
    """``export --where '<cost><limit>'``: the best model under a budget, on the study's own
    objectives (a limit that splits the front), or nothing when the study has no such pair."""
    best = next((o for o, d in zip(spec.objectives, spec.directions, strict=True) if d == "maximize"), None)
    values = sorted(r[cost] for r in rows if cost and r.get(cost) is not None)
    if best is None or cost is None or len(values) < 2:
        return []
    limit = float(f"{values[len(values) // 2]:.1g}")
    limit_text = f"{limit:.0f}" if limit >= 1 else f"{limit:g}"
    unit = METRICS.get(cost, ("", ""))[1]
    return ["", f"The best {best} under a budget, e.g. {cost} under {cell(limit, cost)}{' ' + unit if unit else ''}: "
                f"`scalesearch export --storage {shown_url(storage_url)} --study-name {study.study_name} "
                f"--pick max:{best} --where '{cost}<{limit_text}' -o small.yaml`"]


def trial_note(trial: Any, spec: StudySpec) -> str:
    """One trial's note: config on one line, measurements rounded, why it stopped."""
    from scalesearch.search.results.figure_style import UNCOMPRESSED
    from scalesearch.search.results.report import STATE_WORDS

    config = system_attrs.trial_config(trial)
    model = ", ".join(f"{k} {_num(v)}" for k, v in config.get("model", {}).items())
    training = ", ".join(f"{k} {_num(v)}" for k, v in config.get("training", {}).items())
    compression = trial_row(trial)["compression"]
    compression = compression if compression == UNCOMPRESSED else f"compression {compression}"
    metrics = system_attrs.exact_metrics(trial)
    shown = [f"{label} {cell(metrics[name], name)}{unit}" for name, (label, unit) in SHOWN.items() if name in metrics]
    lines = [f"**Trial {trial.number}: {STATE_WORDS.get(trial.state.name, trial.state.name.lower())}**", "",
             f"Config: {config.get('family', '?')} ({model}); training {training}; "
             f"{compression}; seed {config.get('seed', '?')}.", "",
             f"Measured: {', '.join(shown) or 'nothing yet'}."]
    lines += curve_lines(system_attrs.val_curve(trial))
    reason = trial.user_attrs.get(attrs.PRUNE_REASON) or trial.user_attrs.get(attrs.FAIL_REASON)
    if reason and trial.state.name != "COMPLETE":
        what = "Stopped early" if trial.state.name == "PRUNED" else "Failed"
        lines += ["", f"{what}: {reason}"]
    return "\n".join(lines) + "\n"


SPARKS = "▁▂▃▄▅▆▇█"
CURVE_COLUMNS = 10  # epochs shown in the curve's table (evenly spaced, the last always)


def curve_lines(curve: list[float]) -> list[str]:
    """The trial's learning curve in its note: a sparkline (one bar per epoch, scaled from its
    lowest to its highest accuracy) and a one-row table of at most :data:`CURVE_COLUMNS` epochs;
    optuna-dashboard leaves "Intermediate values" empty in a multi-objective study."""
    if not curve:
        return []
    low, high = min(curve), max(curve)
    spark = "".join(SPARKS[round((a - low) / (high - low) * 7) if high > low else 7] for a in curve[-60:])
    step = max(1, -(-len(curve) // CURVE_COLUMNS))
    shown = sorted({*range(step - 1, len(curve), step), len(curve) - 1})
    return ["", f"Learning curve (validation accuracy per epoch, {low:.4f} to {high:.4f}): `{spark}`", "",
            "| epoch | " + " | ".join(str(i + 1) for i in shown) + " |", "|---|" + "---|" * len(shown),
            "| accuracy | " + " | ".join(f"{curve[i]:.4f}" for i in shown) + " |"]


def cell(value: Any, key: str) -> str:
    """A rounded value for a table: 21.1K params, 0.9861 accuracy, 0.27 or 1,310 ms."""
    if isinstance(value, float) and abs(value) >= 1000 and key not in ("params", "flops"):
        return f"{value:,.0f}"
    return fmt(value, key)


def live_trial(study: Any, frozen: Any) -> Any:
    """The ``optuna.Trial`` that ``save_note`` takes, for a finished (frozen) trial of ``study``
    (opened by scalesearch, so its storage is public)."""
    import optuna

    return optuna.Trial(study, system_attrs.trial_id(system_attrs.storage_of(study), study.study_name, frozen.number))
