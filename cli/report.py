"""``report``: a study as one self-contained HTML file (figures, Pareto table) plus PNGs."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from scalesearch.cli import common


def cmd_report(args: argparse.Namespace) -> int:
    from scalesearch.search.results.html_report import write_report
    from scalesearch.search.storage.storage import open_storage, resolve_url
    from scalesearch.search.study.study import load_study, stored_spec

    common.quiet_optuna()
    started = time.perf_counter()
    url = resolve_url(args.storage)
    storage = open_storage(url, create=False)
    study = load_study(storage, common.pick_study_name(storage, args.study_name))
    report = write_report(study, args.output, storage_url=url, spec=stored_spec(study), png=not args.no_png)
    images = f" and {len(report.pngs)} PNG images" if report.pngs else ""
    print(f"wrote {report.path}{images} in {time.perf_counter() - started:.1f}s; open it in any browser (works offline)")
    if report.png_problem:
        print(report.png_problem, file=sys.stderr)
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("report", help="write a study's figures and Pareto table as one offline HTML file, plus PNGs",
                       description="Write DIR/report.html: the study's summary, its Pareto front as a table with "
                                   "the export command for each row, and its figures (Pareto front, hypervolume, "
                                   "learning curves, scaling, knob importance), with plotly.js inlined so it opens "
                                   "offline; and DIR/<figure>.png for each figure (needs Chrome or Chromium). "
                                   "Works on a running study too.")
    common.add_storage(p)
    common.add_study_name(p)
    p.add_argument("-o", "--output", default="report", metavar="DIR", help="folder to write (default report/)")
    p.add_argument("--no-png", action="store_true", help="skip the PNG images (no browser needed)")
    p.set_defaults(func=cmd_report)
