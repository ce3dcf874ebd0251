"""The code of a study's own families, recorded so a resume with a changed builder is noticed.

A family that is not built in (registered in a notebook or script, or an installed plugin) can
change under the same name between sessions: re-running a notebook cell with another builder, or
with another class, helper or constant the builder uses, would train a different architecture in
the same study. The study stores, per such family, in ``ss.family_code``::

    {"source": sha256 of the builder's source (Family.code),
     "model": fingerprint of the model it builds at "reference" (Family.model_code),
     "reference": {"num_classes": .., "in_chans": .., "input_size": .., "params": {..}}}

The reference is the study's data shape and the space's lowest point, fixed when first recorded
and rebuilt on each check. Studies recorded before the model part (a bare source hash) are
compared on the source only, then upgraded. A resume whose fingerprints differ is refused in one
line, or, when the caller allows it (``run --allow-changed-family``,
``scalesearch.run(allow_changed_family=True)``), goes on and the change is recorded in
``ss.family_changes`` (family, old and new fingerprint, trials before it). Built-in families
change only with scalesearch itself, whose version the study records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from scalesearch.errors import SpecError
from scalesearch.search.config.spec import StudySpec

CODE = "ss.family_code"  # study: {family: {"source", "model", "reference"}}, families not built in
CHANGES = "ss.family_changes"  # study: resumes allowed to go on with a changed builder
ALLOW = {"cli": "--allow-changed-family", "python": "allow_changed_family=True"}
#: What each part of a fingerprint covers, as a refusal names it.
PARTS = {"source": "its builder's code changed", "model": "the model its builder builds changed "
         "(a class, helper or constant it uses was edited)"}


def reference_point(spec: StudySpec, name: str, io: Any) -> dict[str, Any]:
    """The data shape ``io`` and the space's lowest point of family ``name``: what its model
    fingerprint is built at."""
    from scalesearch.spaces.space import param_values

    params = {k: param_values(p)[0] for k, p in spec.space.families[name].items()}
    return {"num_classes": io.num_classes, "in_chans": io.in_chans, "input_size": io.input_size, "params": params}


def fingerprint(family: Any, reference: dict[str, Any] | None) -> dict[str, Any]:
    """``family``'s fingerprint entry; the model part only where a ``reference`` is known."""
    from scalesearch.spaces.registry import ModelInput

    entry: dict[str, Any] = {"source": family.code}
    if reference is not None:
        io = ModelInput(reference["num_classes"], reference["in_chans"], reference["input_size"])
        entry |= {"model": family.model_code(io, **reference["params"]), "reference": reference}
    return entry


def _as_entry(stored: Any) -> dict[str, Any]:
    return stored if isinstance(stored, dict) else {"source": stored}  # a bare hash: recorded before "model"


def own_family_code(spec: StudySpec, stored: dict[str, Any] | None = None, io: Any = None) -> dict[str, dict[str, Any]]:
    """``{family: fingerprint entry}`` for the space's families that are not built in, each built
    at its ``stored`` reference, else (``io`` given: the study's data shape) at a new one."""
    from scalesearch.spaces.registry import BUILT_IN, get_family

    stored = stored or {}
    entries = {}
    for name in spec.space.families:
        family = get_family(name)
        if family.origin == BUILT_IN:
            continue
        reference = _as_entry(stored.get(name, {})).get("reference")
        if reference is None and io is not None:
            reference = reference_point(spec, name, io)
        entries[name] = fingerprint(family, reference)
    return entries


def _differs(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The first part both entries have that differs (``source``, ``model``), or None."""
    return next((part for part in PARTS if part in old and part in new and old[part] != new[part]), None)


def changed_families(study: Any, spec: StudySpec, current: dict[str, dict[str, Any]] | None = None
                     ) -> list[tuple[str, Any, dict[str, Any], str]]:
    """``(family, stored entry, current one, part that differs)`` for each own family that changed."""
    stored = study.user_attrs.get(CODE) or {}
    current = own_family_code(spec, stored) if current is None else current
    return [(name, stored[name], entry, part) for name, entry in current.items()
            if name in stored and (part := _differs(_as_entry(stored[name]), entry))]


def check_family_code(study: Any, spec: StudySpec, *, allow: bool = False, caller: str = "cli") -> None:
    """Refuse, in one line, resuming ``study`` with a family whose code or built model changed,
    unless ``allow``."""
    changed = changed_families(study, spec)
    if changed and not allow:
        name, old, new, part = changed[0]
        raise SpecError(f"family {name}: {PARTS[part]} since study {study.study_name!r} started "
                        f"(fingerprint {_as_entry(old)[part][:10]} now {new[part][:10]}), so resuming would mix two "
                        f"models under one name; register the original code, start a new study, or pass "
                        f"{ALLOW.get(caller, ALLOW['cli'])} (recorded in the study)")


def record_family_code(study: Any, spec: StudySpec, io: Any = None) -> None:
    """Store the own families' fingerprints (a new family's model part built for ``io``: the
    study's data, or anything with its ``num_classes``, ``in_chans`` and ``input_size``); a change
    allowed on resume is appended to ``ss.family_changes`` first."""
    stored = study.user_attrs.get(CODE) or {}
    current = own_family_code(spec, stored, io)
    changes = [{"family": name, "from": old, "to": new, "trials_before": len(study.get_trials(deepcopy=False)),
                "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
               for name, old, new, _ in changed_families(study, spec, current)]
    if changes:
        study.set_user_attr(CHANGES, list(study.user_attrs.get(CHANGES) or []) + changes)
    if current and stored != stored | current:
        study.set_user_attr(CODE, stored | current)
