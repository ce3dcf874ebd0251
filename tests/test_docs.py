"""The docs name only what exists: every benchmark script, ``scalesearch`` command and image
they point to is there; docs/benchmarks.md stays a short page of current results."""

from __future__ import annotations

import argparse
import re

import pytest

from scalesearch.cli import COMMAND_MODULES
from tests.conftest import ROOT

DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BENCHMARKS_PAGE = ROOT / "docs" / "benchmarks.md"
MAX_BENCHMARKS_BYTES = 15_000

SCRIPT = re.compile(r"\bbenchmarks/[\w./-]+?\.(?:py|sh)\b")
CODE = re.compile(r"```.*?```|`[^`\n]+`", re.S)  # fenced blocks and inline code spans
COMMAND = re.compile(r"(?<![\w./-])scalesearch +([a-z][a-z-]*)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


class _Names:
    """Stands in for argparse's subparsers: collects the names each command module adds."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        self.names.add(name)
        return argparse.ArgumentParser(prog=name)


def _commands() -> set[str]:
    sub = _Names()
    for module in COMMAND_MODULES:
        module.add_parsers(sub)
    return sub.names


def named_commands(text: str) -> set[str]:
    """``scalesearch <command>`` inside code (inline or fenced), e.g. `scalesearch run`."""
    return {m.group(1) for span in CODE.findall(text) for m in COMMAND.finditer(span)}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_benchmark_script_named_exists(doc):
    missing = sorted({s for s in SCRIPT.findall(doc.read_text()) if not (ROOT / s).is_file()})
    assert missing == [], f"{doc.name} names scripts that do not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_scalesearch_command_named_exists(doc):
    unknown = sorted(named_commands(doc.read_text()) - _commands())
    assert unknown == [], f"{doc.name} names commands that `scalesearch --help` does not list"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_image_shown_exists(doc):
    missing = [link for link in IMAGE.findall(doc.read_text())
               if not link.startswith("http") and not (doc.parent / link).is_file()]
    assert missing == []


def test_the_benchmarks_page_is_short():
    size = len(BENCHMARKS_PAGE.read_bytes())
    assert size <= MAX_BENCHMARKS_BYTES, f"docs/benchmarks.md is {size} bytes: keep current results only"


def test_the_checks_find_what_they_look_for():
    text = "run `scalesearch run studies/x.yaml` and\n```bash\nscalesearch nosuch --x\n```\nbut scalesearch is"
    assert named_commands(text) == {"run", "nosuch"}
    assert SCRIPT.findall("python benchmarks/overhead.py --trials 2; benchmarks/device_check.sh") == [
        "benchmarks/overhead.py", "benchmarks/device_check.sh"]
    assert {"run", "worker", "export", "train", "report"} <= _commands()
