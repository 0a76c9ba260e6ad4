"""One run's state: settings, the dataset, models under test, their evaluations, check results.

Shared by the pytest plugin (one per pytest session) and ``mlchecks gate`` (which builds it,
validates the inputs, and hands it to the pytest run of the suites). No pytest import here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mlchecks._util.progress import SILENT, Progress
from mlchecks.config import ModelSpec, Settings, active_backend
from mlchecks.data import Dataset, load_dataset
from mlchecks.result import CheckResult
from mlchecks.stats.evaluation import Evaluation

if TYPE_CHECKING:
    import numpy as np

    from mlchecks.model.training import TrainedModel
    from mlchecks.registry import Registry
    from mlchecks.run.baseline import Baseline
    from mlchecks.run.data import DataWorker


def output_units(model: object) -> int | None:
    """The width of a Keras model's (first) output, without importing Keras."""
    try:
        width = model.outputs[0].shape[-1]  # type: ignore[attr-defined]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return int(width) if isinstance(width, int) and width > 0 else None


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
        # Reseeds (--mlchecks-seeds) kept apart: reports list the models under test only.
        self._seed_models: dict[tuple[str, int], TrainedModel] = {}
        self._evaluations: dict[str, Evaluation] = {}
        self.checks: list[CheckResult] = []
        self._lock = threading.Lock()
        # Baselines, holdout predictions and regression results (mlchecks.run.gate), per run.
        self.gate_memo: dict[tuple[str, ...], object] = {}
        self._registry: Registry | None = None
        # Where long work says what it is doing (mlchecks gate shows it; silent elsewhere).
        self.progress: Progress = SILENT
        # A worker process checking the data (mlchecks.run.data.prefetch), until waited for.
        self.data_worker: DataWorker | None = None

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = load_dataset(self.settings.data, root=Path(self.settings.root),
                                         max_bytes=self.settings.max_data_bytes,
                                         classes=self.settings.classes)  # fmt: skip
        return self._dataset

    @property
    def backend(self) -> str:
        return active_backend()

    def fit_heads(self) -> None:
        """Put the data in the class space of the saved models' output heads (a head wider
        than the labels: the lineage's classes not all in this data), before any check.

        Raises:
            DataError: a label the head of a saved model cannot predict (exit 2).
        """
        from mlchecks.data.dataset import fit_head

        dataset = self.dataset
        for spec in self.settings.models:
            if spec.is_file:
                units = output_units(self.model(spec).model)
                if units is not None:
                    dataset = fit_head(dataset, units, spec.origin or spec.path or spec.name)
        if dataset is not self._dataset:
            self._dataset = dataset
            self._evaluations.clear()

    def spec(self, name: str) -> ModelSpec:
        for spec in self.settings.models:
            if spec.name == name:
                return spec
        msg = f"no model named {name!r}; configured: {[s.name for s in self.settings.models]}"
        raise KeyError(msg)

    def model(self, spec: ModelSpec) -> TrainedModel:
        """The trained model for ``spec``: in memory, from the model cache, or trained now."""
        if spec.name not in self._models:
            from mlchecks.model.training import ModelCache, train

            cache = ModelCache(self.settings.resolve(self.settings.cache_dir))
            self._models[spec.name] = train(
                spec,
                self.dataset,
                seed=self.settings.seed,
                deterministic=self.settings.deterministic,
                cache=cache,
                max_parameters=self.settings.max_parameters,
                progress=self.progress,
            )
        return self._models[spec.name]

    def model_for_seed(self, spec: ModelSpec, seed: int) -> TrainedModel:
        """``spec`` trained with another seed (``--mlchecks-seeds``), cached like the main one."""
        if seed == self.settings.seed:
            return self.model(spec)
        key = (spec.name, seed)
        if key not in self._seed_models:
            from mlchecks.model.training import ModelCache, train

            cache = ModelCache(self.settings.resolve(self.settings.cache_dir))
            self._seed_models[key] = train(
                spec, self.dataset, seed=seed, deterministic=self.settings.deterministic,
                cache=cache, max_parameters=self.settings.max_parameters,
            )  # fmt: skip
        return self._seed_models[key]

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
        x = self.dataset.x_test if split == "test" else self.dataset.x_train
        return self.predictions_on(trained, f"{split}:{self.dataset.fingerprint}", x)

    def predictions_on(self, trained: TrainedModel, key: str, x: np.ndarray) -> np.ndarray:
        """Model outputs on other inputs (e.g. a registry holdout) named by a content ``key``;
        memoised in the model-cache entry like :meth:`predictions`."""
        import numpy as np

        from mlchecks._util.io import try_write as save_memo
        from mlchecks.model.training import predict

        memo = trained.memo_path(f"predict:{key}", ".npy")
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

    @property
    def registry(self) -> Registry:
        """The model registry of this run (``registry`` setting / ``--registry``)."""
        if self._registry is None:
            from mlchecks.registry import open_registry

            self._registry = open_registry(self.settings.registry, root=Path(self.settings.root))
        return self._registry

    def lineage(self, spec: ModelSpec) -> str:
        """The registry lineage of ``spec``: its own name, or ``<name>.<model>`` when a
        ``name`` other than the default is set for configured models."""
        from mlchecks.registry import validate_name

        name = self.settings.name
        if spec.name == name or name == "default":
            return validate_name(spec.name)
        return validate_name(f"{name}.{spec.name}")

    def baseline(self, spec: ModelSpec) -> Baseline | None:
        """What ``spec`` is judged against: its lineage's champion and history (``None``: no
        champion yet). Read from the registry once per run."""
        from mlchecks.run.baseline import load_baseline

        key = ("baseline", spec.name)
        if key not in self.gate_memo:
            self.gate_memo[key] = load_baseline(self.registry, self.lineage(spec))
        return self.gate_memo[key]  # type: ignore[return-value]

    def record(self, result: CheckResult) -> None:
        with self._lock:
            self.checks.append(result)
