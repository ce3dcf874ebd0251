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
    import numpy as np

    as_uint8 = np.round(namespace["digits"].images[:8] * 255 / 16).astype(np.uint8)  # the same images, 0..255
    from_uint8 = namespace["model"](namespace["as_trained"](as_uint8)).argmax(dim=1).tolist()
    assert sum(a == b for a, b in zip(from_uint8, predicted, strict=True)) >= 7  # the docs' line holds for uint8


def test_the_docs_prepare_uint8_and_float_images_alike():
    """The walk-through's ``as_trained``, run alone: 0..255 uint8 and [0, 1] floats of the same
    images give the same model input (the line it replaced gave chance accuracy on uint8)."""
    import numpy as np
    import torch

    block = next(b for b in python_blocks(DOC.read_text()) if "def as_trained" in b)
    source = block[block.index("def as_trained"):block.index("\n\n\npredicted")]
    namespace = {"torch": torch, "mean": torch.tensor([0.3]).view(1, -1, 1, 1), "std": torch.tensor([0.4]).view(1, -1, 1, 1)}
    exec(compile(source, "as_trained", "exec"), namespace)  # noqa: S102
    grey = np.random.default_rng(0).integers(0, 256, size=(4, 8, 8)).astype(np.uint8)
    floats = torch.tensor(grey, dtype=torch.float32) / 255
    torch.testing.assert_close(namespace["as_trained"](grey), namespace["as_trained"](floats))
    assert namespace["as_trained"](grey).shape == (4, 1, 8, 8)
