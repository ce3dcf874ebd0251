"""The code of a study's own families, recorded so a resume with a changed builder is noticed.

A family that is not built in (registered in a notebook or script, or an installed plugin) can
change under the same name between sessions: re-running a notebook cell with another builder
would train a different architecture in the same study. The study stores each such family's
code fingerprint (``Family.code``: a hash of the builder's source) in ``ss.family_code``; a
resume whose builder hashes differently is refused in one line, or, when the caller allows it
(``run --allow-changed-family``, ``scalesearch.run(allow_changed_family=True)``), goes on and the
change is recorded in ``ss.family_changes`` (family, old and new fingerprint, trials before it).
Built-in families change only with scalesearch itself, whose version the study records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from scalesearch.errors import SpecError
from scalesearch.search.config.spec import StudySpec

CODE = "ss.family_code"  # study: {family: sha256 of its builder's source}, families not built in
CHANGES = "ss.family_changes"  # study: resumes allowed to go on with a changed builder
ALLOW = {"cli": "--allow-changed-family", "python": "allow_changed_family=True"}


def own_family_code(spec: StudySpec) -> dict[str, str]:
    """``{family: code fingerprint}`` for the space's families that are not built in."""
    from scalesearch.spaces.registry import BUILT_IN, get_family

    families = (get_family(name) for name in spec.space.families)
    return {f.name: f.code for f in families if f.origin != BUILT_IN}


def changed_families(study: Any, spec: StudySpec) -> list[tuple[str, str, str]]:
    """``(family, stored fingerprint, current one)`` for each own family whose builder changed."""
    stored = study.user_attrs.get(CODE) or {}
    return [(name, stored[name], code) for name, code in own_family_code(spec).items()
            if name in stored and stored[name] != code]


def check_family_code(study: Any, spec: StudySpec, *, allow: bool = False, caller: str = "cli") -> None:
    """Refuse, in one line, resuming ``study`` with a family whose builder changed, unless ``allow``."""
    changed = changed_families(study, spec)
    if changed and not allow:
        name, old, new = changed[0]
        raise SpecError(f"family {name}: its builder's code changed since study {study.study_name!r} started "
                        f"(fingerprint {old[:10]} now {new[:10]}), so resuming would mix two models under one name; "
                        f"register the original builder, start a new study, or pass {ALLOW.get(caller, ALLOW['cli'])} "
                        "(recorded in the study)")


def record_family_code(study: Any, spec: StudySpec) -> None:
    """Store the own families' fingerprints; a change allowed on resume is appended to
    ``ss.family_changes`` first."""
    current = own_family_code(spec)
    stored = study.user_attrs.get(CODE) or {}
    changes = [{"family": name, "from": old, "to": new, "trials_before": len(study.get_trials(deepcopy=False)),
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
               for name, old, new in changed_families(study, spec)]
    if changes:
        study.set_user_attr(CHANGES, list(study.user_attrs.get(CHANGES) or []) + changes)
    if current and stored != stored | current:
        study.set_user_attr(CODE, stored | current)
