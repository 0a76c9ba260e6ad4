"""Seeded, reproducible training; the training record; the cache of trained models.

The only module that imports keras at call time for building, fitting, saving and predicting.
Everything is imported lazily inside functions so that importing mlchecks stays cheap.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks._util.quiet import backend_warnings
from mlchecks.config import ModelSpec, active_backend
from mlchecks.errors import ModelError
from mlchecks.model import archive, zoo
from mlchecks.model.archive import MAX_PARAMETERS

if TYPE_CHECKING:
    import keras

    from mlchecks._util.progress import Progress
    from mlchecks.data import Dataset

CACHE_FORMAT = 1

#: Steps one compiled call of training (and of evaluation, prediction) runs, in the reference
#: compile of a model whose builder left it uncompiled, per Keras backend. A small model's step
#: is mostly per-call dispatch, so several steps per call train the reference MLP 1.75-1.87x
#: as fast on TensorFlow with the same weights (``benchmarks/training_throughput.py``). The
#: PyTorch trainer runs one step per call only.
STEPS_PER_EXECUTION = {"tensorflow": 32, "jax": 32, "torch": 1}

#: The batch of the validation pass after each epoch (the test split; at least the training
#: batch): the batch :func:`predict` runs every model at. A forward pass only, so no weight
#: changes with it, and with fewer, larger batches the pass costs less than half (TensorFlow, the
#: reference MLP at batch 32: 20.5k samples/s with it at 32, 26.9k at 256).
VALIDATION_BATCH = 256


@dataclasses.dataclass(frozen=True)
class TrainingRecord:
    """What happened during one training run (or was recorded when it was cached)."""

    history: dict[str, list[float]]
    epochs: int
    batch_size: int
    seed: int
    wall_time_s: float
    samples_per_s: float
    environment: dict[str, str]
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainingRecord:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


class TrainedModel:
    """A model under test: built and trained by mlchecks, loaded from cache, or a given file.

    The Keras model is ``.model``; ``predict``, ``evaluate``, calling it and ``summary`` are
    forwarded to it, so ``mlchecks_trained_model.predict(x)`` works as on the model itself. Any
    other Keras attribute raises an AttributeError that names ``.model``. Beside it: ``.name``
    (the configured model's), ``.spec`` (its :class:`~mlchecks.config.ModelSpec`), ``.record``
    (the :class:`TrainingRecord`: history, seconds, seed; ``None`` for a given file) and
    ``.path`` (its file, when saved).

    A model from the cache is loaded from disk only when something asks for ``.model``: checks
    that need only its predictions read them from the cache entry, so a warm run need not even
    import Keras.
    """

    #: The Keras model's methods a TrainedModel forwards (everything else: ``.model``).
    FORWARDED = ("predict", "evaluate", "__call__", "summary")

    def __init__(
        self,
        name: str,
        model: keras.Model | None,
        spec: ModelSpec,
        record: TrainingRecord | None = None,
        path: Path | None = None,
        memo_dir: Path | None = None,
    ) -> None:
        if model is None and path is None:
            raise ValueError("a TrainedModel needs a model or a path")
        self.name = name
        self.spec = spec
        self.record = record
        self.path = path
        self.memo_dir = memo_dir
        self._model = model

    @property
    def model(self) -> keras.Model:
        if self._model is None:
            assert self.path is not None
            # A cache entry mlchecks trained and saved: its builder already allocated this model
            # here, so only the archive limits apply, not max_parameters.
            self._model = load_model(self.path, max_parameters=None)
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """``self.model.predict(...)``."""
        with backend_warnings():  # Keras' own deprecation noise is not the user's
            return self.model.predict(*args, **kwargs)

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        """``self.model.evaluate(...)``."""
        with backend_warnings():  # Keras' own deprecation noise is not the user's
            return self.model.evaluate(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``self.model(...)``."""
        with backend_warnings():  # Keras' own deprecation noise is not the user's
            return self.model(*args, **kwargs)

    def summary(self, *args: Any, **kwargs: Any) -> Any:
        """``self.model.summary(...)``."""
        return self.model.summary(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails. An attribute of this class (a property that
        # raised AttributeError inside) or a private name keeps Python's own error.
        if name.startswith("_") or hasattr(type(self), name):
            raise AttributeError(name)
        msg = (
            f"{type(self).__name__} {self.__dict__.get('name')!r} has no attribute {name!r}: "
            f"it wraps the Keras model, which is its .model (use .model.{name}); it forwards "
            f"only {', '.join(self.FORWARDED)}"
        )
        raise AttributeError(msg)

    def memo_path(self, key: str, suffix: str) -> Path | None:
        """Where a result computed from this exact model may be cached (``None``: nowhere)."""
        if self.memo_dir is None:
            return None
        safe = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.memo_dir / f"{safe}{suffix}"


def environment_light() -> dict[str, str]:
    """Keras/backend versions and a device hint without importing Keras (for cache keys)."""
    from importlib import metadata

    from mlchecks.config import active_backend

    def version(*dists: str) -> str:
        for dist in dists:
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                continue
        return "missing"

    backend = active_backend()
    dists = {
        "tensorflow": ("tensorflow", "tensorflow-cpu", "tf-nightly"),
        "jax": ("jax",),
        "torch": ("torch",),
    }.get(backend, (backend,))
    gpu = Path("/dev/nvidia0").exists() and os.environ.get("CUDA_VISIBLE_DEVICES", "x") not in (
        "",
        "-1",
    )
    return {
        "keras": version("keras", "keras-nightly"),
        "backend": backend,
        "backend_version": version(*dists),
        "device": "GPU?" if gpu else "CPU",
    }


def environment() -> dict[str, str]:
    """Keras, backend and device versions: part of every cache key and registry entry."""
    import keras

    backend = keras.backend.backend()
    env = {
        "keras": keras.__version__,
        "backend": backend,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
    }
    env["backend_version"], env["device"] = _backend_details(backend)
    return env


def _backend_details(backend: str) -> tuple[str, str]:
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return tf.__version__, ("GPU" if gpus else "CPU")
    if backend == "jax":
        import jax

        return jax.__version__, str(jax.devices()[0].platform).upper()
    if backend == "torch":
        import torch

        return torch.__version__, ("GPU" if torch.cuda.is_available() else "CPU")
    return "unknown", "CPU"


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and the backend; on TensorFlow also turn on op determinism.

    With both, two processes training the same spec on the same data produce bit-identical
    weights (tested in ``tests/test_training.py``).
    """
    import keras

    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif deterministic and keras.backend.backend() == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


def reference_recipe(backend: str | None = None) -> dict[str, Any]:
    """How mlchecks trains beyond what the spec says (builder, epochs, batch, optimizer), on
    ``backend`` (default: the active one): the steps per execution :func:`build` compiles a
    model its builder left uncompiled with, the validation batch of :func:`fit`. Part of every
    cache key, so a model trained by another recipe is never handed back.

    Example:
        >>> reference_recipe("torch")
        {'steps_per_execution': 1, 'validation_batch_size': 256}
    """
    return {
        "steps_per_execution": STEPS_PER_EXECUTION.get(backend or active_backend(), 1),
        "validation_batch_size": VALIDATION_BATCH,
    }


def build(spec: ModelSpec, dataset: Dataset) -> keras.Model:
    """Build and compile ``spec`` for ``dataset`` (sparse categorical cross-entropy, the
    :func:`reference_recipe`); a model the builder compiled itself keeps its own compile."""
    import keras

    builder = zoo.get(spec.builder)
    try:
        model = builder(dataset.input_shape, dataset.num_classes)
    except ModelError:
        raise
    except Exception as exc:
        msg = f"model builder {spec.builder!r} failed for input {dataset.input_shape}: {exc}"
        raise ModelError(msg) from exc
    if not isinstance(model, keras.Model):
        msg = f"model builder {spec.builder!r} returned {type(model).__name__}, not a keras.Model"
        raise ModelError(msg)
    if not model.compiled:
        optimizer = keras.optimizers.get(spec.optimizer)
        if spec.learning_rate is not None:
            optimizer.learning_rate = spec.learning_rate
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=reference_recipe(keras.backend.backend())["steps_per_execution"],
        )
    return model


def _epoch_callback(progress: Progress, name: str, epochs: int) -> Any:
    """A Keras callback that shows ``epoch k/n`` on the progress line (a terminal only)."""
    import keras

    class EpochProgress(keras.callbacks.Callback):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
            acc = (logs or {}).get("val_accuracy")
            tail = f", validation accuracy {acc:.4f}" if isinstance(acc, float) else ""
            progress.update(f"training {name}: epoch {epoch + 1}/{epochs}{tail}")

    return EpochProgress()


def fit(
    model: keras.Model,
    dataset: Dataset,
    spec: ModelSpec,
    seed: int,
    progress: Progress | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrainingRecord:
    """``model.fit`` on the train split, test split as validation curve (batches of at least
    :data:`VALIDATION_BATCH`); nothing else added (``progress``: say the phase and, on a
    terminal, each epoch; ``callbacks``: more Keras callbacks, e.g. a benchmark's epoch timer,
    which must not change the weights)."""
    callbacks = list(callbacks)
    if progress is not None and progress.enabled:
        epochs = f"{spec.epochs} epoch{'s' if spec.epochs != 1 else ''}"
        progress.phase(f"training {spec.name} ({epochs}, batch {spec.batch_size})")
        callbacks.append(_epoch_callback(progress, spec.name, spec.epochs))
    start = time.perf_counter()
    with backend_warnings():
        history = model.fit(
            dataset.x_train,
            dataset.y_train,
            epochs=spec.epochs,
            batch_size=spec.batch_size,
            validation_data=(dataset.x_test, dataset.y_test),
            validation_batch_size=max(spec.batch_size, VALIDATION_BATCH),
            shuffle=True,
            verbose=0,
            callbacks=callbacks,
        )
    wall = time.perf_counter() - start
    return TrainingRecord(
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=seed,
        wall_time_s=wall,
        samples_per_s=dataset.n_train * spec.epochs / wall if wall > 0 else 0.0,
        environment=environment(),
    )


def train(
    spec: ModelSpec,
    dataset: Dataset,
    seed: int = 0,
    deterministic: bool = True,
    cache: ModelCache | None = None,
    max_parameters: int | None = None,
    progress: Progress | None = None,
) -> TrainedModel:
    """Build and train ``spec`` on ``dataset``, or load it from ``cache`` when already trained.

    ``max_parameters`` bounds a saved model's architecture (see :func:`load_model`; ``None``:
    the default limit). ``progress`` is told the phase (loading, training with its epochs).

    Raises:
        ModelError: the builder cannot be resolved or fails; a saved model cannot be loaded.
    """
    if spec.is_file:
        assert spec.path is not None
        if progress is not None:
            progress.phase(f"loading {spec.name} from {Path(spec.origin or spec.path).name}")
        limit = MAX_PARAMETERS if max_parameters is None else max_parameters
        model = load_model(Path(spec.path), safe_mode=not spec.trusted, max_parameters=limit)
        return TrainedModel(spec.name, model, spec, path=Path(spec.path))
    if cache is None:
        set_seed(seed, deterministic)
        model = build(spec, dataset)
        return TrainedModel(spec.name, model, spec, fit(model, dataset, spec, seed, progress))
    return cache.get_or_train(spec, dataset, seed, deterministic, progress)


def check_archive(path: Path, *, max_parameters: int | None = MAX_PARAMETERS) -> None:
    """Refuse what is not a plausible, reasonably sized Keras 3 archive, running none of it.

    See :func:`mlchecks.model.archive.check_archive` (regular file, zip members judged one by
    one, ``config.json`` bounded, at most ``max_parameters`` weights declared).

    Raises:
        ModelError: missing, a FIFO or other special file, a folder (SavedModel), an HDF5 file,
            not a zip, members missing, a zip bomb, an oversized config or architecture.
    """
    archive.check_archive(path, max_parameters=max_parameters)


# Keras extracts archive members into temporary folders (every member, into tempfile.mkdtemp(),
# when an archive has more than three) and leaves them behind when the extraction fails: a
# member with a broken CRC left 512 MB per run (issue 17, item 9). A load runs with Python's
# temporary folder pointed at a private one that is removed whatever happens; the lock keeps two
# threads' loads from swapping it under each other.
_TEMP_LOCK = threading.Lock()


def load_model(
    path: Path, *, safe_mode: bool = True, max_parameters: int | None = MAX_PARAMETERS
) -> keras.Model:
    """Load a ``.keras`` file; by default in Keras safe mode, so no code from the file runs.

    Args:
        path: the ``.keras`` archive.
        safe_mode: refuse ``Lambda`` layers and other code-carrying deserialisation. Only a
            user who trusts the file's author turns it off (``--trust-candidate``). Defaults
            to ``True``.
        max_parameters: refuse an architecture declaring more weights, before Keras builds
            it (``max_parameters`` in ``[tool.mlchecks]``; ``None``: no limit). Defaults to
            :data:`~mlchecks.model.archive.MAX_PARAMETERS`.

    Raises:
        ModelError: missing, unreadable, corrupt, foreign, oversized or unsafe file.
    """
    check_archive(path, max_parameters=max_parameters)
    import keras

    with _TEMP_LOCK:
        scratch = Path(tempfile.mkdtemp(prefix="mlchecks-load-"))
        saved, tempfile.tempdir = tempfile.tempdir, str(scratch)
        try:
            with backend_warnings():
                # A model compiled but never trained was saved with an optimizer that holds no
                # slots yet; Keras warns that it skips them. Nothing judged depends on optimizer
                # state (the speed A/B trains fresh copies), and a caller running under
                # ``-W error`` would see Keras turn that warning into a failed load, so a
                # loadable model refused as unreadable: the warning is not escalated here.
                skipped = "Skipping variable loading for optimizer"
                warnings.filterwarnings("ignore", message=skipped, category=UserWarning)
                model = keras.saving.load_model(path, safe_mode=safe_mode)
        except Exception as exc:  # keras raises ValueError, TypeError, KeyError, OSError...
            text = " ".join(str(exc).split())
            if safe_mode and ("safe_mode" in text or "Lambda" in text):
                msg = (
                    f"model file {path} carries Python code (a Lambda layer or other "
                    "code-carrying deserialisation) and candidates load in Keras safe mode, so "
                    "it was refused without running it; pass --trust-candidate only if you "
                    "trust its author"
                )
                raise ModelError(msg) from None
            msg = f"model file {path} cannot be loaded ({type(exc).__name__}: {text[:300]})"
            raise ModelError(msg) from None
        finally:
            tempfile.tempdir = saved
            shutil.rmtree(scratch, ignore_errors=True)
    # A file keeps the steps per execution it was compiled with (several under TensorFlow or
    # JAX: the reference recipe, or a user's); the PyTorch trainer refuses to predict, evaluate
    # or fit with more than one. How many steps one call runs changes no result.
    if keras.backend.backend() == "torch" and getattr(model, "steps_per_execution", 1) > 1:
        model.steps_per_execution = 1
    return model


def predict(model: keras.Model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class probabilities (or raw outputs) as a float32 array, without progress output."""
    with backend_warnings():
        out = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(out, dtype=np.float32)


def quiet_retracing() -> None:
    """Silence TensorFlow's retracing warnings where each candidate is a new model (evolve):
    expected there, and noise on the terminal."""
    if active_backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")


def serialize(model: Any) -> dict[str, Any]:
    """The Keras serialisation of an in-memory model (architecture + ``compile_config``).

    Raises:
        ModelError: ``model`` is not a ``keras.Model``.
    """
    import keras

    if not isinstance(model, keras.Model):
        msg = (
            f"the lint needs a keras.Model, a .keras file or a TrainedModel; received "
            f"{type(model).__name__}"
        )
        raise ModelError(msg)
    return keras.saving.serialize_keras_object(model)  # type: ignore[no-any-return]


def weights_digest(model: keras.Model) -> str:
    """sha256 of all weights: equal digests mean bit-identical models."""
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def builder_source_digest(identifier: str) -> str | None:
    """sha256 of the code of a model builder: the bytes of the file its function is defined in
    and of the module its import path names (when that only re-exports it). ``None`` when the
    code has no source file to read (the cache is then not used for it).

    Editing the builder's module under the same import path changes the digest, so the cache
    never hands back a model trained by the older code. Code the builder imports from other
    modules is not covered: edit those and clear the cache (``cache_dir``).
    """
    import functools
    import inspect
    import sys

    builder: Any = zoo.get(identifier)
    while isinstance(builder, functools.partial):
        builder = builder.func
    builder = inspect.unwrap(builder)
    target = builder if inspect.isfunction(builder) or inspect.isclass(builder) else type(builder)
    files: list[str | None] = []
    try:
        files.append(inspect.getsourcefile(target))
    except TypeError:
        files.append(None)
    if ":" in identifier:
        module = sys.modules.get(identifier.partition(":")[0])
        files.append(getattr(module, "__file__", None))
    if files[0] is None:
        return None
    h = hashlib.sha256()
    for name in dict.fromkeys(f for f in files if f):  # contents only: a moved checkout hits
        try:
            h.update(Path(name).read_bytes())
        except OSError:
            return None
    return h.hexdigest()


class ModelCache:
    """Trained models on disk, keyed by spec, builder code, data fingerprint, seed, compile recipe
    and versions.

    Layout: ``<root>/<key>/{model.keras,record.json}``. An entry is written into a temporary
    folder beside it and renamed into place, so a reader sees a whole entry or none; a file lock
    per key makes concurrent pytest-xdist workers train each model once.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def key(self, spec: ModelSpec, dataset: Dataset, seed: int, deterministic: bool) -> str:
        env = environment_light()
        payload = {
            "format": CACHE_FORMAT,
            "spec": spec.cache_fields(),
            "builder_source": builder_source_digest(spec.builder),
            "data": dataset.fingerprint,
            "seed": seed,
            "deterministic": deterministic,
            "recipe": reference_recipe(env["backend"]),
            "keras": env["keras"],
            "backend": env["backend"],
            "backend_version": env["backend_version"],
            "device": env["device"],
        }
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]
        return f"{spec.name}-{digest}"

    def get_or_train(
        self,
        spec: ModelSpec,
        dataset: Dataset,
        seed: int,
        deterministic: bool,
        progress: Progress | None = None,
    ) -> TrainedModel:
        from filelock import FileLock

        if builder_source_digest(spec.builder) is None:  # no code to key on: never reuse
            set_seed(seed, deterministic)
            model = build(spec, dataset)
            return TrainedModel(spec.name, model, spec, fit(model, dataset, spec, seed, progress))
        key = self.key(spec, dataset, seed, deterministic)
        entry = self.root / key
        self.root.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.root / f"{key}.lock")):
            hit = self._load(spec, entry)
            if hit is not None:
                if progress is not None:
                    progress.phase(f"{spec.name}: trained model from the cache")
                return hit
            set_seed(seed, deterministic)
            model = build(spec, dataset)
            record = fit(model, dataset, spec, seed, progress)
            self._store(entry, model, record)
            return TrainedModel(
                spec.name, model, spec, record, entry / "model.keras", memo_dir=entry / "memo"
            )

    def _load(self, spec: ModelSpec, entry: Path) -> TrainedModel | None:
        model_path, record_path = entry / "model.keras", entry / "record.json"
        if not (model_path.is_file() and record_path.is_file()):
            return None
        try:
            record = TrainingRecord.from_json(json.loads(record_path.read_text()))
        except (ValueError, TypeError, OSError):
            shutil.rmtree(entry, ignore_errors=True)  # unreadable entry: retrain
            return None
        record = dataclasses.replace(record, cached=True)
        # The model file itself is loaded on first use (TrainedModel.model).
        return TrainedModel(spec.name, None, spec, record, model_path, memo_dir=entry / "memo")

    def _store(self, entry: Path, model: keras.Model, record: TrainingRecord) -> None:
        from mlchecks._util import faults

        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=self.root))
        try:
            with backend_warnings():
                model.save(tmp / "model.keras")
            faults.point("cache:after-model")
            (tmp / "record.json").write_text(json.dumps(record.to_json(), indent=1))
            for name in ("model.keras", "record.json"):
                with open(tmp / name, "rb") as f:
                    os.fsync(f.fileno())
            faults.point("cache:before-rename")
            if entry.exists():
                shutil.rmtree(entry)
            os.rename(tmp, entry)
            faults.point("cache:after-rename")
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def save_memo(path: Path, write: Any) -> bool:
    """Write a memo file atomically (``write(tmp_path)`` then rename); see
    :func:`mlchecks._util.io.try_write`: a failed write is skipped. Returns whether it was
    written."""
    from mlchecks._util.io import try_write

    return try_write(path, write)
