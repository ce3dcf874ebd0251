"""``predict``: run a saved model's ONNX file on image files, with the training preprocessing."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from scalesearch.cli import common


def _shown(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _table(predictions: list[Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("file")
    table.add_column("class")
    table.add_column("probability", justify="right")
    more = any(len(p.top) > 1 for p in predictions)
    if more:
        table.add_column("next most probable")
    for p in predictions:
        (name, prob), rest = p.top[0], p.top[1:]
        cells = [_shown(p.file), name, f"{prob:.3f}"]
        table.add_row(*cells, *([", ".join(f"{n} ({q:.3f})" for n, q in rest)] if more else []))
    return table


def cmd_predict(args: argparse.Namespace) -> int:
    from scalesearch.search.results.predict import image_files, load_predictor, predict, write_csv

    model = load_predictor(args.model, threads=args.threads)
    skipped: list[str] = []
    predictions = predict(model, image_files(args.images), top_k=args.top_k,
                          on_skip=lambda f, why: skipped.append(why))
    if args.csv:
        write_csv(predictions, args.csv)
    common.console().print(_table(predictions, f"{len(predictions)} image{'s' * (len(predictions) != 1)}, "
                                  f"{model.file.name} on onnxruntime"))
    if args.csv:
        print(f"wrote {args.csv} (file, rank, class, probability; {len(predictions) * args.top_k} rows)")
    for why in skipped:  # one line each, after the table; the readable images were predicted
        print(f"skipped {why}", file=sys.stderr)
    if skipped:
        print(f"{len(skipped)} of {len(skipped) + len(predictions)} images skipped (named above)", file=sys.stderr)
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("predict", help="classify image files with a saved model's ONNX file (onnxruntime)",
                       description="Run model.onnx (model.int8.onnx for an int8 model) of a folder written by "
                                   "scalesearch train or export-model on image files, preprocessed as in "
                                   "training, and print the most probable classes.")
    p.add_argument("model", help="model folder (written by scalesearch train -o FOLDER)")
    p.add_argument("images", nargs="+", metavar="IMAGES_OR_FOLDER",
                   help="image files and/or folders (searched recursively): png, jpg, bmp, webp, tif")
    p.add_argument("--top-k", type=int, default=1, metavar="K", help="classes shown per image (default 1)")
    p.add_argument("--csv", metavar="FILE", help="also write file,rank,class,probability rows to FILE")
    p.add_argument("--threads", type=int, help="onnxruntime CPU threads (default: all cores)")
    p.set_defaults(func=cmd_predict)
