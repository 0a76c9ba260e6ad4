"""The data checks of a run: the reference profile, the memo folder, and the results."""

from __future__ import annotations

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


def data_checks(session: Session, dataset: Dataset | None = None) -> dict[str, list[CheckResult]]:
    """Every data check of the run on ``dataset`` (default: the session's), grouped by check id
    (one result per configuration)."""
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
    from mlchecks.run.baseline import load_baseline

    def fresh(spec: Any) -> Any:
        return load_baseline(session.registry, session.lineage(spec))

    dataset, scoped, reference = _inputs(session, baseline_of=fresh)
    return memo.is_memoised(dataset, scoped, reference, memo_folder(session))
