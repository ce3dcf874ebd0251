"""Model families from outside the package: registered from code, or installed as a plugin.

The installed plugin is real: ``tests/plugin_pkg`` is built and pip-installed (``--target`` a
temporary folder, so this venv and other tests never see it) and found through its
``scalesearch.families`` entry point by fresh ``scalesearch`` processes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from scalesearch.errors import FamilyError
from scalesearch.spaces import ModelInput, register_family, unregister_family
from scalesearch.spaces.registry import BUILT_IN, get_family, list_families
from scalesearch.testing import check_family
from tests.workers_helpers import REPO_PARENT

PLUGIN = Path(__file__).resolve().parent.parent / "plugin_pkg"
KNOBS = {"width_multiplier": {"low": 0.5, "high": 2.0}, "depth_multiplier": {"low": 0.5, "high": 2.0}}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mlp(io: ModelInput, width_multiplier: float = 1.0, depth_multiplier: float = 1.0, outputs: int | None = None,
        unused_layer: bool = False) -> nn.Module:
    width, depth = round(16 * width_multiplier), max(1, round(2 * depth_multiplier))
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(io.in_chans * io.input_size ** 2, width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(width, outputs or io.num_classes))
    return WithSpare(model) if unused_layer else model


class WithSpare(nn.Module):
    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.spare = net, nn.Linear(2, 2)  # spare is never called: it gets no gradient

    def forward(self, x):
        return self.net(x)


@pytest.fixture
def registered():
    """Register families from test code; forget them afterwards."""
    names = []

    def register(name, builder, knobs=KNOBS):
        register_family(name, description=f"test family {name}", knobs=knobs)(builder)
        names.append(name)
        return get_family(name)

    yield register
    for name in dict.fromkeys(names):
        unregister_family(name)


def test_a_family_registered_from_code_keeps_the_contract(registered):
    family = registered("test_mlp", mlp)
    assert "test_mlp" in list_families() and family.origin == __name__
    passed = check_family("test_mlp")
    assert "parameters grow with width and depth" in passed and len(passed) > 20


def test_a_builder_with_the_wrong_output_shape_is_named(registered):
    registered("test_wrong_head", lambda io, width_multiplier=1.0, depth_multiplier=1.0:
               mlp(io, width_multiplier, depth_multiplier, outputs=3))
    with pytest.raises(FamilyError, match=r"test_wrong_head .* output is \(2, 3\) .* must return logits of shape "
                                          r"\(batch, num_classes\) = \(2, 10\)"):
        check_family("test_wrong_head")


def test_a_parameter_without_gradient_is_named(registered):
    registered("test_spare", lambda io, width_multiplier=1.0, depth_multiplier=1.0:
               mlp(io, width_multiplier, depth_multiplier, unused_layer=True))
    with pytest.raises(FamilyError, match="no gradient: spare.weight"):
        check_family("test_spare")


def test_a_knob_the_builder_does_not_take_is_named(registered):
    registered("test_knobless", mlp, KNOBS | {"dropout": {"low": 0.0, "high": 0.5}})
    with pytest.raises(FamilyError, match="knob dropout is declared but the builder does not take it"):
        check_family("test_knobless")


def test_a_drop_rate_that_does_nothing_is_named(registered):
    registered("test_deaf", lambda io, width_multiplier=1.0, depth_multiplier=1.0, drop_rate=0.0:
               mlp(io, width_multiplier, depth_multiplier), KNOBS | {"drop_rate": {"low": 0.0, "high": 0.5}})
    with pytest.raises(FamilyError, match="drop_rate=0.5 has no effect in training mode"):
        check_family("test_deaf")


def test_rerunning_a_notebook_cell_replaces_its_family_but_no_one_else_can(registered):
    registered("test_mlp", mlp)
    registered("test_mlp", mlp)  # the same definition again: replaced, no error
    with pytest.raises(FamilyError, match="already registered"):
        register_family("test_mlp", description="another", knobs=KNOBS)(lambda io, **kw: mlp(io))
    with pytest.raises(FamilyError, match="built in"):
        unregister_family("resnet")
    assert get_family("resnet").origin == BUILT_IN


def test_a_built_in_name_or_missing_knobs_are_refused_at_registration():
    """Even before anything else asked for a family (a fresh process): at once, a project error."""
    code = ("from scalesearch.spaces import register_family\n"
            "from scalesearch.errors import FamilyError\n"
            "knobs = {'width_multiplier': {'low': 0.5, 'high': 1}, 'depth_multiplier': {'low': 0.5, 'high': 1}}\n"
            "try:\n    register_family('resnet', description='mine', knobs=knobs)(lambda io, **kw: None)\n"
            "except FamilyError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO_PARENT).stdout
    assert "model family 'resnet' is built in; register yours under another name" in out
    with pytest.raises(FamilyError, match="must declare the width_multiplier and depth_multiplier knobs"):
        register_family("test_knobs", description="no knobs", knobs={})


# --------------------------------------------------------------------------- an installed plugin


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """Environment variables under which ``python`` sees the plugin, really installed by pip."""
    root = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(PLUGIN, root / "src", ignore=shutil.ignore_patterns("build", "*.egg-info"))
    import importlib.util

    # Build with this venv's setuptools when it has one (no index needed), else in pip's isolation.
    offline = ["--no-build-isolation", "--no-index"] if importlib.util.find_spec("setuptools") else []
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *offline,
                    "--target", str(root / "site"), str(source)], check=True, capture_output=True)
    path = os.pathsep.join([str(root / "site"), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path)


def scalesearch(env, *args, cwd=None):
    return subprocess.run([sys.executable, "-m", "scalesearch.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True)


def test_the_installed_plugin_is_listed_by_spaces_and_keeps_the_contract(plugin_env):
    out = scalesearch(plugin_env, "spaces")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "example_cnn" in x)
    assert "plugin scalesearch-plugin-example" in line
    code = "from scalesearch.testing import check_family; print(len(check_family('example_cnn')))"
    checked = subprocess.run([sys.executable, "-c", code], env=plugin_env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert int(checked.stdout) > 20


@pytest.mark.slow
def test_the_cli_runs_a_study_over_the_plugin_family(plugin_env, tmp_path):
    (tmp_path / "spec.yaml").write_text(textwrap.dedent("""\
        study_name: plugged
        dataset: {kind: synthetic, synthetic: {samples: 120, classes: 3}}
        space:
          families:
            example_cnn: {width_multiplier: {low: 0.25, high: 0.5}, depth_multiplier: 0.5}
          training: {epochs: 1, batch_size: 32}
        budget: {n_trials: 2}
        measure: {latency_repeats: 2, latency_warmup: 1}
        """))
    out = scalesearch(plugin_env, "run", "spec.yaml", "--storage", "sqlite:///runs.db", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2/2 trials finished" in out.stdout and "example_cnn" in out.stdout
    without = scalesearch(dict(os.environ), "studies", "--storage", "sqlite:///runs.db", cwd=tmp_path)
    worker = scalesearch(dict(os.environ), "worker", "--storage", "sqlite:///runs.db", "--study-name", "plugged",
                         cwd=tmp_path)
    assert without.returncode == 0  # listing studies needs no family
    assert worker.returncode == 2 and worker.stderr.count("\n") == 1
    assert "unknown model family 'example_cnn'" in worker.stderr and "scalesearch.families plugin" in worker.stderr


def test_a_broken_plugin_is_one_line_naming_it(tmp_path):
    """An installed distribution whose entry point names a module that does not import."""
    info = tmp_path / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[scalesearch.families]\nbroken = no_such_module_for_scalesearch\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    out = scalesearch(env, "spaces")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "family plugin 'broken' (no_such_module_for_scalesearch, package broken-plugin) failed to load" in out.stderr
