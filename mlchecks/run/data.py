"""The data checks of a run: the reference profile, the memo folder, and the results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlchecks.data import expectations, memo

if TYPE_CHECKING:
    from mlchecks.data import Dataset
    from mlchecks.result import CheckResult
    from mlchecks.run.session import Session


def champion_profile(session: Session) -> dict[str, Any] | None:
    """The data profile stored with the champion (the first configured model that has one).

    Drift is then measured against the data the current champion was accepted on; with no
    champion yet, against the profile ``[tool.mlchecks.data_checks] profile`` names
    (``"auto"``: the one shipped for the dataset under ``fixtures/profiles``).

    Raises:
        MlchecksError: the registry cannot be read (e.g. tampered).
    """
    for spec in session.settings.models:
        baseline = session.baseline(spec)
        if baseline is not None and baseline.record.data_profile:
            return baseline.record.data_profile
    return None


def memo_folder(session: Session) -> Path:
    """Where the data-check results are memoised (by data content, checks and reference)."""
    settings = session.settings
    return settings.resolve(settings.cache_dir) / "data-checks"


def _inputs(session: Session, dataset: Dataset | None = None) -> tuple[Any, list[Any], Any]:
    reference = champion_profile(session) or "auto"
    return dataset or session.dataset, expectations.scopes(session.settings), reference


def data_checks(session: Session, dataset: Dataset | None = None) -> dict[str, list[CheckResult]]:
    """Every data check of the run on ``dataset`` (default: the session's), grouped by check id
    (one result per configuration)."""
    dataset, scoped, reference = _inputs(session, dataset)
    return memo.run_scopes(dataset, scoped, reference=reference, folder=memo_folder(session))


def memoised(session: Session) -> bool:
    """Whether :func:`data_checks` would answer from the memo (Great Expectations not needed)."""
    dataset, scoped, reference = _inputs(session)
    return memo.is_memoised(dataset, scoped, reference, memo_folder(session))
