"""The one gate: prepare -> judge -> conclude. Every door goes through :class:`Gate`.

``mlchecks gate`` (``mlchecks.cli``), ``pytest --mlchecks-promote`` (``mlchecks.plugin``) and
``mlchecks evolve`` build a :class:`Gate` on a :class:`~mlchecks.run.session.Session` and call
its phases; they differ only in who runs the checks (the *runner*: the shipped suites through
pytest, or the user's own pytest session) and in what they print. Imports neither pytest nor
keras.

1. :meth:`Gate.check_inputs`: the data loads, the training-setup lint runs (an error finding
   rejects before any training), every model loads (a bad file is exit 2, not a failed test).
2. :meth:`Gate.prepare`: each lineage's champion and history are read and verified
   (:mod:`mlchecks.run.baseline`), the data must fit them, and the bytes under judgement are
   hashed once (a candidate file was copied privately when the gate was built, so what is
   judged is what is promoted).
3. :meth:`Gate.judge`: the runner records the checks of every category into the session.
4. :meth:`Gate.conclude`: the decision (no blocking check, every category of the gate ran) and,
   when accepted and promoting, the promotion (:mod:`mlchecks.run.promote`).

:meth:`Gate.run` does all four under the lineage locks (``mlchecks gate``, ``evolve``); the
pytest door runs 1-2 at session start and 4 at session end, with pytest itself as the runner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlchecks._util.io import atomic_write
from mlchecks.errors import ConfigError, GateExit, ModelError
from mlchecks.result import CATEGORIES, CheckResult, status_counts
from mlchecks.run.baseline import (
    Baseline,
    EarlierHoldout,
    check_fits,
    current_holdout,
    describe_baseline,
    holdout_predictions,
    load_baseline,
    regression_checks,
    session_holdout,
)
from mlchecks.run.promote import (
    LineageOutcome,
    lineage_locks,
    model_sha256,
    promote_all,
    promote_model,
    unchanged,
)

if TYPE_CHECKING:
    from mlchecks.config import Settings
    from mlchecks.run.session import Session

__all__ = [
    "DECISION_SCHEMA_VERSION",
    "Baseline",
    "EarlierHoldout",
    "Gate",
    "GateDecision",
    "GateExit",
    "LineageOutcome",
    "SuiteRunner",
    "check_fits",
    "current_holdout",
    "decide",
    "describe_baseline",
    "holdout_predictions",
    "lineage_locks",
    "load_baseline",
    "prepare",
    "private_copy",
    "promote_all",
    "promote_model",
    "regression_checks",
    "session_holdout",
    "unchanged",
    "write_json",
]

#: ``runner(session, categories) -> internal errors``: records the checks of ``categories``
#: into ``session`` (``mlchecks.plugin.runner.run_suites`` runs the shipped suites through
#: pytest); returns one line per failure that was not a check (a bug, not a rejection).
SuiteRunner = Callable[["Session", tuple[str, ...]], list[str]]

#: Version of the decision JSON (``--json``): raised when a key is removed or changes meaning;
#: keys are only added within a version.
DECISION_SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class GateDecision:
    """The outcome of a gate run, as written by ``--json``.

    ``name``/``version``/``champion_before``/``champion_after`` describe the (first) lineage;
    ``lineages`` lists every one when the gate judged several configured models.
    """

    accepted: bool
    name: str
    checks: tuple[CheckResult, ...]
    version: str | None = None
    champion_before: str | None = None
    champion_after: str | None = None
    report: str | None = None
    notes: tuple[str, ...] = ()
    lineages: tuple[LineageOutcome, ...] = ()

    @property
    def exit_code(self) -> GateExit:
        return GateExit.ACCEPTED if self.accepted else GateExit.REJECTED

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.blocking)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": DECISION_SCHEMA_VERSION,
            "decision": "accepted" if self.accepted else "rejected",
            "name": self.name,
            "version": self.version,
            "champion_before": self.champion_before,
            "champion_after": self.champion_after,
            "checks": [c.to_json() for c in self.checks],
            "counts": status_counts(self.checks),
            "report": self.report,
            "notes": list(self.notes),
            "lineages": [lineage.to_json() for lineage in self.lineages],
        }


def decide(checks: Sequence[CheckResult]) -> bool:
    """Accept when no error-severity check failed (and at least one check ran)."""
    return bool(checks) and not any(c.blocking for c in checks)


def write_json(decision: GateDecision, path: Path) -> None:
    """Write the decision atomically (temp file + rename)."""
    text = json.dumps(decision.to_json(), indent=2, allow_nan=False) + "\n"
    atomic_write(path, text)


def prepare(session: Session, hash_models: bool) -> list[str]:
    """Read (and verify) each model's baseline before the checks run; say what it is.

    Args:
        session: the run.
        hash_models: take each model file's sha256 now (when the run may promote), so the
            bytes promoted are the bytes judged.

    Raises:
        RegistryError: a damaged or tampered registry (exit 2 before any check runs).
        ModelError: the data does not fit the lineage's holdouts.
    """
    lines: list[str] = []
    for spec in session.settings.models:
        baseline = session.baseline(spec)
        if baseline is not None:
            check_fits(baseline, session.dataset, spec.name)
        if hash_models:
            model_sha256(session, spec)
        lines.append(describe_baseline(session, spec))
    return lines


def private_copy(candidate: Path, folder: Path) -> tuple[Path, str]:
    """Copy ``candidate`` into ``folder`` (private to this run) and hash the very bytes copied.

    Everything after this reads the copy: a file replaced at its original path while the gate
    waits for a lock or runs its checks is neither judged nor promoted.

    Raises:
        ModelError: ``candidate`` is missing, not a regular file (a FIFO would block forever),
            or unreadable.
    """
    if not candidate.exists():
        msg = f"model file {candidate} does not exist; give the path of a saved .keras file"
        raise ModelError(msg)
    if not candidate.is_file():
        msg = (
            f"model {candidate} is not a regular file; give the path of a saved .keras file "
            "(not a folder, FIFO or device)"
        )
        raise ModelError(msg)
    target = folder / candidate.name
    digest = hashlib.sha256()
    try:
        with open(candidate, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
    except OSError as exc:
        msg = f"model file {candidate} cannot be read ({exc.strerror}); check its permissions"
        raise ModelError(msg) from None
    target.chmod(0o400)
    return target, digest.hexdigest()


def _one_output(model: Any, name: str) -> None:
    """Refuse a model with several outputs: every check judges one class-probability output.

    Raises:
        ModelError: the model has more than one output (exit 2, before any check runs).
    """
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) > 1:
        msg = (
            f"model {name} has {len(outputs)} outputs; mlchecks judges models with one output "
            "(class probabilities or logits): save a model with a single output head"
        )
        raise ModelError(msg)


class Gate:
    """One gate run over a :class:`~mlchecks.run.session.Session`.

    Args:
        session: the run (settings, data, models under judgement).
        promote: promote an accepted run into the registry. Defaults to True.
        categories: the check categories this gate requires; all of them by default. A run in
            which one of them recorded no check is not promoted (e.g. tests deselected with
            ``-k``).
        workdir: a private folder owned by the gate (candidate copies), removed by
            :meth:`close`. Defaults to None.
    """

    def __init__(
        self,
        session: Session,
        *,
        promote: bool = True,
        categories: Sequence[str] = CATEGORIES,
        workdir: Path | None = None,
    ) -> None:
        unknown = set(categories) - set(CATEGORIES)
        if unknown or not categories:
            msg = f"gate categories {sorted(unknown)} unknown; expected some of {CATEGORIES}"
            raise ConfigError(msg)
        self.session = session
        self.promote = promote
        self.categories = tuple(c for c in CATEGORIES if c in categories)
        self.notes: list[str] = []
        self.setup_checks: list[CheckResult] = []
        self.blocked = False
        self._workdir = workdir

    # ----------------------------------------------------------------------- construction
    @classmethod
    def for_settings(
        cls,
        settings: Settings,
        *,
        candidate: str | Path | None = None,
        trusted: bool = False,
        promote: bool = True,
        categories: Sequence[str] = CATEGORIES,
    ) -> Gate:
        """A gate on the configured models, or on a private copy of ``candidate``.

        Raises:
            ModelError: ``candidate`` is missing or not a regular file.
        """
        from mlchecks.config import ModelSpec
        from mlchecks.run.session import Session

        workdir = None
        digest = None
        if candidate is not None:
            source = Path(candidate).resolve()
            workdir = Path(tempfile.mkdtemp(prefix="mlchecks-gate-"))
            try:
                copy, digest = private_copy(source, workdir)
            except BaseException:
                shutil.rmtree(workdir, ignore_errors=True)
                raise
            spec = ModelSpec(name=settings.name, path=str(copy), trusted=trusted,
                             origin=str(source))  # fmt: skip
            settings = settings.replace(models=(spec,))
        gate = cls(Session(settings), promote=promote, categories=categories, workdir=workdir)
        if digest is not None:
            gate.session.gate_memo[("sha256", settings.models[0].name)] = digest
        return gate

    def close(self) -> None:
        """Remove the gate's private folder (candidate copies)."""
        if self.session.data_worker is not None:  # a gate that never reached the data checks
            from mlchecks.run import data

            data.stop_prefetch(self.session, timeout_s=0)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------- the phases
    def check_inputs(self) -> None:
        """Load the data, lint every model's set-up, load every model (unless blocked).

        Raises:
            DataError, ModelError, ConfigError: bad input (exit 2) before any check runs.
        """
        from mlchecks.run import lint

        session = self.session
        session.progress.phase(f"loading data {session.settings.data}")
        session.dataset  # noqa: B018  (DataError -> exit 2 before any work)
        if "data" in self.categories:
            from mlchecks.run import data

            data.prefetch(session)  # on the second core, while the models load
        session.fit_heads()  # the class space of a saved model's head; labels beyond it: exit 2
        if "setup" in self.categories:
            session.progress.phase("training-setup lint")
            self.setup_checks = lint.run_session(session)
            self.blocked = any(c.blocking for c in self.setup_checks)
        for spec in () if self.blocked else session.settings.models:
            trained = session.model(spec)
            if spec.is_file:
                _one_output(trained.model, spec.origin or spec.path or spec.name)

    def prepare(self) -> list[str]:
        """Verify each lineage's baseline and hash the bytes under judgement; returns the lines
        that say what each model is compared with."""
        self.session.progress.phase("reading the registry (champions, holdouts)")
        self.notes = prepare(self.session, hash_models=self.promote and not self.blocked)
        return self.notes

    def judge(self, runner: SuiteRunner) -> None:
        """Run the checks; a broken set-up records only the lint's results (no training).

        Raises:
            RuntimeError: a suite failed outside any check (a bug: exit 3).
        """
        if self.blocked:
            for check in self.setup_checks:
                self.session.record(check)
            return
        errors = runner(self.session, self.categories)
        if errors:
            raise RuntimeError(f"a suite errored outside any check: {'; '.join(errors)}")

    def missing_categories(self) -> list[str]:
        """Categories of this gate that recorded no check in the run."""
        ran = {c.category for c in self.session.checks}
        return [c for c in self.categories if c not in ran]

    def conclude(self, *, failed_outside: str | None = None) -> GateDecision:
        """Decide and, when accepted and promoting, promote every lineage.

        Args:
            failed_outside: why the run failed outside mlchecks' checks (e.g. a user's own
                test failed in the pytest door): the run is then rejected. Defaults to None.

        Raises:
            ConfigError: an accepted run in which a category of the gate recorded no check
                (nothing is promoted; exit 2).
            RegistryError: the champion changed since it was read (nothing is written).
        """
        session = self.session
        accepted = decide(session.checks) and failed_outside is None
        missing = self.missing_categories()
        if accepted and missing and self.promote:
            msg = (
                f"nothing promoted: no {', '.join(missing)} check ran in this run (deselected "
                f"or skipped tests?); promotion needs every category of the gate: "
                f"{', '.join(self.categories)}; run the whole suites"
            )
            raise ConfigError(msg)
        lineages = promote_all(session, accepted, self.promote)
        if failed_outside is not None:
            self.notes.append(f"rejected: {failed_outside}")
        first = lineages[0]
        return GateDecision(
            accepted=accepted,
            name=first.name,
            checks=tuple(session.checks),
            notes=tuple(self.notes),
            version=first.version,
            champion_before=first.champion_before,
            champion_after=first.champion_after,
            lineages=tuple(lineages),
        )

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold every lineage lock this gate may promote into (none when not promoting)."""
        with lineage_locks(self.session, self.promote):
            yield

    def run(self, runner: SuiteRunner, *, before_lock: Callable[[], None] | None = None
            ) -> GateDecision:  # fmt: skip
        """All four phases; the lineage locks are held from reading the champion to promoting,
        so a concurrent gate waits and is judged against what this one promoted.

        Args:
            runner: records the checks (see :data:`SuiteRunner`).
            before_lock: called after the inputs are checked, before the locks are taken
                (slow imports, progress lines). Defaults to None.
        """
        self.check_inputs()
        if before_lock is not None:
            before_lock()
        with self.locked():
            self.prepare()
            self.judge(runner)
            return self.conclude()
