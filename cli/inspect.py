"""``dashboard``, ``studies`` and ``spaces``: look at studies and at what may be searched."""

from __future__ import annotations

import argparse
import json
from typing import Any

from scalesearch.cli import common


def cmd_dashboard(args: argparse.Namespace) -> int:
    from scalesearch.search.storage.dashboard import serve
    from scalesearch.search.storage.storage import redact, resolve_url

    common.quiet_optuna()
    url = resolve_url(args.storage)
    serve(url, args.host, args.port,
          announce=lambda addr: print(f"optuna-dashboard for {redact(url)} at {addr}  (Ctrl-C to stop)", flush=True))
    return 0


def cmd_studies(args: argparse.Namespace) -> int:
    from scalesearch.search.results.report import study_rows
    from scalesearch.search.storage.storage import open_storage, redact, resolve_url

    common.quiet_optuna()
    url = resolve_url(args.storage)
    rows = study_rows(open_storage(url, create=False))
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no studies in {redact(url)}; start one with: scalesearch run")
    else:
        common.console().print(common.table(rows, f"Studies in {redact(url)}", {k: str for k in rows[0]}))
    return 0


def cmd_spaces(args: argparse.Namespace) -> int:
    from scalesearch.spaces.catalog import describe_families, describe_presets
    from scalesearch.spaces.registry import BUILT_IN, get_family, list_families

    if args.json:
        families = describe_families(args.input_size, args.num_classes, args.in_chans)
        print(json.dumps({"families": families, "presets": describe_presets()}, indent=2))
        return 0
    print("families:")
    for name in list_families():
        family = get_family(name)
        origin = "" if family.origin == BUILT_IN else f" [{family.origin}]"
        print(f"  {name:14s} {family.description}{origin}")
    print("presets (use with --set space=NAME):")
    for p in describe_presets():
        print(f"  {p['name']:14s} made for {p['input_size']}px; {', '.join(p['families'])}. {p['description']}")
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("dashboard", help="serve optuna-dashboard on a storage")
    common.add_storage(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("studies", help="list the studies in a storage")
    common.add_storage(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_studies)

    p = sub.add_parser("spaces", help="list model families and search-space presets",
                       description="List families and presets; --json adds each family's knobs, ranges, "
                                   "and the params of its smallest and largest model.")
    p.add_argument("--json", action="store_true", help="machine-readable output with knobs, ranges and sizes")
    p.add_argument("--input-size", type=int, default=32, help="input side in pixels for --json sizes (default 32)")
    p.add_argument("--num-classes", type=int, default=10, help="classes for --json sizes (default 10)")
    p.add_argument("--in-chans", type=int, default=3, help="input channels for --json sizes (default 3)")
    p.set_defaults(func=cmd_spaces)
