"""Studies shared by the figure and report tests (built once per test session)."""

from __future__ import annotations

import pytest

from tests.results.figure_helpers import run_with_fake_trainer


@pytest.fixture(scope="session")
def made_study(tmp_path_factory, tiny_data):
    """The default spec, shrunk, run with the fake trainer: 30 trials, some stopped early."""
    url = f"sqlite:///{tmp_path_factory.mktemp('made') / 'study.db'}"
    return run_with_fake_trainer(url, tiny_data)
