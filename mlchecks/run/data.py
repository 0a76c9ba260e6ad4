"""The data checks of a run: the reference profile, the memo folder, and the results.

:func:`prefetch` starts them early in a worker process (``mlchecks gate``, before the models
are loaded): Great Expectations imports and checks the data on the second core while the gate
loads Keras and the models; :func:`data_checks` then waits for the worker and reads its results
from the memo (keyed by the data, the checks and the reference profile, so results for other
inputs are never read).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlchecks.data import expectations, memo

if TYPE_CHECKING:
    from mlchecks.data import Dataset
    from mlchecks.result import CheckResult
    from mlchecks.run.session import Session


def champion_profile(session: Session, baseline_of: Callable[[Any], Any] | None = None
                     ) -> dict[str, Any] | None:  # fmt: skip
    """The data profile stored with the champion (the first configured model that has one).

    Drift is then measured against the data the current champion was accepted on; with no
    champion yet, against the profile ``[tool.mlchecks.data_checks] profile`` names
    (``"auto"``: the one shipped for the dataset under ``fixtures/profiles``).

    ``baseline_of(spec)`` reads the champion (default: ``session.baseline``, read once per
    run and kept for the checks).

    Raises:
        MlchecksError: the registry cannot be read (e.g. tampered).
    """
    baseline_of = baseline_of or session.baseline
    for spec in session.settings.models:
        baseline = baseline_of(spec)
        if baseline is not None and baseline.record.data_profile:
            return baseline.record.data_profile
    return None


def memo_folder(session: Session) -> Path:
    """Where the data-check results are memoised (by data content, checks and reference)."""
    settings = session.settings
    return settings.resolve(settings.cache_dir) / "data-checks"


def arrived_classes(session: Session, baseline_of: Callable[[Any], Any] | None = None
                    ) -> list[int]:  # fmt: skip
    """``scenario = "class"``: the classes this data brings that no holdout of the champion's
    lineage held (a learning step of a class-incremental lineage); otherwise none."""
    import numpy as np

    from mlchecks.checks.continual import CLASS, new_classes

    if session.settings.scenario != CLASS:
        return []
    dataset = session.dataset
    baseline_of = baseline_of or session.baseline
    for spec in session.settings.models:
        baseline = baseline_of(spec)
        if baseline is not None:
            labels = np.concatenate([dataset.y_train, dataset.y_test])
            return new_classes(labels, [h.y for h in baseline.holdouts])
    return []


def _inputs(
    session: Session,
    dataset: Dataset | None = None,
    baseline_of: Callable[[Any], Any] | None = None,
) -> tuple[Any, list[Any], Any]:
    # A class-incremental step brings other classes than the champion's data held: their inputs
    # and labels differ from its profile by design, so drift is not measured against it.
    if arrived_classes(session, baseline_of):
        reference = None
    else:
        reference = champion_profile(session, baseline_of) or "auto"
    return dataset or session.dataset, expectations.scopes(session.settings), reference


def _fresh(session: Session) -> Callable[[Any], Any]:
    """``baseline_of`` that reads each champion now, without keeping it (the checks judge the
    one read under the lineage lock: another gate may promote in between)."""
    from mlchecks.run.baseline import load_baseline

    def fresh(spec: Any) -> Any:
        return load_baseline(session.registry, session.lineage(spec))

    return fresh


#: How long :func:`data_checks` waits for a prefetch worker before it checks the data itself.
PREFETCH_TIMEOUT_S = 600.0


class DataWorker:
    """A prefetch worker: its process and the private file that handed it its inputs."""

    def __init__(self, proc: subprocess.Popen[bytes], inputs: Path) -> None:
        self.proc = proc
        self.inputs = inputs

    def wait(self, timeout_s: float) -> None:
        """Until the worker is done (killed after ``timeout_s``); its inputs file removed."""
        try:
            self.proc.wait(timeout=max(0.0, timeout_s))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            self.inputs.unlink(missing_ok=True)


def _great_expectations_imported() -> bool:
    return "great_expectations" in sys.modules


def prefetch(session: Session) -> bool:
    """Start the data checks in a worker process that stores them in the memo; returns whether
    one was started.

    ``mlchecks gate`` calls it once the data is loaded and before the models are, when the memo
    has no results for these inputs yet and Great Expectations is not imported here: the worker
    imports it and checks the data on the second core while the gate loads Keras and the models.
    The worker gets this process's arrays (pickled into a private file, read once and removed),
    never the data's path: it checks the bytes the gate judges. It judges the champion read now;
    the checks later judge the one read under the lineage lock, and their memo key differs if
    another gate promoted in between (they then check the data themselves). Best effort: a
    worker that fails or is late leaves the work to :func:`data_checks`.
    """
    if _great_expectations_imported():
        return False  # checking in this process costs no import
    from mlchecks.errors import MlchecksError

    try:
        dataset, scoped, reference = _inputs(session, baseline_of=_fresh(session))
        folder = memo_folder(session)
        if not scoped or memo.is_memoised(dataset, scoped, reference, folder):
            return False
    except MlchecksError:
        return False  # the gate's own steps report it
    fd, name = tempfile.mkstemp(prefix="mlchecks-data-", suffix=".pickle")
    inputs = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump((dataset, scoped, reference, folder), f, protocol=pickle.HIGHEST_PROTOCOL)
        code = f"from mlchecks.run.data import _worker_main; _worker_main({str(inputs)!r})"
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        inputs.unlink(missing_ok=True)
        return False
    session.data_worker = DataWorker(proc, inputs)
    return True


def _worker_main(inputs: str) -> None:
    """The worker's body: read the inputs once, remove them, check the data into the memo."""
    path = Path(inputs)
    with path.open("rb") as f:
        dataset, scoped, reference, folder = pickle.load(f)  # our own file, made for us
    path.unlink(missing_ok=True)
    memo.run_scopes(dataset, scoped, reference=reference, folder=folder)


def stop_prefetch(session: Session, timeout_s: float = PREFETCH_TIMEOUT_S) -> None:
    """Wait for the run's prefetch worker, if any (``0``: stop it now)."""
    worker, session.data_worker = session.data_worker, None
    if worker is not None:
        worker.wait(timeout_s)


def data_checks(session: Session, dataset: Dataset | None = None) -> dict[str, list[CheckResult]]:
    """Every data check of the run on ``dataset`` (default: the session's), grouped by check id
    (one result per configuration). Waits for a :func:`prefetch` worker first (its results are
    then in the memo)."""
    stop_prefetch(session)
    dataset, scoped, reference = _inputs(session, dataset)
    results = memo.run_scopes(dataset, scoped, reference=reference, folder=memo_folder(session))
    arrived = arrived_classes(session) if reference is None else []
    if arrived and "data.drift" in results:
        from mlchecks.result import CheckResult

        message = (
            f"data drift not judged: this class-incremental step brings classes "
            f"{', '.join(str(c) for c in arrived[:8])} that the champion's data did not hold, "
            "so its inputs and labels differ from the champion's profile by design"
        )
        results["data.drift"] = [
            CheckResult.not_judged("data.drift", "data", message, threshold=r.threshold,
                                   model=r.model)
            for r in results["data.drift"]
        ]  # fmt: skip
    return results


def memoised(session: Session) -> bool:
    """Whether :func:`data_checks` would answer from the memo (Great Expectations not needed).

    Asked before the lineage lock is taken: the champion is read here without keeping it, so
    the checks judge against the champion read under the lock (another gate may promote in
    between)."""
    dataset, scoped, reference = _inputs(session, baseline_of=_fresh(session))
    return memo.is_memoised(dataset, scoped, reference, memo_folder(session))


def prefetching(session: Session) -> bool:
    """Whether a :func:`prefetch` worker is checking the data for this run."""
    return session.data_worker is not None
