"""Which device a measurement ran on, and waiting for it: CPU name, GPU presence, sync.

:func:`device_info` names the backend, its version and the device kind/name (kept with every
figure); :func:`machine_id` keys memoised figures per machine; :func:`sync` and
:func:`sync_model` wait for asynchronous device work before a timer is read.

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras


# --- machine and device ---------------------------------------------------------------------


def cpu_name() -> str:
    """The CPU model and the number of cores this process may use, e.g. ``AMD EPYC (2 cores)``."""
    name = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if found:
            name = found.group(1).strip()
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{name} ({cores} cores)"


def machine_id() -> str:
    """A short id of this machine (host, CPU, cores): memoised figures are per machine."""
    text = f"{platform.node()}|{cpu_name()}|{platform.machine()}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclasses.dataclass(frozen=True)
class DeviceInfo:
    """Where the backend runs: ``kind`` is ``CPU`` or ``GPU``; ``name`` the model of it."""

    kind: str
    name: str
    backend: str
    backend_version: str
    keras_version: str

    def to_json(self) -> dict[str, str]:
        return dataclasses.asdict(self)


def device_info() -> DeviceInfo:
    """The device the active Keras backend computes on by default (imports Keras)."""
    import keras

    backend = keras.backend.backend()
    version, kind, name = "unknown", "CPU", cpu_name()
    if backend == "tensorflow":
        import tensorflow as tf

        version = tf.__version__
        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            kind = "GPU"
            details = tf.config.experimental.get_device_details(gpus[0])
            name = str(details.get("device_name", gpus[0].name))
    elif backend == "jax":
        import jax

        version = jax.__version__
        dev = jax.devices()[0]
        if dev.platform == "gpu":
            kind, name = "GPU", str(getattr(dev, "device_kind", "GPU"))
    elif backend == "torch":
        import torch

        version = torch.__version__
        if torch.cuda.is_available():
            kind, name = "GPU", torch.cuda.get_device_name(0)
    return DeviceInfo(kind, name, backend, version, keras.__version__)


def gpu_unavailable_reason() -> str | None:
    """Why the active backend cannot benchmark a GPU here, or ``None`` when it can."""
    info = device_info()
    if info.kind == "GPU":
        return None
    hint = {
        "tensorflow": "tf.config.list_physical_devices('GPU') is empty; install "
        "'mlchecks[gpu]' (tensorflow[and-cuda]) on a machine with an NVIDIA GPU",
        "jax": "jax.devices() has no GPU; install jax[cuda12] on a machine with an NVIDIA GPU",
        "torch": "torch.cuda.is_available() is False; install a CUDA build of torch",
    }.get(info.backend, "the backend sees no GPU")
    return f"no GPU visible to the {info.backend} backend ({hint}); GPU benchmarks skipped"


def sync(value: Any = None) -> None:
    """Wait until the device has finished the work queued so far, so timings are honest.

    GPU work is asynchronous: without this a timer measures the launch, not the work. JAX:
    ``block_until_ready``; torch: ``torch.cuda.synchronize``; TensorFlow: copy a result to numpy
    (TF has no global barrier; the copy waits for the op that produced ``value``). On a CPU the
    backends compute synchronously and this costs next to nothing.

    Args:
        value: a tensor, variable, or a (nested) list of them produced by the work to wait for.
            Defaults to nothing (only torch can then wait).
    """
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return
    if value is None:
        return
    leaves = [getattr(v, "value", v) for v in _leaves(value)]
    if backend == "jax":
        import jax

        jax.block_until_ready(leaves)
    elif leaves:
        np.asarray(leaves[-1])


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in _leaves(v)]
    return [value]


def sync_model(model: keras.Model) -> None:
    """Wait for pending updates of ``model``'s weights (after a training round)."""
    weights = model.trainable_variables
    sync(weights[-1:] if weights else None)
