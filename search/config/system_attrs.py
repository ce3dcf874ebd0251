"""Machine-only study and trial data, kept out of what optuna-dashboard draws.

optuna-dashboard shows every *user* attribute of a study or trial as one line of its attribute
tables (non-strings as JSON, up to 1,024 characters), and a line it cannot break widens the whole
page: the split assignment (base64) made the study page 5,311 px wide, a trial's config its page
~3,500 px. So data for programs lives in Optuna *system* attributes, which the dashboard does not
render, under the same ``ss.*`` names (search/config/attrs.py); user attributes keep what people
read, rounded (:func:`for_display`).

Optuna 5 removed ``Study.set_system_attr`` and ``Trial.set_system_attr``; the storage's
``set_study_system_attr`` / ``set_trial_system_attr`` are public. Only public routes lead there: a
running ``optuna.Trial``'s ``storage``, ``study`` and ``number``, and for a study the storage it
was opened with (``search/storage/storage.stored_study``: every study scalesearch opens); ids come
from ``get_study_id_from_name`` / ``get_trial_id_from_study_id_trial_number`` (:func:`trial_id`).
Readers fall back to the user attribute, so studies made before this change still load, resume
and export.

    set_trial_data(trial, attrs.CONFIG, config)
    trial_config(frozen_trial)["family"]

Storage round trips: each write is one storage transaction and each read of a running trial's
system attrs another (Optuna caches only finished trials). So what this process wrote on a
running trial is remembered (:data:`_WRITTEN`, dropped with the trial object) and read back from
memory -- only this trial's own worker writes these keys, so the copy is exact -- and
:func:`store_metrics` skips user attrs whose shown value is already stored (e.g. a planned cost
that the measurement confirms).
"""

from __future__ import annotations

import math
import weakref
from typing import Any

from scalesearch.search.config import attrs

METRICS = "ss.metrics"  # trial, system: every measured metric at full precision
VAL_CURVE = "ss.val_curve"  # trial, system: validation accuracy after each epoch
SIGNIFICANT = 4  # digits of a float metric as shown in the dashboard
#: Running ``optuna.Trial`` -> the system attrs this process set on it (see the module docstring).
_WRITTEN: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
#: Running ``optuna.Trial`` -> its storage id (:func:`_running_id`).
_IDS: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def storage_of(study: Any) -> Any:
    """The storage ``study`` was opened with; TypeError for a study not opened by scalesearch."""
    storage = getattr(study, "storage", None)
    if storage is None:
        raise TypeError(f"study {study.study_name!r} was not opened by scalesearch, and optuna.Study keeps its storage "
                        "private; open it with scalesearch.load_study(name, storage_url) "
                        "or use the study scalesearch.run returns")
    return storage


def _study_id(study: Any) -> int:
    return storage_of(study).get_study_id_from_name(study.study_name)


def set_study_data(study: Any, key: str, value: Any) -> None:
    storage_of(study).set_study_system_attr(_study_id(study), key, value)


def study_data(study: Any, key: str, default: Any = None) -> Any:
    """The study's system attr ``key``; else its user attr ``key`` (older studies); else ``default``."""
    value = storage_of(study).get_study_system_attrs(_study_id(study)).get(key)
    return value if value is not None else study.user_attrs.get(key, default)


def trial_id(storage: Any, study_name: str, number: int) -> int:
    """The storage's id of trial ``number`` of study ``study_name`` (public storage methods)."""
    return storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), number)


def _running_id(trial: Any) -> int:
    """A running ``optuna.Trial``'s id, looked up once per trial object."""
    if trial not in _IDS:
        _IDS[trial] = trial_id(trial.storage, trial.study.study_name, trial.number)
    return _IDS[trial]


def set_trial_data(trial: Any, key: str, value: Any) -> None:
    """Store ``value`` on a running ``optuna.Trial`` (not shown by the dashboard)."""
    trial.storage.set_trial_system_attr(_running_id(trial), key, value)
    _WRITTEN.setdefault(trial, {})[key] = value


def _running_data(trial: Any, key: str) -> Any:
    """``key`` of a running trial, from what this process wrote, else from the storage."""
    written = _WRITTEN.get(trial, {})
    return written[key] if key in written else _system_attrs(trial).get(key)


def _system_attrs(trial: Any) -> dict[str, Any]:
    """A frozen trial's system attrs, or a running one's (Optuna 5's ``Trial`` has no property)."""
    storage = getattr(trial, "storage", None)
    return storage.get_trial_system_attrs(_running_id(trial)) if storage is not None else trial.system_attrs


def trial_data(trial: Any, key: str, default: Any = None) -> Any:
    """A trial's (running or frozen) system attr ``key``; else its user attr (older studies)."""
    value = _running_data(trial, key) if getattr(trial, "storage", None) is not None else _system_attrs(trial).get(key)
    return value if value is not None else trial.user_attrs.get(key, default)


def trial_config(trial: Any) -> dict[str, Any]:
    """The sampled configuration (family, model, training, compression, seed); ``{}`` before sampling."""
    return trial_data(trial, attrs.CONFIG) or {}


def val_curve(trial: Any) -> list[float]:
    """Validation accuracy after each epoch trained (partial for a trial stopped early)."""
    return [float(a) for a in trial_data(trial, VAL_CURVE) or ()]


def exact_metrics(trial: Any) -> dict[str, Any]:
    """The trial's metrics at full precision (the user attrs hold them rounded for people)."""
    return attrs.trial_metrics(trial.user_attrs) | (trial_data(trial, METRICS) or {})


def for_display(value: Any) -> Any:
    """A float rounded to :data:`SIGNIFICANT` significant digits (1.3328649999 -> 1.333); other
    values unchanged."""
    if isinstance(value, float) and math.isfinite(value) and value != 0.0:
        return round(value, SIGNIFICANT - 1 - math.floor(math.log10(abs(value))))
    return value


def set_shown(trial: Any, key: str, value: Any) -> None:
    """``value`` under ``key`` on a running trial: the user attr people read, rounded
    (:func:`for_display`), and the exact value as a system attr when rounding changed it;
    programs read it back with :func:`trial_data` (``ss.rung.*``, ``ss.planned.*``)."""
    shown = for_display(value)
    if shown != value:
        set_trial_data(trial, key, value)
    trial.set_user_attr(key, shown)


def store_metrics(trial: Any, metrics: dict[str, Any]) -> None:
    """``metrics`` as ``ss.<name>`` user attrs rounded for people, and exactly in ``ss.metrics``
    on a running trial; a user attr already showing the same value is not written again."""
    exact = (_running_data(trial, METRICS) or {}) | metrics
    set_trial_data(trial, METRICS, exact)
    shown = trial.user_attrs
    for name, value in metrics.items():
        key, display = attrs.metric_key(name), for_display(value)
        if key not in shown or type(shown[key]) is not type(display) or shown[key] != display:
            trial.set_user_attr(key, display)
