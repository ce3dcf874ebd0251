"""The Python API end to end on tiny data: a family registered in code, data in memory, then
run, resume, export, train, load_model and report; mistakes raise typed errors, never SystemExit."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import optuna
import pytest
import torch
import yaml
from torch import nn

import scalesearch
from scalesearch.errors import (
    DataError,
    ExportError,
    FamilyError,
    ReportError,
    ScalesearchError,
    SpecError,
    StorageError,
)
from scalesearch.search.config import attrs, system_attrs
from scalesearch.search.study.study import count_finished
from scalesearch.spaces import ModelInput, register_family, unregister_family

KNOBS = {"width_multiplier": {"low": 0.25, "high": 2.0}, "depth_multiplier": {"low": 0.5, "high": 2.0}}


def build_api_mlp(io: ModelInput, width_multiplier: float = 1.0, depth_multiplier: float = 1.0) -> nn.Module:
    width, depth = max(4, round(32 * width_multiplier)), max(1, round(2 * depth_multiplier))
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(io.in_chans * io.input_size ** 2, width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, io.num_classes))


def data(seed: int = 0, n: int = 120):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    return torch.randn(n, 1, 8, 8, generator=g) * 0.5 + y.view(-1, 1, 1, 1), y


def spec(name: str = "api", family: str = "api_mlp", n_trials: int = 2) -> dict:
    return {
        "study_name": name,
        "space": {"families": {family: {"width_multiplier": {"low": 0.25, "high": 0.5},
                                        "depth_multiplier": {"choices": [0.5, 1.0]}}},
                  "training": {"epochs": 1, "batch_size": 32, "lr": 0.01}},
        "budget": {"n_trials": n_trials},
        "measure": {"latency_repeats": 2, "latency_warmup": 1},
    }


@pytest.fixture(scope="module")
def family():
    register_family("api_mlp", description="an MLP registered by tests/test_api.py", knobs=KNOBS)(build_api_mlp)
    yield "api_mlp"
    unregister_family("api_mlp")


@pytest.fixture(scope="module")
def ran(family, tmp_path_factory):
    """One real 2-trial study over the test family on in-memory tensors (shared, read-only)."""
    folder = tmp_path_factory.mktemp("api")
    url = f"sqlite:///{folder / 'runs.db'}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        study = scalesearch.run(spec(), storage=url, data=data())
    return study, url, out.getvalue()


def test_import_is_light_and_exports_only_the_api():
    code = "import sys, scalesearch; print(sorted(scalesearch.__all__), any(m in sys.modules for m in ('torch', 'optuna', 'rich')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("] ")[1].strip() == "False"
    assert out.startswith("['__version__', 'export', 'load_model', 'load_study', 'report', 'run', 'train']")


def test_run_returns_the_study_and_records_where_the_data_came_from(ran):
    study, url, out = ran
    assert isinstance(study, optuna.Study) and count_finished(study) == 2
    stored = system_attrs.study_data(study, attrs.SPEC)["dataset"]
    assert stored["kind"] == "python" and len(stored["fingerprint"]) == 64
    assert study.user_attrs[attrs.SPLIT]["samples"] == 120  # split recorded like any kind
    # progress without a TTY; the state word is padded to the longest one ('stopped early')
    assert re.search(r"\[1/2\] trial 0 complete +api_mlp", out) and "Pareto front of api" in out
    assert "2/2 trials finished" in out and "budget reached" in out


def test_run_resumes_to_a_larger_budget_with_the_same_data(ran, tmp_path):
    import sqlite3

    study, url, _ = ran
    copy = tmp_path / "runs.db"
    with sqlite3.connect(url.removeprefix("sqlite:///")) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # WAL included
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        resumed = scalesearch.run(spec(), storage=f"sqlite:///{copy}", data=data(), n_trials=3)
    assert count_finished(resumed) == 3 and "2/3 trials finished" in out.getvalue()
    with pytest.raises(DataError, match="not the data study 'api' ran on; pass the same x, y or Dataset"):
        scalesearch.run(spec(), storage=f"sqlite:///{copy}", data=data(seed=1))
    with pytest.raises(DataError, match=r"ran on data given in Python \(data=\); pass data= ") as e:
        scalesearch.run(spec(), storage=f"sqlite:///{copy}")  # resumed, but data= forgotten
    assert "fingerprint" not in str(e.value) and "--study-name" not in str(e.value)


def test_export_train_load_model_and_report(ran, tmp_path):
    study, _, _ = ran
    best = scalesearch.export(study, path=tmp_path / "best.yaml")  # the CLI's default: knee, rule lcb
    assert best["family"] == "api_mlp" and best["dataset"]["kind"] == "python"
    provenance = best["provenance"]
    assert provenance["rule"] == "lcb" and "uncertainty" in best
    # The default budget (a quarter of the trials' time) cuts the re-evaluation to the pick alone
    # with the fewest seeds that measure a spread on fresh partitions: 1 trial x 2 seeds.
    assert (provenance["reevaluated"], provenance["reeval_seeds"], provenance["trainings"]) == ([provenance["trial"]], 2, 2)
    assert (tmp_path / "best.yaml").exists() and best["provenance"]["storage"].startswith("sqlite:///")
    single = scalesearch.export(study, pick="max:accuracy", rule="single")
    assert single["provenance"]["rule"] == "single" and single["provenance"]["trainings"] == 0
    result = scalesearch.train(best, tmp_path / "model")
    card = yaml.safe_load((tmp_path / "model" / "model.yaml").read_text())["retrain"]
    assert result.test_accuracy == card["test_accuracy"] and len(result.curve) == 1 == len(card["epoch_curve"])
    assert card["epoch_curve_split"] == "val" and result.steps[0].startswith("trained 1 epochs on train")
    model = scalesearch.load_model(tmp_path / "model")
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 3)
    test = _test_split(best)  # the study's recorded split, prepared as the retrain prepares it
    with torch.no_grad():
        correct = int((model(test.x).argmax(1) == test.y).sum())
    assert card["test_samples"] == len(test) == 24 and result.test_accuracy == correct / 24
    report = scalesearch.report(study, tmp_path / "report", png=False)
    assert report.path.exists() and "api_mlp" in report.path.read_text()


def _test_split(export: dict):
    from scalesearch.search.config.spec import spec_from_data
    from scalesearch.search.study.study import load_data

    dataset = spec_from_data({"dataset": export["dataset"]}).dataset
    return load_data(dataset, dataset.input_size, "cpu", split=export["split"]).test


def test_a_study_run_earlier_loads_for_export_and_report(ran, tmp_path):
    """A later session opens the study by name; a plain optuna.load_study is refused in one line."""
    study, url, _ = ran
    again = scalesearch.load_study(study.study_name, url)
    assert len(again.trials) == len(study.trials)
    assert scalesearch.export(again, pick="max:accuracy", rule="single")["provenance"]["storage"] == url
    with pytest.raises(StorageError, match="studies here: " + study.study_name):
        scalesearch.load_study("nope", url)
    with pytest.raises(TypeError, match="scalesearch.load_study"):
        scalesearch.export(optuna.load_study(study_name=study.study_name, storage=url), rule="single")


def test_train_refuses_other_data(ran, tmp_path):
    best = scalesearch.export(ran[0], rule="single")
    with pytest.raises(DataError, match="not the data the study ran on"):
        scalesearch.train(best, tmp_path / "model", data=data(seed=3))


def test_another_process_refuses_python_data_in_one_line(tmp_path):
    """A study over a built-in family on data from Python: ``scalesearch worker`` cannot see it."""
    from rich.console import Console

    from scalesearch.search.study.launch import open_run
    from scalesearch.search.study.study import load_study

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    created = spec("elsewhere", "resnet", n_trials=1)
    created["space"]["families"]["resnet"] = {"width_multiplier": 0.0625, "depth_multiplier": 0.5}
    with contextlib.redirect_stdout(io.StringIO()):
        open_run(created, console=Console(file=io.StringIO()), storage=url, data=data())  # creates it, runs nothing
    worker = subprocess.run([sys.executable, "-m", "scalesearch.cli", "worker", "--storage", url,
                             "--study-name", "elsewhere"], capture_output=True, text=True)
    assert worker.returncode == 2 and worker.stderr.count("\n") == 1, worker.stderr
    assert "this study's data came from Python" in worker.stderr
    assert not load_study(optuna.storages.RDBStorage(url), "elsewhere").trials  # nothing ran, nothing changed


MISTAKES = [
    (lambda url: scalesearch.run(spec(), storage=url, data=(torch.rand(10, 1, 8, 8), torch.arange(9) % 2)),
     DataError, "x has 10 samples but y has 9 labels"),
    (lambda url: scalesearch.run(spec(family="api_wrong_head"), storage=url, data=data()),
     FamilyError, r"api_wrong_head: its model's output is \(2, 5\) .* must be \(batch, num_classes\) = \(2, 3\)"),
    (lambda url: scalesearch.run(spec(), storage=url, data=data(), workers=2),
     SpecError, "data given in Python .* run it with workers=1"),
    (lambda url: scalesearch.run(spec() | {"dataset": {"kind": "synthetic"}}, storage=url, workers=2),
     SpecError, "family api_mlp is registered in this process only"),
    (lambda url: scalesearch.run(spec() | {"objectives": ["speed"]}, storage=url, data=data()),
     SpecError, "unknown objective 'speed'"),
    (lambda url: scalesearch.run(spec(family="no_such_family"), storage=url),
     SpecError, "unknown model family 'no_such_family'"),
    (lambda url: scalesearch.run(spec(), storage=url, overrides={"budget.n_trials": 0}, data=data()),
     SpecError, "budget.n_trials: must be positive"),
    (lambda url: scalesearch.run(spec() | {"dataset": {"kind": "imagefolder", "root": "/x"}}, storage=url,
                                 data=data()),
     SpecError, "the spec already names its data"),
]


# The Python API's mistakes in its own words: each names the argument and no CLI flag, while its
# twin in the CLI's table (tests/test_bad_input.py, by case id) names the flag.
# (id, call(study, fresh storage url, tmp_path), error, message, CLI twin, the flag it names)
WORDS = [
    ("pick", lambda s, url, tmp: scalesearch.export(s, pick="best"), SpecError,
     "pick='best': use knee, max:<metric> or min:<metric>", "export-bad-pick", "--pick"),
    ("pick-metric", lambda s, url, tmp: scalesearch.export(s, pick="max:joy", rule="single"), ExportError,
     "max:joy: no Pareto-optimal trial has the metric 'joy'", "export-pick-unmeasured-metric", "max:joy"),
    ("rule", lambda s, url, tmp: scalesearch.export(s, rule="best"), SpecError,
     "rule='best': choose from lcb, mean, single", "export-bad-rule", "--rule"),
    ("seeds", lambda s, url, tmp: scalesearch.export(s, seeds=0), SpecError,
     "seeds: must be 1 or more, got 0", "export-zero-reeval-seeds", "--reeval-seeds"),
    ("top-with-rule-single", lambda s, url, tmp: scalesearch.export(s, rule="single", top=2), SpecError,
     "seeds/top/same_split re-evaluate for rule lcb or mean; rule single trains nothing",
     "export-single-with-reeval", "--rule"),
    ("trial", lambda s, url, tmp: scalesearch.export(s, trial=99), ExportError,
     "trial=99: trial 99 of study 'api' does not exist", "export-trial-missing", "--trial"),
    ("where", lambda s, url, tmp: scalesearch.export(s, where="speed<3"), SpecError,
     "where='speed<3': unknown metric 'speed'", "export-where-unknown-metric", "--where"),
    ("path", lambda s, url, tmp: scalesearch.export(s, path=tmp / "nodir" / "best.yaml"), ExportError,
     "best.yaml: No such file or directory; pass a writable path=", "export-unwritable-output", "-o"),
    ("fit", lambda s, url, tmp: scalesearch.train(scalesearch.export(s, rule="single"), tmp / "m", fit="val"),
     SpecError, "fit='val': choose train", "train-unknown-fit", "--fit"),
    ("final", lambda s, url, tmp: scalesearch.train(scalesearch.export(s, rule="single"), tmp / "m", fit="train",
                                                    final=True),
     SpecError, "final=True trains on train+val, not train; drop fit='train' or final=True", "train-final-on-train",
     "--final"),
    ("report-out-dir", lambda s, url, tmp: scalesearch.report(s, _file(tmp / "r.txt"), png=False), ReportError,
     "r.txt is a file; give out_dir a folder", "report-output-is-a-file", "-o"),
    ("workers", lambda s, url, tmp: scalesearch.run(spec("w"), storage=url, data=data(), workers=0), SpecError,
     "workers: must be 1 or more, got 0", "zero-workers", "--workers"),
    ("overrides", lambda s, url, tmp: scalesearch.run(spec("o"), storage=url, data=data(), overrides=["seed"]),
     SpecError, "overrides 'seed': expected key.path=value, e.g. overrides={'budget.n_trials': 10}",
     "set-no-equals", "--set"),
]


def _file(path):
    path.write_text("")
    return path


@pytest.mark.parametrize("case", WORDS, ids=[w[0] for w in WORDS])
def test_a_python_mistake_names_the_argument_the_cli_the_flag(ran, case, tmp_path):
    import re

    from tests.test_bad_input import CASES

    _, call, error, message, twin, flag = case
    with pytest.raises(error, match=re.escape(message)) as info, contextlib.redirect_stdout(io.StringIO()):
        call(ran[0], f"sqlite:///{tmp_path / 'runs.db'}", tmp_path)
    text = str(info.value)
    assert "\n" not in text and not re.search(r"(^|[\s(])--?[a-z]", text), text  # no --flag, no -o
    assert not (tmp_path / "runs.db").exists() and not (tmp_path / "m").exists()
    (cli_case,) = [c for c in CASES if c.id == twin]
    assert re.search(rf"(^|\s){flag}\b", cli_case.expect), cli_case.expect


def test_export_says_what_it_costs_and_why_its_pick_is_off_the_front(ran, monkeypatch):
    """What the CLI prints before and after the re-evaluation reaches a Python caller too."""
    from scalesearch.search.results import selection

    line = "trial 0 is not on the Pareto front run printed (stored single scores; ...)"
    monkeypatch.setattr(selection, "off_front_text", lambda *args: line)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        best = scalesearch.export(ran[0])
    plan = next(t for t in out.getvalue().splitlines() if t.startswith("re-evaluating the top"))
    assert "--" not in plan and line in out.getvalue() and best["provenance"]["off_front"] == line


def test_load_study_prints_nothing_of_optunas(ran):
    """A later session's first call: Optuna's experimental-API notice for heartbeats is not shown."""
    code = f"import scalesearch; scalesearch.load_study('api', {ran[1]!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == done.stderr == ""


def test_a_data_error_from_python_stores_nothing(family, tmp_path, monkeypatch):
    """docs/python.md: "before anything is stored" -- a corrupt image included."""
    from tests.datasets_helpers import digits_folder

    monkeypatch.setenv("SCALESEARCH_CACHE", str(tmp_path / "cache"))
    root = digits_folder(tmp_path / "imgs", per_class=6, classes=2)
    (root / "digit_0" / "bad.png").write_bytes(b"not a png")
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with pytest.raises(DataError, match="cannot read image"):
        scalesearch.run(spec() | {"dataset": {"kind": "imagefolder", "root": str(root)}}, storage=url)
    assert not (tmp_path / "runs.db").exists()


@pytest.mark.parametrize("call,error,message", MISTAKES, ids=[m[2][:28] for m in MISTAKES])
def test_mistakes_raise_typed_errors_before_anything_is_stored(family, call, error, message, tmp_path):
    register_family("api_wrong_head", description="5 outputs whatever the classes", knobs=KNOBS)(
        lambda io, width_multiplier=1.0, depth_multiplier=1.0: nn.Sequential(nn.Flatten(), nn.LazyLinear(5)))
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    try:
        with pytest.raises(error, match=message) as info:
            call(url)
    finally:
        unregister_family("api_wrong_head")
    assert isinstance(info.value, ScalesearchError) and "\n" not in str(info.value)
    stored = optuna.get_all_study_summaries(url) if (tmp_path / "runs.db").exists() else []
    assert stored == []


def test_overrides_as_a_dict_or_strings_and_a_stored_spec(ran):
    from scalesearch.api import _overrides

    assert _overrides({"space.training.epochs": 3, "space": "small_cnn"}) == ["space.training.epochs=3",
                                                                               'space="small_cnn"']
    assert _overrides("budget.n_trials=4") == ["budget.n_trials=4"]
    study, url, _ = ran
    with pytest.raises(DataError, match="came from Python"):  # resuming by name needs the data again
        python_data_forgotten(lambda: scalesearch.run(storage=url, study_name="api"))


def python_data_forgotten(call):
    """Run ``call`` as if this process had never been given any data."""
    from scalesearch.search.datasets import python_data

    held = dict(python_data._SOURCES)
    python_data._SOURCES.clear()
    try:
        return call()
    finally:
        python_data._SOURCES.update(held)


def test_in_jupyter_progress_is_cell_output_not_terminal_codes(family, tmp_path, monkeypatch, capsys):
    """rich renders to Jupyter through IPython's display(); run must not assume a terminal there."""
    import builtins
    import types

    shown = []
    shell = type("ZMQInteractiveShell", (), {})()  # what rich looks for to detect a notebook kernel
    display = types.ModuleType("IPython.display")
    display.display = lambda obj, **kw: shown.append(obj.text)
    monkeypatch.setattr(builtins, "get_ipython", lambda: shell, raising=False)
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    scalesearch.run(spec("jupyter", n_trials=1), storage=f"sqlite:///{tmp_path / 'runs.db'}", data=data())
    text = re.sub(r"\x1b\[[0-9;]*m", "", "".join(shown))  # display()'s text/plain part keeps styles
    assert "study jupyter in sqlite" in text and re.search(r"\[1/1\] trial 0 complete +api_mlp", text)
    assert "Pareto front of jupyter" in text and "1/1 trials finished" in text
    out = capsys.readouterr().out
    assert "trial 0" not in out and "\x1b[" not in out  # nothing written past the notebook's display


def test_a_resume_with_a_changed_builder_is_refused_or_allowed_and_recorded(family, tmp_path):
    """The documented notebook re-run: the same family name, another builder."""
    from scalesearch.search.study.family_code import CHANGES, CODE

    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with contextlib.redirect_stdout(io.StringIO()):
        study = scalesearch.run(spec("changed", n_trials=1), storage=url, data=data())
    first = study.user_attrs[CODE]["api_mlp"]

    def build_api_mlp(io: ModelInput, width_multiplier: float = 1.0, depth_multiplier: float = 1.0) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(io.in_chans * io.input_size ** 2, io.num_classes))

    build_api_mlp.__qualname__ = "build_api_mlp"  # as the notebook cell, edited and re-run, defines it
    register_family("api_mlp", description="changed", knobs=KNOBS)(build_api_mlp)
    try:
        with pytest.raises(SpecError, match="family api_mlp: its builder's code changed .* allow_changed_family=True"):
            scalesearch.run(spec("changed", n_trials=2), storage=url, data=data())
        assert count_finished(scalesearch.load_study("changed", url)) == 1
        with contextlib.redirect_stdout(io.StringIO()):
            resumed = scalesearch.run(spec("changed", n_trials=2), storage=url, data=data(), allow_changed_family=True)
    finally:
        unregister_family("api_mlp")
        register_family("api_mlp", description="an MLP registered by tests/test_api.py", knobs=KNOBS)(
            globals()["build_api_mlp"])
    (change,) = resumed.user_attrs[CHANGES]
    assert change["family"] == "api_mlp" and change["from"] == first and change["trials_before"] == 1
    assert resumed.user_attrs[CODE]["api_mlp"] == change["to"] != first
