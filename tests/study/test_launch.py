"""``open_run``: everything is checked before the storage is written to; a study that never ran a
trial (left empty by an earlier version's failed start) takes a fixed spec instead of refusing it."""

from __future__ import annotations

import io
from pathlib import Path

import optuna
import pytest
from rich.console import Console
from torch import nn

from scalesearch.errors import DataError, SpecError
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.study.launch import open_run
from scalesearch.search.study.study import open_study, stored_spec
from tests.datasets_helpers import digits_folder
from tests.workers_helpers import tiny_spec_data


def _quiet() -> Console:
    return Console(file=io.StringIO())


@pytest.fixture
def images(tmp_path, monkeypatch) -> Path:
    """A 2-class digits folder with one broken PNG; the dataset cache inside tmp_path."""
    monkeypatch.setenv("SCALESEARCH_CACHE", str(tmp_path / "cache"))
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    (root / "digit_1" / "broken.png").write_bytes(b"\x89PNG broken")
    return root


def _spec(root: Path, on_corrupt: str = "fail") -> dict:
    return tiny_spec_data("bad_small", n_trials=1) | {
        "dataset": {"kind": "imagefolder", "root": str(root), "input_size": 8, "on_corrupt": on_corrupt}}


def test_a_data_error_stores_nothing_and_the_suggested_fix_then_runs(images, tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with pytest.raises(DataError, match="cannot read image .*broken.png.* set dataset.on_corrupt: skip"):
        open_run(_spec(images), console=_quiet(), storage=url)
    assert not (tmp_path / "runs.db").exists()  # not even an empty storage file
    launch = open_run(_spec(images), console=_quiet(), storage=url, overrides=["dataset.on_corrupt=skip"])
    assert launch.spec.dataset.on_corrupt == "skip"


def test_a_study_that_never_ran_takes_the_fixed_spec(images, tmp_path):
    """What an earlier version left behind: the study stored, then the data error."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    open_study(spec_from_data(_spec(images)), url)
    out = io.StringIO()
    launch = open_run(_spec(images, "skip"), console=Console(file=out, soft_wrap=True), storage=url)
    stored = stored_spec(launch.study)
    assert stored.dataset.on_corrupt == "skip" and launch.spec.dataset.on_corrupt == "skip"
    assert "earlier spec replaced: no trial had run" in out.getvalue()
    assert len(optuna.get_all_study_summaries(url)) == 1


def test_a_study_that_ran_still_refuses_another_spec_in_the_callers_words(tmp_path):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    study, _ = open_study(spec_from_data(tiny_spec_data("ran", n_trials=1)), url)
    study.add_trial(optuna.trial.create_trial(values=[0.5, 10.0], params={}, distributions={}))
    changed = tiny_spec_data("ran", n_trials=1) | {"seed": 5}
    with pytest.raises(SpecError, match="different spec \\(seed\\); resume it with --study-name ran and no spec file"):
        open_run(changed, console=_quiet(), storage=url)
    with pytest.raises(SpecError, match=r"resume it with scalesearch.run\(study_name='ran', storage=...\) and no spec") as e:
        open_run(changed, console=_quiet(), storage=url, caller="python")
    assert "--study-name" not in str(e.value)


def test_a_changed_family_builder_is_refused_with_the_cli_flag_named():
    from types import SimpleNamespace

    from scalesearch.search.study.family_code import CODE, check_family_code
    from scalesearch.spaces import register_family, unregister_family

    knobs = {"width_multiplier": {"low": 0.5, "high": 1.0}, "depth_multiplier": {"low": 0.5, "high": 1.0}}
    register_family("launch_fam", description="test", knobs=knobs)(lambda io, **kw: nn.Flatten())
    try:
        spec = spec_from_data(tiny_spec_data("fam") | {"space": {"families": {"launch_fam": {}},
                                                                  "training": {"epochs": 1, "lr": 0.01}}})
        study = SimpleNamespace(study_name="fam", user_attrs={CODE: {"launch_fam": "0" * 64}})
        with pytest.raises(SpecError, match="family launch_fam: its builder's code changed .* --allow-changed-family"):
            check_family_code(study, spec)
        check_family_code(study, spec, allow=True)  # allowed: no error (the run records it)
    finally:
        unregister_family("launch_fam")



#: A notebook's cells: a class and a constant in one, the builder in another (no source file).
NET_CELL = """
from torch import nn
HIDDEN = {hidden}
class Net(nn.Module):
    def __init__(self, io):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(io.in_chans * io.input_size ** 2, HIDDEN))
        self.head = nn.Linear(HIDDEN, io.num_classes)
    def forward(self, x):
        return self.head(self.body(x).{activation}())
"""
BUILDER_CELL = """
def build_net(io, width_multiplier=1.0, depth_multiplier=1.0):
    return Net(io)
"""


@pytest.fixture
def notebook(monkeypatch):
    """``run(cell)`` runs a cell in the notebook's ``__main__``-like module; family ``nb_fam`` is
    registered from its builder cell. Yields ``(run, spec data)``."""
    import sys
    import types

    from scalesearch.spaces import register_family, unregister_family

    module = types.ModuleType("notebook_main")  # no __file__, as in Jupyter
    monkeypatch.setitem(sys.modules, module.__name__, module)

    def run(cell: str) -> None:
        exec(compile(cell, "<cell>", "exec"), module.__dict__)

    run(NET_CELL.format(hidden=16, activation="relu"))
    run(BUILDER_CELL)
    knobs = {"width_multiplier": {"low": 0.5, "high": 1.0}, "depth_multiplier": {"low": 0.5, "high": 1.0}}
    register_family("nb_fam", description="test", knobs=knobs)(module.build_net)
    yield run, tiny_spec_data("nb", n_trials=2) | {"space": {"families": {"nb_fam": {}},
                                                            "training": {"epochs": 1, "lr": 0.01}}}
    unregister_family("nb_fam")


def _ran_once(data: dict, url: str) -> optuna.Study:
    launch = open_run(data, console=_quiet(), storage=url)
    launch.study.add_trial(optuna.trial.create_trial(values=[0.5, 10.0], params={}, distributions={}))
    return launch.study


@pytest.mark.parametrize("edited", [{"hidden": 32, "activation": "relu"},  # a constant: other shapes
                                    {"hidden": 16, "activation": "tanh"}])  # the class's forward only
def test_a_changed_class_or_constant_the_builder_uses_is_refused(notebook, tmp_path, edited):
    """The builder cell is the same; what it builds is not (issue 28, item 3)."""
    from scalesearch.search.study.family_code import CHANGES, CODE

    run, data = notebook
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    first = _ran_once(data, url).user_attrs[CODE]["nb_fam"]
    assert set(first) == {"source", "model", "reference"} and first["reference"]["input_size"] == 8
    run(NET_CELL.format(hidden=16, activation="relu"))  # the same cell re-run: still the same model
    open_run(data, console=_quiet(), storage=url)
    run(NET_CELL.format(**edited))
    with pytest.raises(SpecError, match="family nb_fam: the model its builder builds changed .* "
                                        "--allow-changed-family") as e:
        open_run(data, console=_quiet(), storage=url)
    assert "\n" not in str(e.value)
    resumed = open_run(data, console=_quiet(), storage=url, allow_changed_family=True).study
    (change,) = resumed.user_attrs[CHANGES]
    assert change["from"] == first and change["to"]["model"] != first["model"]


def test_a_study_recorded_with_the_source_only_resumes_and_is_upgraded(notebook, tmp_path):
    from scalesearch.search.study.family_code import CODE
    from scalesearch.spaces.registry import get_family

    _, data = notebook
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    study = _ran_once(data, url)
    study.set_user_attr(CODE, {"nb_fam": get_family("nb_fam").code})  # as an earlier version stored it
    resumed = open_run(data, console=_quiet(), storage=url).study  # no false refusal
    assert set(resumed.user_attrs[CODE]["nb_fam"]) == {"source", "model", "reference"}
