"""``regression.lineage``: a warning when a model starts a new lineage while the registry holds
others.

A ``name`` in the config (or ``--name``) puts configured models into the lineage
``<name>.<model>``; a new name thus silently starts a new lineage, with no champion, and every
regression check of the run is not judged. When the registry already holds other lineages,
the suite records this warning: it names the new lineage, the existing ones, and the ``--name``
that would continue each one this model can continue. A first lineage in an empty registry,
or a lineage that exists, records nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mlchecks.result import CheckResult

if TYPE_CHECKING:
    from mlchecks.config import ModelSpec
    from mlchecks.run.session import Session

CHECK_ID = "regression.lineage"


def lineage_check(session: Session, spec: ModelSpec) -> CheckResult | None:
    """The warning for ``spec`` in ``session`` (``None``: nothing to warn about)."""
    lineage = session.lineage(spec)
    return new_lineage(lineage, spec.name, session.registry.names(), candidate=spec.is_file)


def name_for(lineage: str, model: str) -> str | None:
    """The ``--name`` under which configured model ``model`` goes into ``lineage`` (``None``:
    it cannot: the lineage belongs to a model of another name)."""
    if lineage == model:
        return "default"
    suffix = f".{model}"
    return lineage[: -len(suffix)] if lineage.endswith(suffix) else None


def new_lineage(
    lineage: str, model: str, existing: Sequence[str], candidate: bool = False
) -> CheckResult | None:
    """``regression.lineage`` of ``model`` going into ``lineage`` of a registry holding
    ``existing`` lineages: a warning when ``lineage`` is new and others exist. A ``candidate``
    (a ``.keras`` file) goes into the lineage ``--name`` names; a configured model into the
    one :func:`name_for` gives."""
    others = sorted(set(existing) - {lineage})
    if lineage in existing or not others:
        return None
    if candidate:
        picks = [f"--name {o}" for o in others]
    else:
        picks = [f"--name {n} for {o!r}" for o in others if (n := name_for(o, model)) is not None]
    how = (
        f"to continue one, give {'; '.join(picks)} (or set name in [tool.mlchecks])"
        if picks
        else f"none is {model}'s: to continue one, give the model that lineage's name in "
        "[[tool.mlchecks.models]], or gate its .keras file with --name LINEAGE"
    )
    message = (
        f"{model} starts a new lineage {lineage!r} while the registry holds "
        f"{', '.join(repr(o) for o in others)}: no champion to compare with, so the regression "
        f"checks are not judged; {how}"
    )
    return CheckResult(CHECK_ID, "regression", False, None, None, message, model=model,
                       severity="warning")  # fmt: skip
