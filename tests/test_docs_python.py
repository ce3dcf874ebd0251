"""docs/python.md's walk-through, run exactly as written (every ```python block in order, one
namespace, in an empty folder), so the manual cannot drift from the API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "python.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_doc_has_the_whole_walk_through():
    code = "\n".join(python_blocks(DOC.read_text()))
    for call in ("register_family(", "check_family(", "scalesearch.run(", "scalesearch.export(",
                 "scalesearch.train(", "scalesearch.load_model(", "scalesearch.report("):
        assert call in code, call


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a minute on an idle laptop; ten on a CPU shared with other test runs
def test_the_walk_through_runs(tmp_path, monkeypatch, capsys):
    from scalesearch.spaces import unregister_family

    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    try:
        for i, block in enumerate(python_blocks(DOC.read_text())):
            exec(compile(block, f"{DOC.name} block {i + 1}", "exec"), namespace)  # noqa: S102
    finally:
        if "build_tiny_cnn" in namespace:
            unregister_family("tiny_cnn")
    out = capsys.readouterr().out
    assert "tiny_cnn keeps all" in out and "Pareto-optimal trials: [" in out and "test accuracy" in out
    assert (tmp_path / "notebook.db").exists() and (tmp_path / "model" / "model.safetensors").exists()
    assert (tmp_path / "report" / "report.html").exists()
    assert namespace["result"].test_accuracy > 0.5  # 10 digit classes: far above chance (0.1)
    predicted = namespace["predicted"].tolist()
    assert sum(p == t for p, t in zip(predicted, namespace["y"][:8].tolist(), strict=True)) >= 4  # normalised right
