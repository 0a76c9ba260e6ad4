"""One run's state: settings, the dataset, models under test, their evaluations, check results.

Shared by the pytest plugin (one per pytest session) and ``mlchecks gate`` (which builds it,
validates the inputs, and hands it to the pytest run of the suites). No pytest import here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mlchecks.checks import CheckResult
from mlchecks.config import ModelSpec, Settings, active_backend
from mlchecks.data import Dataset, load_dataset
from mlchecks.evaluation import Evaluation

if TYPE_CHECKING:
    import numpy as np

    from mlchecks.training import TrainedModel


class Session:
    """Lazily loads what the checks need, once per run, and collects their results."""

    def __init__(
        self,
        settings: Settings,
        dataset: Dataset | None = None,
        models: dict[str, TrainedModel] | None = None,
    ) -> None:
        self.settings = settings
        self._dataset = dataset
        self._models: dict[str, TrainedModel] = dict(models or {})
        self._evaluations: dict[str, Evaluation] = {}
        self.checks: list[CheckResult] = []
        self._lock = threading.Lock()

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = load_dataset(self.settings.data, root=Path(self.settings.root))
        return self._dataset

    @property
    def backend(self) -> str:
        return active_backend()

    def spec(self, name: str) -> ModelSpec:
        for spec in self.settings.models:
            if spec.name == name:
                return spec
        msg = f"no model named {name!r}; configured: {[s.name for s in self.settings.models]}"
        raise KeyError(msg)

    def model(self, spec: ModelSpec) -> TrainedModel:
        """The trained model for ``spec``: in memory, from the model cache, or trained now."""
        if spec.name not in self._models:
            from mlchecks.training import ModelCache, train

            cache = ModelCache(self.settings.resolve(self.settings.cache_dir))
            self._models[spec.name] = train(
                spec,
                self.dataset,
                seed=self.settings.seed,
                deterministic=self.settings.deterministic,
                cache=cache,
            )
        return self._models[spec.name]

    def evaluation(self, spec: ModelSpec) -> Evaluation:
        """Predictions of ``spec``'s model on the test split, computed once."""
        if spec.name not in self._evaluations:
            trained = self.model(spec)
            probs = self.predictions(trained, "test")
            self._evaluations[spec.name] = Evaluation(
                self.dataset.y_test, probs, self.dataset.num_classes
            )
        return self._evaluations[spec.name]

    def predictions(self, trained: TrainedModel, split: str = "test") -> np.ndarray:
        """Model outputs on a split; memoised in the model-cache entry (keyed by data content)."""
        import numpy as np

        from mlchecks.training import predict, save_memo

        x = self.dataset.x_test if split == "test" else self.dataset.x_train
        memo = trained.memo_path(f"predict:{split}:{self.dataset.fingerprint}", ".npy")
        if memo is not None and memo.is_file():
            try:
                probs = np.load(memo, allow_pickle=False)
                if probs.shape[0] == x.shape[0]:
                    return probs
            except (OSError, ValueError):
                pass  # unreadable memo: recompute
        probs = predict(trained.model, x)
        if memo is not None:
            save_memo(memo, lambda p: np.save(p, probs, allow_pickle=False))
        return probs

    def record(self, result: CheckResult) -> None:
        with self._lock:
            self.checks.append(result)
