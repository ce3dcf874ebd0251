"""User mistakes, table-driven: each gets one line on stderr saying what was wrong and how to fix
it, exit code 2, no traceback, and nothing written to or changed in any storage.

Each case runs ``scalesearch`` in-process (``cli.main``) in a folder holding a populated SQLite
storage (study ``tiny`` with one complete trial, study ``empty`` with none), a valid spec, and
whatever the case adds. Before/after, every study and trial in the storage is compared, and the
folder's file list too (so no stray database or export file appears).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pytest

from scalesearch import cli
from scalesearch.search.config.spec import spec_from_data
from scalesearch.search.study.study import load_data, open_study, run_study
from scalesearch.search.training.train import TrainResult
from tests.workers_helpers import tiny_spec_data, write_spec


@dataclass(frozen=True)
class Case:
    id: str
    argv: list[str]
    expect: str  # a piece of the one-line message
    files: dict[str, str] = field(default_factory=dict)  # extra files to create first
    patch: Callable[[Any], None] | None = None  # monkeypatch hook


def _spec(**changes: Any) -> str:
    import yaml

    data = tiny_spec_data("fresh")
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return yaml.safe_dump(data)


DB = "sqlite:///store.db"
RUN = ["run", "good.yaml", "--storage", DB]


def _no_cuda(monkeypatch: Any) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def _model_dir(monkeypatch: Any, extra: dict[str, Any] | None = None) -> None:
    """In the case's folder: ``m/`` (model.onnx of an untrained digits resnet + model.yaml), a
    grey digit ``d.png``, and ``extra`` files (name -> bytes, or a PIL image)."""
    from tests.onnx_helpers import write_digit_pngs, write_model_dir

    write_model_dir(Path("m"))
    write_digit_pngs(Path("digits"), 1)[0][0].rename("d.png")
    Path("digits").rmdir()
    for name, content in (extra or {}).items():
        if isinstance(content, bytes):
            Path(name).write_bytes(content)
        else:
            content.save(name)


def _image_folder(monkeypatch: Any, classes: int = 2, corrupt: bool = False) -> None:
    """In the case's folder: ``imgs/<class>/*.png`` digits (4 of each of ``classes``), with a
    broken ``imgs/digit_1/broken.png`` when ``corrupt``; the dataset cache kept inside it."""
    from tests.datasets_helpers import digits_folder

    monkeypatch.setenv("SCALESEARCH_CACHE", str(Path("cache").resolve()))
    digits_folder(Path("imgs"), per_class=4, classes=classes)
    if corrupt:
        Path("imgs/digit_1/broken.png").write_bytes(b"\x89PNG broken")


IMAGES = {"kind": "imagefolder", "root": "imgs", "input_size": 8, "cache": False}


def _colour_png() -> Any:
    from PIL import Image

    return Image.new("RGB", (8, 8), (200, 30, 30))


CASES = [
    # -- the spec file
    Case("missing-spec", ["run", "nosuch.yaml", "--storage", DB], "spec: file not found: nosuch.yaml"),
    Case("unreadable-spec", ["run", "adir", "--storage", DB], "spec: cannot read adir", files={"adir/": ""}),
    Case("invalid-yaml", ["run", "bad.yaml", "--storage", DB], "is not valid YAML at line 2, column 1",
         files={"bad.yaml": "study_name: [unclosed\n"}),
    Case("spec-not-mapping", ["run", "list.yaml", "--storage", DB], "must hold a mapping of keys",
         files={"list.yaml": "- a\n- b\n"}),
    Case("unknown-key", ["run", "s.yaml", "--storage", DB], "budgett: unknown key; known keys: study_name",
         files={"s.yaml": _spec(budgett={"n_trials": 3})}),
    Case("wrong-type", ["run", "s.yaml", "--storage", DB], "budget.n_trials: expected an integer, got 'many'",
         files={"s.yaml": _spec(budget__n_trials="many")}),
    Case("low-above-high", ["run", "s.yaml", "--storage", DB], "space.training.lr: low (0.1) is greater than high (0.01); swap them",
         files={"s.yaml": _spec(space__training__lr={"low": 0.1, "high": 0.01})}),
    Case("empty-choices", ["run", "s.yaml", "--storage", DB], "space.training.batch_size.choices: expected a non-empty list",
         files={"s.yaml": _spec(space__training__batch_size={"choices": []})}),
    Case("unknown-family", ["run", "s.yaml", "--storage", DB], "unknown model family 'vgg'; known families:",
         files={"s.yaml": _spec(space__families={"vgg": {}})}),
    Case("python-data-in-a-file", ["run", "s.yaml", "--storage", DB], "dataset.kind: python is set by scalesearch.run",
         files={"s.yaml": _spec(dataset={"kind": "python"})}),
    Case("unknown-objective", ["run", "s.yaml", "--storage", DB], "objectives[1]: unknown objective 'speed'; choose from",
         files={"s.yaml": _spec(objectives=["accuracy", "speed"])}),
    Case("unknown-sampler", ["run", "s.yaml", "--storage", DB], "sampler.name: unknown sampler 'cmaes2'; choose from",
         files={"s.yaml": _spec(sampler={"name": "cmaes2"})}),
    Case("constraint-unknown-metric", ["run", "s.yaml", "--storage", DB], "unknown metric 'energy' in 'energy <= 3'",
         files={"s.yaml": _spec(constraints=["energy <= 3"])}),
    Case("impossible-constraint", ["run", "s.yaml", "--storage", DB],
         "nothing can satisfy 'accuracy > 1': accuracy always lies in [0, 1]",
         files={"s.yaml": _spec(constraints=["accuracy > 1"])}),
    Case("contradictory-constraints", ["run", "s.yaml", "--storage", DB],
         "nothing can satisfy params <= 1000 and params >= 5000 at once",
         files={"s.yaml": _spec(constraints=["params <= 1000", "params >= 5000"])}),
    Case("grace-not-above-heartbeat", ["run", "s.yaml", "--storage", DB], "workers.grace_seconds: must exceed",
         files={"s.yaml": _spec(workers={"heartbeat_seconds": 10, "grace_seconds": 5})}),
    Case("data-corrupt-image", ["run", "s.yaml", "--storage", DB],
         "dataset: cannot read image imgs/digit_1/broken.png", files={"s.yaml": _spec(dataset=IMAGES)},
         patch=lambda mp: _image_folder(mp, corrupt=True)),
    Case("data-wrong-root", ["run", "s.yaml", "--storage", DB], "dataset.root: nosuch is not a folder",
         files={"s.yaml": _spec(dataset=IMAGES | {"root": "nosuch"})}),
    Case("data-single-class", ["run", "s.yaml", "--storage", DB], "has a single class (digit_0)",
         files={"s.yaml": _spec(dataset=IMAGES)}, patch=lambda mp: _image_folder(mp, classes=1)),
    Case("data-corrupt-image-new-storage", ["run", "s.yaml", "--storage", "sqlite:///new.db"],
         "dataset: cannot read image imgs/digit_1/broken.png", files={"s.yaml": _spec(dataset=IMAGES)},
         patch=lambda mp: _image_folder(mp, corrupt=True)),
    Case("unknown-dataset", [*RUN, "--set", "dataset.kind=cifar"], "dataset.kind: unknown kind 'cifar'; choose from"),
    Case("unknown-space-preset", [*RUN, "--set", "space=nosuch"], "space: unknown space preset 'nosuch'; presets:"),
    # -- --set and budgets
    Case("set-bad-path", [*RUN, "--set", "budget.n_trials.max=3"], "--set budget.n_trials.max: 'n_trials' is not a section"),
    Case("set-unknown-path", [*RUN, "--set", "budget.trials=3"], "budget.trials: unknown key in budget"),
    Case("set-bad-value", [*RUN, "--set", "budget.n_trials=abc"], "budget.n_trials: expected an integer, got 'abc'"),
    Case("set-no-equals", [*RUN, "--set", "seed"], "--set 'seed': expected key.path=value"),
    Case("zero-budget", [*RUN, "--n-trials", "0"], "budget.n_trials: must be positive, got 0"),
    Case("negative-budget", [*RUN, "--n-trials", "-3"], "budget.n_trials: must be positive, got -3"),
    Case("negative-timeout", [*RUN, "--timeout", "-1"], "budget.timeout: must be positive, got -1.0"),
    Case("zero-workers", [*RUN, "--workers", "0"], "--workers: must be 1 or more, got 0"),
    Case("budget-not-a-number", [*RUN, "--n-trials", "abc"], "argument --n-trials: invalid int value: 'abc'"),
    Case("unknown-option", [*RUN, "--n-trail", "3"], "unrecognized arguments: --n-trail 3"),
    # -- devices
    Case("cuda-without-cuda", [*RUN, "--set", "device=cuda"], "device: 'cuda' was requested but CUDA is not available here",
         patch=_no_cuda),
    Case("devices-without-cuda", [*RUN, "--workers", "2", "--devices", "cuda:0,cuda:1"], "CUDA is not available here",
         patch=_no_cuda),
    Case("devices-malformed", [*RUN, "--workers", "2", "--devices", "gpu0"], "--devices: 'gpu0' is not a device"),
    # -- storages and studies
    Case("malformed-storage-url", ["run", "good.yaml", "--storage", "mysql:/x"], "storage: cannot use 'mysql:/x'; use sqlite:///"),
    Case("unreachable-storage", ["run", "good.yaml", "--storage", "postgresql://ss:secret@127.0.0.1:1/db"],
         "storage: cannot open postgresql://ss:***@127.0.0.1:1/db: "),
    Case("storage-folder-missing", ["run", "good.yaml", "--storage", "sqlite:///nodir/s.db"],
         "storage: the folder nodir does not exist; create it or pick another path"),
    Case("storage-not-a-database", ["run", "good.yaml", "--storage", "sqlite:///notes.txt"],
         "storage: notes.txt is not a usable SQLite database", files={"notes.txt": "hello\n"}),
    Case("storage-from-env-malformed", ["run", "good.yaml"], "storage: cannot use 'redis://h'",
         patch=lambda mp: mp.setenv("SCALESEARCH_STORAGE", "redis://h")),
    Case("worker-negative-index", ["worker", "--storage", DB, "--study-name", "tiny", "--index", "-1"],
         "--index: must be 0 or more, got -1"),
    Case("worker-zero-threads", ["worker", "--storage", DB, "--study-name", "tiny", "--threads", "0"],
         "--threads: must be 1 or more, got 0"),
    Case("worker-cuda-without-cuda", ["worker", "--storage", DB, "--study-name", "tiny", "--device", "cuda"],
         "device: 'cuda' was requested but CUDA is not available here", patch=_no_cuda),
    Case("worker-study-not-found", ["worker", "--storage", DB, "--study-name", "nosuch"],
         "study 'nosuch' not found in sqlite:///store.db; give a spec file to create it"),
    Case("worker-storage-not-found", ["worker", "--storage", "sqlite:///other.db", "--study-name", "tiny"],
         "storage: other.db does not exist; check the path"),
    Case("worker-journal-not-found", ["worker", "--storage", "journal:///other.log", "--study-name", "tiny"],
         "storage: /other.log does not exist; check the path"),
    Case("export-study-not-found", ["export", "--storage", DB, "--study-name", "nosuch"],
         "study 'nosuch' not found; studies here: empty, tiny"),
    Case("spec-conflicts-with-stored", ["run", "good.yaml", "--storage", DB, "--study-name", "tiny", "--set", "seed=5"],
         "study 'tiny' already exists with a different spec (seed); resume it with --study-name tiny"),
    Case("set-on-resume-conflicts", ["run", "--storage", DB, "--study-name", "tiny", "--set", "seed=5"],
         "study 'tiny' already exists with a different spec (seed)"),
    Case("set-on-resume-bad-value", ["run", "--storage", DB, "--study-name", "tiny", "--set", "budget.n_trials=0"],
         "budget.n_trials: must be positive, got 0"),
    Case("export-nothing-complete", ["export", "--storage", DB, "--study-name", "empty"],
         "study 'empty' has no complete trial yet; run it first"),
    Case("export-where-matches-nothing", ["export", "--storage", DB, "--study-name", "tiny", "--where", "accuracy>=0.999"],
         "no complete trial satisfies accuracy >= 0.999; relax the filter"),
    Case("export-where-unknown-metric", ["export", "--storage", DB, "--study-name", "tiny", "--where", "speed<3"],
         "--where 'speed<3': unknown metric 'speed'"),
    Case("export-bad-pick", ["export", "--storage", DB, "--study-name", "tiny", "--pick", "best"],
         "--pick 'best': use knee, max:<metric> or min:<metric>"),
    Case("export-pick-unmeasured-metric", ["export", "--storage", DB, "--study-name", "tiny", "--pick", "max:joy",
                                           "--rule", "single"], "max:joy: no Pareto-optimal trial has the metric 'joy'"),
    Case("export-needs-study-name", ["export", "--storage", DB], "--study-name is needed: this storage holds 2 studies"),
    Case("export-unwritable-output", ["export", "--storage", DB, "--study-name", "tiny", "-o", "nodir/best.yaml"],
         "cannot write nodir/best.yaml: No such file or directory; pick a writable path with -o"),
    Case("export-trial-missing", ["export", "--storage", DB, "--study-name", "tiny", "--trial", "99"],
         "--trial 99: trial 99 of study 'tiny' does not exist; export takes a COMPLETE trial"),
    Case("export-bad-rule", ["export", "--storage", DB, "--study-name", "tiny", "--rule", "best"],
         "--rule 'best': choose from lcb, mean, single"),
    Case("export-zero-reeval-seeds", ["export", "--storage", DB, "--study-name", "tiny", "--reeval-seeds", "0"],
         "--reeval-seeds: must be 1 or more, got 0"),
    Case("export-negative-reeval-top", ["export", "--storage", DB, "--study-name", "tiny", "--reeval-top", "-1"],
         "--reeval-top: must be 1 or more, got -1"),
    Case("export-single-with-reeval", ["export", "--storage", DB, "--study-name", "tiny", "--rule", "single",
                                       "--reeval-top", "2"], "--rule single trains nothing"),
    Case("export-single-same-split", ["export", "--storage", DB, "--study-name", "tiny", "--rule", "single",
                                      "--same-split"], "--same-split re-evaluate for --rule lcb or mean"),
    Case("export-reeval-not-a-number", ["export", "--storage", DB, "--study-name", "tiny", "--reeval-seeds", "two"],
         "argument --reeval-seeds: invalid int value: 'two'"),
    Case("final-reeval-negative", [*RUN, "--set", "measure.final_reeval.top=-1"],
         "measure.final_reeval: top must be 0 (off) or more and seeds 1 or more, got top -1, seeds 2"),
    Case("export-output-exists", ["export", "--storage", DB, "--study-name", "tiny", "-o", "good.yaml"],
         "good.yaml already exists; pick another file with -o, or pass --force to overwrite it"),
    Case("train-output-exists", ["train", "good.yaml", "-o", "adir"],
         "adir already exists; pick another folder with -o, or pass --force to overwrite it",
         files={"adir/": "", "adir/model.yaml": "family: resnet\n"}),
    Case("export-model-output-exists", ["export-model", "--storage", DB, "--study-name", "tiny", "--trial", "0",
                                        "-o", "adir"], "adir already exists; pick another folder with -o",
         files={"adir/": "", "adir/model.yaml": "family: resnet\n"}),
    Case("train-missing-export", ["train", "nosuch.yaml"], "export: file not found: nosuch.yaml"),
    Case("train-unknown-fit", ["train", "nosuch.yaml", "--fit", "val"], "--fit 'val': choose train (the search's"),
    Case("train-final-on-train", ["train", "nosuch.yaml", "--final", "--fit", "train"],
         "--final trains on train+val, not train; drop --fit 'train' or --final"),
    Case("train-given-a-model-folder", ["train", "em"], "export: em is a model folder (written by train or "
         "export-model), not an export; pass the YAML that scalesearch export wrote",
         files={"em/": "", "em/model.yaml": "family: resnet\n", "em/model.safetensors": ""}),
    Case("report-study-not-found", ["report", "--storage", DB, "--study-name", "nosuch"],
         "study 'nosuch' not found; studies here: empty, tiny"),
    Case("report-storage-not-found", ["report", "--storage", "sqlite:///other.db", "--study-name", "tiny"],
         "storage: other.db does not exist; check the path"),
    Case("report-nothing-complete", ["report", "--storage", DB, "--study-name", "empty"],
         "study 'empty' has no complete trial yet; figures need one"),
    Case("report-output-is-a-file", ["report", "--storage", DB, "--study-name", "tiny", "-o", "good.yaml"],
         "report: good.yaml is a file; give -o a folder to write the report in"),
    Case("predict-missing-model", ["predict", "nomodel", "good.yaml"],
         "nomodel: no such model folder; create one with scalesearch train EXPORT -o nomodel"),
    Case("predict-not-a-model", ["predict", "adir", "good.yaml"], "adir: no model.yaml or manifest.json",
         files={"adir/": ""}),
    Case("predict-corrupt-card", ["predict", "m", "good.yaml"], "m/model.yaml: cannot be read",
         files={"m/": "", "m/model.yaml": "onnx: [unclosed\n"}),
    Case("predict-card-without-onnx", ["predict", "m", "good.yaml"], "m/model.yaml: no onnx section",
         files={"m/": "", "m/model.yaml": "family: resnet\n"}),
    Case("predict-corrupt-onnx", ["predict", "m", "d.png"], "m/model.onnx: onnxruntime cannot load it",
         patch=lambda mp: _model_dir(mp, {"m/model.onnx": b"not an onnx model"})),
    Case("predict-colour-image-for-grey-model", ["predict", "m", "c.png"],
         "c.png: a colour (RGB) image, but this model takes 1-channel (grey) images",
         patch=lambda mp: _model_dir(mp, {"c.png": _colour_png()})),
    Case("predict-unreadable-image", ["predict", "m", "bad.png"], "bad.png: cannot read this image",
         patch=lambda mp: _model_dir(mp, {"bad.png": b"\x89PNG broken"})),
    Case("predict-missing-image", ["predict", "m", "nosuch.png"], "nosuch.png: no such image file or folder",
         patch=_model_dir),
    Case("predict-top-k-too-many", ["predict", "m", "d.png", "--top-k", "11"],
         "--top-k 11: this model has 10 classes; give 1 to 10", patch=_model_dir),
    Case("predict-unwritable-csv", ["predict", "m", "d.png", "--csv", "nodir/p.csv"],
         "--csv nodir/p.csv: cannot write it", patch=_model_dir),
    Case("deploy-unknown-runtime", ["run", "s.yaml", "--storage", DB],
         "deploy.runtime: 'tflite' is not one of torch, onnxruntime",
         files={"s.yaml": _spec(deploy={"runtime": "tflite"})}),
    Case("deploy-onnxruntime-half", ["run", "s.yaml", "--storage", DB], "'fp16' has no ONNX counterpart",
         files={"s.yaml": _spec(deploy={"runtime": "onnxruntime", "device": "cuda"},
                                space__compression={"quantization": "fp16"})}),
    # -- run --warm-start (search/study/warm_start.py): checked before the new study is created
    Case("warm-start-study-not-found", ["run", "s.yaml", "--storage", DB, "--warm-start", "nosuch"],
         "warm start 'nosuch': study 'nosuch' not found; studies here: empty, tiny", files={"s.yaml": _spec()}),
    Case("warm-start-no-complete-trial", ["run", "s.yaml", "--storage", DB, "--warm-start", "empty"],
         "warm start 'empty': it has no complete trial yet", files={"s.yaml": _spec()}),
    Case("warm-start-other-objectives", ["run", "s.yaml", "--storage", DB, "--warm-start", "tiny"],
         "warm start 'tiny': it optimises accuracy, params, this study accuracy, flops",
         files={"s.yaml": _spec(objectives=["accuracy", "flops"])}),
    Case("warm-start-storage-missing", ["run", "s.yaml", "--storage", DB, "--warm-start", "sqlite:///old.db#tiny"],
         "warm start 'sqlite:///old.db#tiny': storage: old.db does not exist", files={"s.yaml": _spec()}),
    Case("warm-start-malformed", ["run", "s.yaml", "--storage", DB, "--warm-start", "sqlite:///store.db#"],
         "expected STUDY or STORAGE_URL#STUDY", files={"s.yaml": _spec()}),
    Case("warm-start-a-study-that-ran", ["run", "--storage", DB, "--study-name", "tiny", "--warm-start", "tiny"],
         "study 'tiny' has already run 1 trial; a warm start begins a new study"),
    Case("dashboard-port-in-use", ["dashboard", "--storage", DB, "--port", "{port}"], "dashboard: cannot listen on 127.0.0.1:{port}"),
]


def _ok(model, data, cfg, device, on_epoch=None) -> TrainResult:
    return TrainResult(0.9, [0.9], 1, 0.01, 0.1)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A folder with store.db (study tiny: 1 complete trial; study empty: none) and good.yaml."""
    folder = tmp_path_factory.mktemp("template")
    url = f"sqlite:///{folder / 'store.db'}"
    spec = spec_from_data(tiny_spec_data("tiny", n_trials=1))
    study, spec = open_study(spec, url)
    run_study(study, spec, data=load_data(spec.dataset, spec.space.input_size, "cpu"), device="cpu",
              trainer=_ok, storage_url=url)
    open_study(spec_from_data(tiny_spec_data("empty", n_trials=1)), url)
    write_spec(folder / "good.yaml", tiny_spec_data("tiny", n_trials=1))
    return folder


def _dump(folder: Path) -> dict[str, Any]:
    """Everything a mistake must not change: the storage's contents and the folder's files."""
    from scalesearch.search.storage.storage import open_storage

    storage = open_storage(f"sqlite:///{folder / 'store.db'}", create=False)
    studies = {}
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        studies[summary.study_name] = {
            "attrs": json.dumps(study.user_attrs, sort_keys=True, default=str),
            "trials": [(t.number, t.state.name, t.values, t.params, json.dumps(t.user_attrs, sort_keys=True, default=str))
                       for t in study.get_trials(deepcopy=False)],
        }
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                   if not p.name.endswith(("-wal", "-shm", "-journal")))
    return {"studies": studies, "files": files}


def test_there_are_at_least_25_distinct_mistakes():
    assert len({c.id for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_mistake_gets_one_line_exit_2_and_changes_nothing(case, template, tmp_path, monkeypatch, capsys):
    import shutil

    folder = tmp_path / "work"
    shutil.copytree(template, folder)
    for name, text in case.files.items():
        if name.endswith("/"):
            (folder / name).mkdir()
        else:
            (folder / name).write_text(text)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("SCALESEARCH_STORAGE", raising=False)
    if case.patch:
        case.patch(monkeypatch)
    argv, expect = case.argv, case.expect
    busy = None
    if "{port}" in " ".join(argv):
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        argv, expect = [a.replace("{port}", port) for a in argv], expect.replace("{port}", port)
    before = _dump(folder)
    try:
        code = _main(argv)
    finally:
        if busy is not None:
            busy.close()
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and expect in lines[0], lines[0]
    assert "Traceback" not in out + err and "secret" not in out + err
    assert _dump(folder) == before


def _main(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as e:  # argparse exits by itself
        return int(e.code or 0)
