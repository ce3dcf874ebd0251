"""STYLE.md rule 5, only public Optuna APIs: no code outside tests reaches a study's or a trial's
private storage handles (``._storage``, ``._study_id``, ``._trial_id``). Studies scalesearch opens
carry their storage publicly (search/storage/storage.stored_study); ids come from the storage's
public lookups (search/config/system_attrs.py)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = re.compile(r"\._(storage|study_id|trial_id)\b")


def _sources() -> list[Path]:
    return [p for p in ROOT.rglob("*.py")
            if not any(part.startswith(".") or part in ("tests", "build") or part.endswith(".egg-info")
                       for part in p.relative_to(ROOT).parts[:-1])]


def test_the_pattern_catches_each_private_handle():
    caught = ["study._storage.get_trials()", "trial._trial_id", "s._study_id)", "x._storage"]
    assert all(PRIVATE.search(text) for text in caught)
    assert not any(PRIVATE.search(text) for text in ["study.storage", "_study_id(study)", "get_trial_id_from"])


def test_no_private_optuna_handles_outside_tests():
    sources = _sources()
    assert len(sources) > 100 and any(p.parts[-2:] == ("config", "system_attrs.py") for p in sources)
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in sources
            for n, line in enumerate(p.read_text().splitlines(), 1) if PRIVATE.search(line)]
    assert not hits, "private Optuna handles (STYLE.md rule 5):\n" + "\n".join(hits)
