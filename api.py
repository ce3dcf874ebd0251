"""The Python API: what ``scalesearch run / export / train / report`` do, from a notebook or a script.

    import scalesearch

    study = scalesearch.run("studies/digits.yaml", storage="sqlite:///runs.db", n_trials=10)
    best = scalesearch.export(study)                      # the knee of the Pareto front, as a dict
    result = scalesearch.train(best, "model/")            # retrain on train + val, test accuracy
    model = scalesearch.load_model("model/")              # a torch.nn.Module, no pickles
    scalesearch.report(study, "report/")                  # report/report.html, offline

``run`` shares its code with the CLI (``search/study/launch.py``): the same checks, resume,
study-wide budget, early stopping and progress (one line per trial where there is no terminal,
as in Jupyter). Mistakes raise the typed errors of :mod:`scalesearch.errors`, never
``SystemExit``. Families of your own: ``scalesearch.spaces.register_family``; data in memory:
``data=`` (see ``search/datasets/python_data.py``). docs/python.md walks through all of it.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scalesearch.errors import DataError, ScalesearchError

Overrides = Sequence[str] | Mapping[str, Any] | str
_URLS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # study -> its storage URL


def _console() -> Any:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    if console.is_terminal or console.is_jupyter:
        return console
    return Console(highlight=False, soft_wrap=True, width=160)  # logs and pipes: wide tables


def _overrides(overrides: Overrides) -> list[str]:
    """``["key.path=value", ...]``, or a dict ``{"key.path": value}`` written that way."""
    if isinstance(overrides, str):
        return [overrides]
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    return list(overrides)


def run(spec_or_path: str | Path | Mapping[str, Any] | Any = None, *, storage: str | None = None,
        study_name: str | None = None, n_trials: int | None = None, overrides: Overrides = (),
        data: Any = None, workers: int = 1, timeout: float | None = None,
        warm_start: str | Sequence[str] = (), allow_changed_family: bool = False) -> Any:
    """Run (or resume) a study to its budget and return the ``optuna.Study``.

    ``spec_or_path``: a spec YAML path (None: ``studies/digits.yaml``, or, with ``study_name``,
    the spec stored with that study), a dict in the same shape, or a ``StudySpec``.
    ``overrides``: ``["budget.n_trials=10"]`` or ``{"space.training.epochs": 3}``, as ``--set``.
    ``storage``: a URL as for the CLI (default ``$SCALESEARCH_STORAGE`` or ``sqlite:///scalesearch.db``).
    ``n_trials``: the study-wide budget of finished trials. ``data``: tensors ``(x, y)``, a torch
    ``Dataset``, or ``{"x": .., "y": .., "num_classes": .., "input_size": ..}``, kept in this process.
    ``warm_start``: earlier studies (``"d0"`` in ``storage``, or ``"sqlite:///old.db#d0"``) a new
    study starts from, as ``run --warm-start`` (``search/study/warm_start.py``).
    ``allow_changed_family``: resume although a family of your own has a builder whose code
    changed since the study started (refused otherwise; the change is recorded in the study).

    Raises :class:`~scalesearch.errors.ScalesearchError` subclasses for mistakes (nothing is
    written then), and ``KeyboardInterrupt`` when interrupted (the running trial is stored as
    FAIL and reruns on resume).
    """
    from scalesearch.search.study.launch import execute, open_run, print_outcome

    console = _console()
    launch = open_run(spec_or_path, console=console, storage=storage, study_name=study_name, n_trials=n_trials,
                      timeout=timeout, overrides=_overrides(overrides), workers=workers, data=data,
                      caller="python", warm_start=[warm_start] if isinstance(warm_start, str) else list(warm_start),
                      allow_changed_family=allow_changed_family)
    try:
        outcome = execute(launch, console)
    except KeyboardInterrupt as e:
        console.print(f"{e or 'interrupted'}; resume with scalesearch.run(..., storage={launch.url!r}, "
                      f"study_name={launch.spec.study_name!r})", markup=False)
        raise
    print_outcome(console, outcome)
    _URLS[outcome.study] = launch.url
    if outcome.stopped_by == "failures":
        raise ScalesearchError(f"study {launch.spec.study_name!r} stopped after repeated trial failures: "
                               f"{_last_failure(outcome.study)}")
    return outcome.study


def _last_failure(study: Any) -> str:
    import optuna

    from scalesearch.search.config import attrs

    failed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
    reason = failed[-1].user_attrs.get(attrs.FAIL_REASON) if failed else None
    return f"the last one failed with: {reason}" if reason else "see the reasons printed above"


def export(study: Any, pick: str = "knee", where: Sequence[str] | str = (), *, rule: str = "lcb",
           seeds: int | None = None, top: int | None = None, trial: int | None = None, device: str | None = None,
           path: str | Path | None = None, storage: str | None = None, same_split: bool = False) -> dict[str, Any]:
    """One Pareto-optimal trial, as everything needed to rebuild and retrain it: the dict
    ``scalesearch export`` writes as YAML (also written to ``path`` when given).

    ``pick``: ``knee`` (default), ``max:<metric>`` or ``min:<metric>``; ``where``: filters such
    as ``"latency_ms<=2"`` that must all hold; ``rule``: ``lcb`` (default: the top ``top``
    candidates are re-trained with ``seeds`` more seeds and ranked by their accuracy's lower
    confidence bound), ``mean`` or ``single`` (the one stored score, nothing trained); each extra
    seed trains on a fresh train/validation partition unless ``same_split``;
    ``trial``: export that trial number as it is. The same choices as the CLI's flags. What the
    re-evaluation costs is printed before it runs (by default cut to a quarter of the study's own
    trial time); a pick left off the front run printed, or trials set aside as not useful, are
    printed in one line each and kept in ``provenance`` (``off_front``, ``set_aside``); a trial
    left off the front for a doubted latency (``latency_suspect``, docs/compression.md) is named
    in one line too.
    """
    from scalesearch.search.results.export import check_writable, export_data, write_yaml
    from scalesearch.search.results.report import study_left_off
    from scalesearch.search.results.selection import check_rule, select
    from scalesearch.search.study.study import stored_spec

    where = [where] if isinstance(where, str) else list(where)
    budget = check_rule(rule, seeds, top, same_split, caller="python")
    if path is not None:
        check_writable(path, caller="python")  # before any training is spent
    spec = stored_spec(study)
    console = _console()

    def say(line: str) -> None:
        console.print(line, markup=False, highlight=False)

    chosen = select(study, spec, pick, where, rule=rule, seeds=seeds, top=top, device=device, trial=trial,
                    resplit=not same_split, on_training=lambda t, seed: say(f"re-evaluating trial {t} with seed {seed}"),
                    on_plan=say, caller="python")
    for line in (*study_left_off(study, spec), chosen.set_aside, chosen.off_front):
        if line:
            say(line)
    data = export_data(study, spec, chosen.trial, storage_url=storage or _URLS.get(study) or "python", pick=pick,
                       where=where, uncertainty=chosen.estimate.to_data(), selection=chosen.provenance(*budget))
    if path is not None:
        write_yaml(data, path, caller="python")
    return data


def train(export: Mapping[str, Any] | str | Path, out_dir: str | Path, *, device: str = "auto",
          threads: int | None = None, epochs: int | None = None, data: Any = None, fit: str | None = None,
          test_each_epoch: bool = False, final: bool = False) -> Any:
    """Retrain an export (a dict from :func:`export`, or its YAML file) on ``fit``: ``train`` (the
    default: the search's protocol, which the export's interval states) or ``train+val``;
    ``final=True``: the model to deploy, on train + val for 3x the searched epochs; report
    accuracy on the held-out test split and save ``model.safetensors`` + ``model.yaml`` in
    ``out_dir``; each step's effect on it is printed (trained -> pruned -> fine-tuned -> quantized).
    Epochs are scored on the validation split unless ``test_each_epoch``. Returns a
    ``RetrainResult`` (``test_accuracy``, ``curve``, ``steps``, ``train_seconds``, ``out_dir``).
    ``data``: the study's in-memory data again, when it came from Python and this process no
    longer holds it."""
    from scalesearch.search.results.retrain import (
        check_export,
        check_recipe,
        epoch_split,
        plan,
        read_export,
        retrain,
    )

    check_recipe(fit, final, caller="python")
    spec = read_export(export) if isinstance(export, str | Path) else check_export(dict(export), "export")
    if data is not None:
        _same_data(spec, data)
    console = _console()
    fit, total = plan(spec, fit, epochs, final, caller="python")
    split = epoch_split(fit, test_each_epoch)

    def on_epoch(report: Any) -> None:
        console.print(f"epoch {report.epoch}/{total}  loss {report.train_loss:.3f}  {split} {report.val_accuracy:.4f}")

    result = retrain(spec, out_dir, device=device, threads=threads, epochs=total, on_epoch=on_epoch, fit=fit,
                     test_each_epoch=test_each_epoch, caller="python", final=final)
    console.print(" -> ".join(result.steps), markup=False)
    console.print(f"test accuracy {result.test_accuracy:.4f} (the model as saved) after {result.train_seconds:.1f}s "
                  f"of training; saved {result.out_dir}/model.safetensors and model.yaml")
    if result.verdict:
        console.print(result.verdict, highlight=False)
    return result


def _same_data(export: dict[str, Any], data: Any) -> None:
    from scalesearch.search.datasets.python_data import register

    expected = export["dataset"].get("fingerprint")
    if expected is None:
        raise DataError(f"data: this export's data is dataset.kind {export['dataset'].get('kind')}, not from "
                        "Python; drop data=")
    given = register(data)["fingerprint"]
    if given != expected:
        raise DataError(f"data: not the data the study ran on (fingerprint {given[:12]}, the study's "
                        f"{expected[:12]}); pass the same x, y or Dataset")


def load_study(study_name: str, storage: str | None = None) -> Any:
    """An existing study (``storage``: a URL; default ``sqlite:///scalesearch.db``), opened as
    scalesearch opens it, for :func:`export` and :func:`report` in a later session.
    ``StorageError`` (one line, naming the studies there) when there is no such study."""
    from scalesearch.search.storage.storage import open_storage, resolve_url
    from scalesearch.search.study.launch import quiet_trials
    from scalesearch.search.study.study import load_study as load

    quiet_trials()  # Optuna's experimental-API notices are not actionable here
    url = resolve_url(storage)
    study = load(open_storage(url, create=False), study_name)
    _URLS[study] = url
    return study


def load_model(model_dir: str | Path) -> Any:
    """The ``torch.nn.Module`` that :func:`train` saved in ``model_dir`` (in eval mode), rebuilt
    from ``model.yaml`` with weights from ``model.safetensors``; nothing is unpickled."""
    from scalesearch.search.results.retrain import load_model as load

    return load(model_dir)


def report(study: Any, out_dir: str | Path, *, png: bool = True, storage: str | None = None) -> Any:
    """Write the study's offline HTML report into ``out_dir`` (``report.html``: summary, Pareto
    table with an export command per row, the figures; a PNG per figure unless ``png`` is False),
    as ``scalesearch report`` does. Returns the ``Report`` (``path``, ``pngs``, ``png_problem``)."""
    from scalesearch.search.results.html_report import write_report

    report = write_report(study, out_dir, storage_url=storage or _URLS.get(study), png=png, caller="python")
    _console().print(f"wrote {report.path}" + (f" and {len(report.pngs)} PNG figures" if report.pngs else "")
                     + (f" ({report.png_problem})" if report.png_problem else ""), markup=False)
    return report
