"""A sampler that also learns from earlier studies' trials, which never enter this study.

:class:`WarmSampler` wraps the study's TPE sampler. Before each trial it builds a helper study
in memory: the earlier studies' complete trials (mapped into this space, stored with the study
as ``ss.warm_start.trials``) followed by this study's finished trials, and hands that helper to
TPE wherever TPE reads history (``infer_relative_search_space``, ``sample_relative``,
``sample_independent``). The real study, its budget, front, hypervolume, notes and exports
never see the earlier trials; only the sampler's model does (Optuna's public
``create_trial``/``add_trials``).

Scores of another study are not comparable to this one's (other data, other epochs): each study's
objective values enter the helper as their rank quantile within that study (0 = worst .. 1 =
best, ties shared, each objective on its own; Salinas et al., 2021, transfer on quantiles for the
same reason). So TPE's "good" trials are the best of each study, and this study's own results
count as soon as they exist instead of being dominated by a better-scoring earlier task.

Only TPE (``tpe``, ``auto``) reads history this way; other samplers keep their own (a warm start
then only queues the earlier front).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from scalesearch.search.config import attrs
from scalesearch.search.config.spec import StudySpec
from scalesearch.search.study.samplers import SEED_ATTR, trials_store_constraints


def learns_from_history(sampler: Any) -> bool:
    """Whether ``sampler`` reads its model from the study's trials the way WarmSampler feeds it."""
    import optuna

    return isinstance(sampler, optuna.samplers.TPESampler)


def rank_quantiles(rows: Sequence[Sequence[float]]) -> list[list[float]]:
    """Each column's values as their rank quantile in [0, 1] (larger value, larger quantile;
    ties share their mean rank; one row maps to 0.5)."""
    if not rows:
        return []
    from scipy.stats import rankdata

    n = len(rows)
    columns = [[float(r - 1) / (n - 1) if n > 1 else 0.5 for r in rankdata(column, method="average")]
               for column in zip(*rows, strict=True)]
    return [list(row) for row in zip(*columns, strict=True)]


def earlier_trials(records: Sequence[dict[str, Any]]) -> list[Any]:
    """The stored earlier trials (``ss.warm_start.trials``) as complete ``FrozenTrial``s, their
    values as rank quantiles within their own study."""
    import optuna

    by_task: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_task.setdefault(record["study"], []).append(record)
    out = []
    for group in by_task.values():
        for record, values in zip(group, rank_quantiles([r["values"] for r in group]), strict=True):
            distributions = {k: optuna.distributions.json_to_distribution(v) for k, v in record["distributions"].items()}
            out.append(_created(optuna.trial.TrialState.COMPLETE, record["params"], distributions, values,
                                record.get("constraints") or None))
    return out


def _created(state: Any, params: dict[str, Any], distributions: dict[str, Any], values: Any,
             constraints: dict[str, float] | None, intermediate: dict[int, float] | None = None) -> Any:
    import optuna

    extra = {"constraints": constraints} if constraints and trials_store_constraints() else {}
    return optuna.trial.create_trial(state=state, params=params, distributions=distributions, values=values,
                                     intermediate_values=intermediate, **extra)


def own_trials(study: Any, current: int | None = None) -> list[Any]:
    """This study's trials for the helper: complete ones with their values as rank quantiles
    within this study, stopped ones as they are, and running ones (other workers', but not
    ``current``) with what they have sampled so far, for TPE's constant liar."""
    import optuna

    state = optuna.trial.TrialState
    trials = study.get_trials(deepcopy=False, states=(state.COMPLETE, state.PRUNED, state.RUNNING))
    complete = [t for t in trials if t.state == state.COMPLETE and t.values is not None]
    quantiles = dict(zip((t.number for t in complete), rank_quantiles([t.values for t in complete]), strict=True))
    out = []
    for t in trials:
        constraints = t.constraints if trials_store_constraints() and t.state != state.RUNNING else None
        if t.number in quantiles:
            out.append(_created(state.COMPLETE, t.params, t.distributions, quantiles[t.number], constraints))
        elif t.state == state.PRUNED:
            out.append(_created(state.PRUNED, t.params, t.distributions, None, constraints,
                                dict(t.intermediate_values)))
        elif t.state == state.RUNNING and t.number != current:
            out.append(optuna.trial.create_trial(state=state.RUNNING, params=t.params, distributions=t.distributions,
                                                 system_attrs=dict(t.system_attrs)))
    return out


class WarmSampler:
    """``inner`` (a TPE sampler) fed this study's trials after the earlier ones (see the module
    docstring). A subclass of ``optuna.samplers.BaseSampler`` (made by :func:`warm_sampler`).

    For each trial the helper also holds a running stand-in: TPE reads and writes the trial it
    samples for (its constant liar shares a trial's relative params through its system attrs),
    and the stand-in gives it one in the helper; what TPE writes there is copied to the real
    trial, so other workers see it as they would without a warm start.
    """

    def __init__(self, inner: Any, earlier: list[Any], directions: Sequence[str]):
        self.inner, self.earlier, self.directions = inner, earlier, list(directions)
        self._for: tuple[int, Any, Any, Any] | None = None  # (trial number, helper, its storage, stand-in)
        setattr(self, SEED_ATTR, getattr(inner, SEED_ATTR, None))

    def helper(self, study: Any, current: int | None = None) -> tuple[Any, Any]:
        """The in-memory study TPE reads, and its storage: the earlier trials, then ``study``'s own."""
        import optuna

        storage = optuna.storages.InMemoryStorage()
        helper = optuna.create_study(storage=storage, directions=self.directions,
                                     sampler=optuna.samplers.RandomSampler(0))
        helper.add_trials(self.earlier + own_trials(study, current))
        return helper, storage

    def _history(self, study: Any, trial: Any) -> tuple[Any, Any]:
        """``(helper, stand-in)`` for ``trial``, built once per trial."""
        import optuna

        if self._for is None or self._for[0] != trial.number:
            helper, storage = self.helper(study, trial.number)
            number = helper.ask().number
            stand_in = next(t for t in helper.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
                            if t.number == number)
            self._for = (trial.number, helper, storage, stand_in)
        return self._for[1], self._for[3]

    def before_trial(self, study: Any, trial: Any) -> None:
        self._for = None  # the study has changed since the last trial
        self._history(study, trial)
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
        helper, stand_in = self._history(study, trial)
        return self.inner.infer_relative_search_space(helper, stand_in)

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
        helper, stand_in = self._history(study, trial)
        params = self.inner.sample_relative(helper, stand_in, search_space)
        self._share(study, trial)
        return params

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
        helper, stand_in = self._history(study, trial)
        return self.inner.sample_independent(helper, stand_in, param_name, param_distribution)

    def _share(self, study: Any, trial: Any) -> None:
        """What the inner sampler stored on the stand-in, stored on the real trial."""
        from scalesearch.search.config.system_attrs import trial_id

        assert self._for is not None
        _, helper, storage, stand_in = self._for
        written = storage.get_trial_system_attrs(trial_id(storage, helper.study_name, stand_in.number))
        real = getattr(study, "storage", None)  # every study scalesearch opens has it
        if written and real is not None:
            real_id = trial_id(real, study.study_name, trial.number)
            for key, value in written.items():
                real.set_trial_system_attr(real_id, key, value)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self.inner.after_trial(study, trial, state, values)
        self._for = None

    def reseed_rng(self) -> None:
        self.inner.reseed_rng()


def warm_sampler(inner: Any, records: Sequence[dict[str, Any]], directions: Sequence[str]) -> Any:
    """``inner`` learning from ``records`` too (``inner`` itself when it cannot, or there are none)."""
    if not records or not learns_from_history(inner):
        return inner
    return _sampler_class()(inner, earlier_trials(records), directions)


@functools.cache
def _sampler_class() -> type:
    """WarmSampler as an Optuna ``BaseSampler`` (Optuna is imported only when a study runs)."""
    import optuna

    return type("WarmSampler", (WarmSampler, optuna.samplers.BaseSampler), {})


def learning_sampler(study: Any, spec: StudySpec, sampler: Any) -> Any:
    """``sampler``, learning from the study's earlier trials (``ss.warm_start.trials``) when it
    was warm-started and can (``search/study/warm_start.py``)."""
    if not study.user_attrs.get(attrs.WARM_START) or hasattr(sampler, "inner"):
        return sampler
    from scalesearch.search.config.system_attrs import study_data

    return warm_sampler(sampler, study_data(study, attrs.WARM_TRIALS) or [], spec.directions)
