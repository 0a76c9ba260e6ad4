"""Peak memory while a block runs: the process resident set (CPU) and the device's (GPU).

Used around the training measurement for ``speed.peak_memory`` (recorded, never blocking).

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

# --- memory ---------------------------------------------------------------------------------


class PeakMemory:
    """Peak memory while a block runs: process resident set (CPU) and the device's (GPU).

    The process peak is Linux's ``VmHWM``, reset by writing ``5`` to ``/proc/self/clear_refs``
    before the block, so the figure is the peak *during* the block (Keras and the backend's
    runtime included), not since the process started. Elsewhere it falls back to
    ``ru_maxrss`` (peak since start). GPU peaks come from the backend's allocator statistics.
    """

    def __init__(self, device: str = "CPU") -> None:
        self.device = device
        self.rss_peak_mib: float | None = None
        self.rss_before_mib: float | None = None
        self.device_peak_mib: float | None = None
        self.scope = "block"

    def __enter__(self) -> PeakMemory:
        self.rss_before_mib = _status_mib("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.scope = "process"
        if self.device == "GPU":
            _reset_device_peak()
        return self

    def __exit__(self, *exc: object) -> None:
        peak = _status_mib("VmHWM")
        if peak is None:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            self.scope = "process"
        self.rss_peak_mib = peak
        if self.device == "GPU":
            self.device_peak_mib = _device_peak_mib()

    def to_json(self) -> dict[str, Any]:
        return {
            "rss_peak_mib": self.rss_peak_mib,
            "rss_before_mib": self.rss_before_mib,
            "device_peak_mib": self.device_peak_mib,
            "scope": self.scope,
        }


def _status_mib(field: str) -> float | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024.0 if found else None


def _reset_device_peak() -> None:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            torch.cuda.reset_peak_memory_stats()
        elif backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.reset_memory_stats("GPU:0")
    except (RuntimeError, ValueError):  # pragma: no cover - allocator without statistics
        pass


def _device_peak_mib() -> float | None:
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            return float(torch.cuda.max_memory_allocated()) / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            return float(tf.config.experimental.get_memory_info("GPU:0")["peak"]) / 2**20
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            peak = stats.get("peak_bytes_in_use")
            return None if peak is None else float(peak) / 2**20
    except (RuntimeError, ValueError, KeyError):  # pragma: no cover
        return None
    return None
