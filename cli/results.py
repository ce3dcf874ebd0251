"""``export``, ``export-model``, ``train`` and ``stability``: from a study's front to a model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scalesearch.cli import common


def cmd_export(args: argparse.Namespace) -> int:
    from scalesearch.search.results.export import check_writable, export_data, write_yaml
    from scalesearch.search.results.final_recipe import FINAL_EPOCHS_FACTOR
    from scalesearch.search.results.report import study_left_off
    from scalesearch.search.results.selection import check_rule, select
    from scalesearch.search.storage.storage import open_storage, resolve_url
    from scalesearch.search.study.study import load_study, stored_spec

    common.quiet_optuna()
    seeds, top = check_rule(args.rule, args.reeval_seeds, args.reeval_top, args.same_split)
    check_writable(args.output, force=args.force)  # before any training is spent
    url = resolve_url(args.storage)
    storage = open_storage(url, create=False)
    study = load_study(storage, common.pick_study_name(storage, args.study_name))
    spec = stored_spec(study)
    console = common.console()

    def on_training(trial: int, seed: int) -> None:
        console.print(f"re-evaluating trial {trial} with seed {seed}", highlight=False)

    def on_plan(line: str) -> None:
        console.print(line, highlight=False)

    chosen = select(study, spec, args.pick, args.where, rule=args.rule, seeds=args.reeval_seeds,
                    top=args.reeval_top, device=args.device, on_training=on_training, trial=args.trial,
                    resplit=not args.same_split, on_plan=on_plan)
    trial, est = chosen.trial, chosen.estimate
    pick = args.pick if args.trial is None else f"trial:{args.trial}"
    data = export_data(study, spec, trial, storage_url=url, pick=pick, where=args.where,
                       uncertainty=est.to_data(), selection=chosen.provenance(seeds, top))
    path = write_yaml(data, args.output)
    shown = ", ".join(f"{k}={v:.4g}" for k, v in data["metrics"].items() if k in spec.objectives)
    for line in (*study_left_off(study, spec), chosen.set_aside, chosen.off_front):
        if line:
            print(line)
    print(f"exported trial {trial.number} ({data['family']}; {shown}) to {path}")
    where = "the study's split" if args.same_split else "fresh train/validation partitions"
    how = (f"rule {args.rule}: top {len(chosen.reevaluated)} re-evaluated on {where}, "
           f"{chosen.trainings} trainings run" if chosen.rule != "single" else "rule single: its one stored score")
    low, high = est.test
    print(f"accuracy {est.accuracy:.4f} over {len(est.accuracies)} seed{'s' if len(est.accuracies) != 1 else ''}; "
          f"train should report a test accuracy in [{low:.4f}, {high:.4f}] ({round(100 * est.confidence)} %) ({how})")
    print(f"next: scalesearch train {path} -o model/   (add --final for the model to deploy: train+val, "
          f"{FINAL_EPOCHS_FACTOR}x the epochs)")
    return 0


def cmd_export_model(args: argparse.Namespace) -> int:
    from scalesearch.search.compression import artifact
    from scalesearch.search.results.onnx_model import describe
    from scalesearch.search.results.reproduce import export_trial
    from scalesearch.search.results.retrain import check_output
    from scalesearch.search.storage.storage import open_storage, resolve_url
    from scalesearch.search.study.study import load_study

    common.quiet_optuna()
    check_output(Path(args.output), args.force)
    url = resolve_url(args.storage)
    storage = open_storage(url, create=False)
    study = load_study(storage, common.pick_study_name(storage, args.study_name))
    path = export_trial(study, args.trial, args.output, device=args.device, storage_url=url)
    print(f"re-ran trial {args.trial} of {study.study_name} and saved its deployed model to {path} "
          "(model.yaml + model.safetensors + model.onnx, as train writes)")
    for line in describe(artifact.read_card(path).get("onnx") or {}):
        print(line)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from scalesearch.search.results.onnx_model import describe
    from scalesearch.search.results.retrain import (
        check_output,
        check_recipe,
        epoch_split,
        plan,
        read_export,
        retrain,
    )

    check_recipe(args.fit, args.final)
    check_output(Path(args.output), args.force)  # before anything is trained
    export = read_export(args.export)
    fit, epochs = plan(export, args.fit, args.epochs, args.final)
    console = common.console()

    split = epoch_split(fit, args.test_each_epoch)

    def on_epoch(report: Any) -> None:
        console.print(f"epoch {report.epoch}/{epochs}  loss {report.train_loss:.3f}  {split} {report.val_accuracy:.4f}")

    result = retrain(export, args.output, device=args.device, threads=args.threads, epochs=epochs,
                     on_epoch=on_epoch, fit=fit, test_each_epoch=args.test_each_epoch, force=args.force,
                     final=args.final)
    console.print(" -> ".join(result.steps), highlight=False)
    console.print(f"test accuracy {result.test_accuracy:.4f} (the model as saved) after {result.train_seconds:.1f}s of "
                  f"training; saved {result.out_dir}/model.safetensors and model.yaml")
    if result.verdict:
        console.print(result.verdict, highlight=False)
    for line in describe(result.onnx or {}):
        console.print(line, highlight=False)
    console.print(f"next: scalesearch predict {result.out_dir} IMAGES_OR_FOLDER")
    return 0


def cmd_stability(args: argparse.Namespace) -> int:
    from scalesearch.search.results.stability import measure_stability, stored_stability
    from scalesearch.search.storage.storage import open_storage, resolve_url
    from scalesearch.search.study.study import load_study, stored_spec

    common.quiet_optuna()
    storage = open_storage(resolve_url(args.storage), create=False)
    study = load_study(storage, common.pick_study_name(storage, args.study_name))
    spec = stored_spec(study)
    measure_stability(study, spec, runs=args.runs, device=args.device, remeasure=args.remeasure)
    rows = [{"trial": n, "accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"],  # the study's split
             "runs": sum(p is None for p in r.get("partitions") or [None] * len(r["accuracies"]))}
            for n, r in sorted(stored_stability(study).items())]
    common.console().print(common.table(rows, f"Stability of the Pareto front of {study.study_name} (accuracy over seeds)",
                            {"accuracy_mean": "{:.4f}".format, "accuracy_std": "{:.4f}".format}))
    return 0


def add_parsers(sub: Any) -> None:
    from scalesearch.search.results.final_recipe import FINAL_EPOCHS_FACTOR

    p = sub.add_parser("export", help="write the chosen Pareto-optimal config to YAML")
    common.add_storage(p)
    common.add_study_name(p)
    p.add_argument("--pick", default="knee", help="knee (default), max:METRIC or min:METRIC")
    p.add_argument("--trial", type=int, metavar="N",
                   help="export trial N as it is (a row of the study note's Pareto table) instead of picking")
    p.add_argument("--where", action="append", default=[], metavar="COND",
                   help="filter such as 'latency_ms<=2' (repeatable, all must hold)")
    p.add_argument("--rule", default="lcb",
                   help="how accuracy is read: lcb (default; lower confidence bound after re-evaluating the "
                        "top candidates with more seeds), mean (mean over seeds), single (the one stored score)")
    p.add_argument("--reeval-seeds", type=int, metavar="K",
                   help="extra trainings (seeds) per re-evaluated candidate (default 2; stored, reused)")
    p.add_argument("--reeval-top", type=int, metavar="M",
                   help="candidates re-evaluated: the pick rule's top M on single scores (default 3)")
    p.add_argument("--same-split", action="store_true",
                   help="re-evaluate on the study's own train/validation split (the one the front was chosen on) "
                        "instead of a fresh stratified partition of train + validation per extra seed")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N for re-evaluation (default: the spec's device)")
    p.add_argument("-o", "--output", default="best.yaml", help="file to write (default best.yaml)")
    p.add_argument("--force", action="store_true", help="overwrite the -o file if it exists")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("export-model", help="re-run one trial from its stored config and save the deployed model",
                       description="Rebuild, retrain and compress trial N exactly as the search did, and save it "
                                   "as train saves a model: model.yaml + model.safetensors (pruning replayed, no pickles) + model.onnx.")
    common.add_storage(p)
    common.add_study_name(p)
    p.add_argument("--trial", type=int, required=True, help="trial number (see the Pareto table or the dashboard)")
    p.add_argument("-o", "--output", default="trial_model", help="folder to write")
    p.add_argument("--force", action="store_true", help="overwrite the -o folder if it holds anything")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the spec's device)")
    p.set_defaults(func=cmd_export_model)

    p = sub.add_parser("train", help="retrain an exported config; report test accuracy against its interval; save it")
    p.add_argument("export", help="YAML written by scalesearch export")
    p.add_argument("-o", "--output", default="model", help="folder for model.safetensors + model.yaml")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, help="CPU threads (default: all cores)")
    p.add_argument("--epochs", type=int, help="override the exported number of epochs")
    p.add_argument("--test-each-epoch", action="store_true",
                   help="score every epoch on the test split (default: on the validation split; the test "
                        "split is read once, after training)")
    p.add_argument("--force", action="store_true", help="overwrite the -o folder if it holds anything")
    p.add_argument("--fit", default=None, metavar="SPLITS",
                   help="train (default; train+val with --final): the train split, as the search trained, the "
                        "protocol the export's interval is for; train+val: also the validation split (more data, "
                        "not covered by the interval)")
    p.add_argument("--final", action="store_true",
                   help=f"the model to deploy: train on train+val for {FINAL_EPOCHS_FACTOR}x the searched epochs "
                        "(--epochs still overrides); usually more accurate than the interval, which states the "
                        "search's protocol")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("stability", help="retrain the Pareto front K times with new seeds; report accuracy spread",
                       description="Measure accuracy_std (the spread of validation accuracy over K trainings with "
                                   "different seeds) for each Pareto-optimal trial; stored on the study.")
    common.add_storage(p)
    common.add_study_name(p)
    p.add_argument("--runs", type=int, help="trainings per trial (default: the spec's measure.stability_runs)")
    p.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the spec's device)")
    p.add_argument("--remeasure", action="store_true", help="measure again trials that already have a result")
    p.set_defaults(func=cmd_stability)
