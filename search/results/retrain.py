"""Retrain an exported configuration into a deployable model, and load it back.

The model is trained as the search trained its trials, on the train split (``fit="train"``, the
default: the protocol the export's accuracy interval is stated for), or on train + validation
(``fit="train+val"``: more data, and a test accuracy the interval does not cover; see
``search/results/uncertainty.py``). ``final=True`` (``train --final``) is the recipe for the model
to deploy: train + validation for ``FINAL_EPOCHS_FACTOR`` times the searched epochs (fine-tuning
after pruning scales with them, as in the search). Each epoch is scored on the validation split
(or the test split with ``test_each_epoch``); the test split, which the search never saw, is
read once the model is trained. It is saved as ``model.safetensors`` (weights only) beside
``model.yaml`` (the export plus test results); loading rebuilds the architecture from the YAML
and never unpickles anything. ``model.onnx`` (and ``model.int8.onnx`` for an int8 export) is
written beside them and checked against PyTorch with onnxruntime (``search/results/onnx_model.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scalesearch.errors import ExportError, SpecError, option
from scalesearch.search.compression.artifact import CARD, MANIFEST, WEIGHTS  # noqa: F401  (one model folder format)
from scalesearch.search.config.spec import TrainingSpec, spec_from_data
from scalesearch.search.datasets.spec import DatasetSpec
from scalesearch.search.results.final_recipe import FINAL_EPOCHS_FACTOR, FINAL_FIT
from scalesearch.spaces.space import read_yaml

FITS = ("train", "train+val")  # the splits a retrain trains on (train: the search's protocol)
REQUIRED = ("family", "model", "training", "seed", "dataset", "trainer")


@dataclass(frozen=True)
class RetrainResult:
    test_accuracy: float
    curve: list[float]
    train_seconds: float
    out_dir: Path
    verdict: str = ""  # whether the test accuracy is inside the export's stated interval
    onnx: dict[str, Any] | None = None  # the card's onnx section (search/results/onnx_model.py)
    steps: list[str] = dataclasses.field(default_factory=list)  # trained -> pruned -> fine-tuned -> quantized


def read_export(path: str | Path) -> dict[str, Any]:
    """An export written by ``scalesearch export``, checked for the keys retraining needs; a
    model folder (what ``train`` or ``export-model`` wrote) is refused in one line saying so."""
    if Path(path).is_dir() and any((Path(path) / name).is_file() for name in (CARD, MANIFEST)):
        raise SpecError(f"export: {path} is a model folder (written by train or export-model), not an export; "
                        "pass the YAML that scalesearch export wrote (e.g. best.yaml)")
    return check_export(read_yaml(Path(path), "export"), str(path))


def check_export(data: Any, where: str) -> dict[str, Any]:
    """``data`` if it holds what retraining needs (an export's keys); ``where`` names it in errors."""
    if not isinstance(data, dict):
        raise SpecError(f"export: {where} is not an export file (expected a mapping); create one with scalesearch export")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise SpecError(f"export: {where} lacks {', '.join(missing)}; create it with scalesearch export")
    try:
        DatasetSpec(**data["dataset"])
        TrainingSpec(**data["trainer"])
    except TypeError as e:
        raise SpecError(f"export: {where} has an unexpected dataset/trainer section ({e})") from None
    return data


def check_fit(fit: str, caller: str = "cli") -> None:
    """A one-line SpecError, in the ``caller``'s words, unless ``fit`` names the splits a retrain may train on."""
    if fit not in FITS:
        raise SpecError(f"{option(caller, '--fit', 'fit', fit)}: choose train (the search's protocol, which the export's interval states) "
                        "or train+val (more data; the interval does not cover it)")


def check_recipe(fit: str | None, final: bool, caller: str = "cli") -> None:
    """A one-line SpecError, in the ``caller``'s words, unless ``fit`` (None: the default) names
    the splits a retrain may train on and agrees with ``final``."""
    if fit is not None:
        check_fit(fit, caller)
    if final and fit not in (None, FINAL_FIT):
        final_option = option(caller, "--final", "final=True")
        raise SpecError(f"{final_option} trains on {FINAL_FIT}, not {fit}; drop {option(caller, '--fit', 'fit', fit)} "
                        f"or {final_option}")


def searched_epochs(export: dict[str, Any]) -> int:
    """The epochs the search trained the exported config for (the trainer's default when the
    space left them out)."""
    from scalesearch.search.training.train import TrainConfig

    return int(export["training"].get("epochs", TrainConfig.epochs))


def plan(export: dict[str, Any], fit: str | None, epochs: int | None, final: bool,
         caller: str = "cli") -> tuple[str, int]:
    """``(fit, epochs)`` a retrain uses: the search's protocol (train split, the exported epochs)
    unless ``fit``/``epochs`` say otherwise; ``final``: train + validation for
    ``FINAL_EPOCHS_FACTOR`` x the exported epochs (``epochs`` still overrides the count). A
    ``final`` retrain asked to fit the train split alone is refused in one line."""
    check_recipe(fit, final, caller)
    searched = searched_epochs(export)
    if final:
        return FINAL_FIT, epochs or FINAL_EPOCHS_FACTOR * searched
    return fit or "train", epochs or searched


def epoch_split(fit: str, test_each_epoch: bool) -> str:
    """How a retrain's per-epoch accuracy is labelled: which split scored it."""
    if test_each_epoch:
        return "test acc"
    return "val acc" if fit == "train" else "val acc (trained on)"


def check_output(out: Path, force: bool) -> None:
    """A one-line ExportError when ``out`` (a folder to write a model in) already holds
    something and ``force`` is not given: nothing is overwritten unasked."""
    if out.exists() and not force and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} already exists; pick another folder with -o, or pass --force to overwrite it")


def retrain(export: dict[str, Any], out_dir: str | Path, *, device: str = "auto", threads: int | None = None,
            epochs: int | None = None, on_epoch: Callable[[Any], None] | None = None,
            fit: str | None = None, test_each_epoch: bool = False, force: bool = True,
            caller: str = "cli", final: bool = False) -> RetrainResult:
    """Train the exported config on ``fit`` (``train``, the default, or ``train+val``) for
    ``epochs`` (default: the exported count), or with ``final`` the final recipe (:func:`plan`),
    compress it as the export says, report test accuracy after each step (``RetrainResult.steps``), save weights +
    card. Each epoch is scored on the validation split (part of the training data under
    ``train+val``), or on the test split with ``test_each_epoch``; the test split is otherwise
    read once the model is trained. ``force`` False refuses an ``out_dir`` that holds anything.
    Errors name the ``caller``'s flags or arguments (``cli`` or ``python``)."""
    from scalesearch.search.compression.artifact import compress_retrained, write_weights
    from scalesearch.search.results.onnx_model import write_onnx
    from scalesearch.search.runtime.device import resolve_device, set_threads
    from scalesearch.search.study.study import load_data
    from scalesearch.search.training.models import build_model
    from scalesearch.search.training.train import TrainConfig, evaluate, train

    fit, epochs = plan(export, fit, epochs, final, caller)
    out = Path(out_dir)
    check_output(out, force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExportError(f"cannot create {out}: {e.strerror or e}; pick a writable folder for "
                          f"{option(caller, '-o', 'out_dir')}") from None
    device = resolve_device(device)
    if device == "cpu":
        set_threads(threads)
    dataset = spec_from_data({"dataset": export["dataset"]}).dataset
    data = load_data(dataset, dataset.input_size, device, split=export.get("split"))
    full = dataclasses.replace(data, train=data.train + data.val if fit == "train+val" else data.train, val=data.test)
    training = dict(export["training"]) | {"epochs": epochs}
    cfg = TrainConfig(**training, **export["trainer"], seed=export["seed"])
    model = build_model({"family": export["family"], "model": export["model"], "seed": export["seed"]}, full)
    per_epoch = full if test_each_epoch else dataclasses.replace(full, val=data.val)
    result = train(model, per_epoch, cfg, device, on_epoch)
    trained_accuracy = result.val_accuracy if test_each_epoch else evaluate(model, full.test, device, cfg)
    steps = [f"trained {len(result.curve)} epochs on {fit} ({len(full.train)} images): test {trained_accuracy:.4f}"]
    compressed = compress_retrained(model, full, export, cfg, device)  # None without compression
    if compressed:
        steps += compression_steps(export, compressed[0].record, compressed[1])
    write_weights(out, compressed[0].quant_state if compressed else model.state_dict())
    card = dict(export) | {
        "training": training,
        "io": {"num_classes": full.num_classes, "in_chans": full.in_chans, "input_size": full.input_size},
        "retrain": {"test_accuracy": trained_accuracy, "epoch_curve": result.curve,
                    "epoch_curve_split": "test" if test_each_epoch else "val", "steps": steps,
                    "train_seconds": result.train_seconds, "device": device,
                    "fit": fit, "recipe": "final" if final else "search",
                    "train_samples": len(full.train), "test_samples": len(full.test)},
    }
    if compressed:  # test accuracy of the compressed model; the pruning history rebuilds its shapes
        card["retrain"] |= {"test_accuracy": compressed[1], "test_accuracy_uncompressed": trained_accuracy}
        card["pruning_history"] = compressed[0].history
    verdict = _interval_verdict(export, card["retrain"]["test_accuracy"], epochs, fit, caller, final)
    if verdict:
        card["retrain"] |= {"inside_interval": verdict[0], "interval_verdict": verdict[1]}
    card["onnx"] = write_onnx(compressed[0].float_model if compressed else model, full, out,
                              (export.get("compression") or {}).get("quantization", "none"),
                              (export.get("deploy") or {}).get("calibration_samples", 512),
                              grey_from_colour=export["dataset"].get("in_chans") == 1)
    (out / CARD).write_text(yaml.safe_dump(card, sort_keys=False))
    return RetrainResult(card["retrain"]["test_accuracy"], result.curve, result.train_seconds, out,
                         verdict[1] if verdict else "", card["onnx"], steps)


def compression_steps(export: dict[str, Any], record: dict[str, Any], deployed: float) -> list[str]:
    """What each compression step did to the test accuracy, in order (``compress``'s record was
    scored on the test split in a retrain)."""
    from scalesearch.search.compression.compress import CompressionConfig

    cc = CompressionConfig.from_data(export.get("compression"))
    steps = []
    if "accuracy_after_pruning" in record:
        what = " and ".join(part for part in (f"{cc.pruning_ratio:.0%} of channels" if cc.pruning_ratio else "",
                                              f"{cc.sparsity:.0%} of weights zeroed" if cc.sparsity else "") if part)
        steps.append(f"pruned {what}: test {record['accuracy_before_finetune']:.4f}")
        if record.get("finetune_epochs"):
            steps.append(f"fine-tuned {record['finetune_epochs']} epochs: test {record['accuracy_after_finetune']:.4f}")
    if cc.quantization != "none":
        steps.append(f"quantized {cc.quantization}: test {deployed:.4f}")
    return steps


def _interval_verdict(export: dict[str, Any], test_accuracy: float, epochs: int, fit: str,
                      caller: str = "cli", final: bool = False) -> tuple[bool, str] | None:
    """``(inside, line)`` for an export that states its accuracy's interval (search/results/uncertainty.py);
    a ``final`` retrain gets one clause saying the interval states the search's protocol."""
    from scalesearch.search.results.uncertainty import verdict

    if "uncertainty" not in export:
        return None
    searched = searched_epochs(export)
    # verdict's train+val clause points at --fit train, which --final refuses: a final retrain says its own
    inside, line = verdict(test_accuracy, export["uncertainty"], "train" if final else fit, caller)
    if final:
        line += (f"; the interval states the search's protocol (the train split, {searched} epochs), "
                 f"{option(caller, '--final', 'final=True')} trained on {fit} for {epochs}, which usually lifts "
                 "test accuracy by an amount the search did not measure")
    elif epochs != searched:
        line += f"; the interval is for {searched} epochs, not the {epochs} trained here"
    return inside, line


def load_model(model_dir: str | Path) -> Any:
    """The model saved in ``model_dir`` by ``train`` or ``export-model`` (``model.yaml`` +
    ``model.safetensors``), rebuilt in eval mode; nothing is unpickled."""
    from scalesearch.search.compression.artifact import load

    return load(model_dir)[0]
