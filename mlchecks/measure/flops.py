"""FLOPs of a model's forward pass and training step, counted from its layers.

:func:`count_flops` counts Dense, convolution and the other layers it knows (and names those it
cannot count); :func:`normalised` turns a samples/s figure into the fraction of the machine's
matmul rate it uses. That figure measures how well a model uses the hardware, not what it costs
the user to train, so it is information only; ``speed.training`` compares seconds per step in a
same-run A/B (:mod:`mlchecks.measure.ab`).

No pytest here; Keras and the backend are imported lazily, inside the functions that need them.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from mlchecks.measure.calibration import Calibration
from mlchecks.measure.timing import TRAIN_FLOPS_FACTOR

if TYPE_CHECKING:
    import keras


# --- FLOPs ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FlopCount:
    """FLOPs per sample of a model's forward pass, counted from its layers.

    Attributes:
        forward: FLOPs of one sample's forward pass (multiply and add count as 2).
        by_layer: FLOPs per counted layer (name -> FLOPs).
        uncounted: names of layers with weights whose FLOPs could not be counted (their cost
            is missing from ``forward``, so the normalised figure is a lower bound).
    """

    forward: float
    by_layer: dict[str, float]
    uncounted: tuple[str, ...] = ()

    @property
    def train(self) -> float:
        """FLOPs of one sample's training step: ``TRAIN_FLOPS_FACTOR`` x forward."""
        return TRAIN_FLOPS_FACTOR * self.forward

    def to_json(self) -> dict[str, Any]:
        return {
            "forward": self.forward,
            "train": self.train,
            "by_layer": self.by_layer,
            "uncounted": list(self.uncounted),
            "train_factor": TRAIN_FLOPS_FACTOR,
        }


def count_flops(model: keras.Model) -> FlopCount:
    """Count the forward FLOPs per sample of ``model`` from its Dense and convolution layers.

    Dense: ``2 * in * units`` per position (a Dense on ``(steps, features)`` applies per step).
    Conv1D/2D/3D: ``2 * prod(kernel) * in_channels/groups * filters`` per output position.
    DepthwiseConv2D and SeparableConv2D are counted too. Activations, pooling, normalisation
    and biases are a few FLOPs per value, negligible next to these products, and are not
    counted. Nested models are counted layer by layer.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128),
        ...                       keras.layers.Dense(10)])
        >>> count_flops(m).forward == 2 * (784 * 128 + 128 * 10)
        True
    """
    by_layer: dict[str, float] = {}
    uncounted: list[str] = []
    for layer in _walk(model):
        flops = _layer_flops(layer)
        if flops is None:
            if layer.weights and not _is_cheap(layer):
                uncounted.append(layer.name)
            continue
        if flops > 0:
            by_layer[layer.name] = float(flops)
    return FlopCount(float(sum(by_layer.values())), by_layer, tuple(uncounted))


def _walk(model: Any) -> list[Any]:
    out = []
    for layer in getattr(model, "layers", []):
        if getattr(layer, "layers", None) and not _layer_kind(layer):
            out.extend(_walk(layer))  # a nested model or a wrapper of layers
        else:
            out.append(layer)
    return out


def _layer_kind(layer: Any) -> str:
    names = [c.__name__ for c in type(layer).__mro__]
    for kind in ("SeparableConv", "DepthwiseConv", "Conv", "Dense"):
        if any(n.startswith(kind) or n == f"Base{kind}" for n in names):
            return kind
    return ""


def _is_cheap(layer: Any) -> bool:
    names = {c.__name__ for c in type(layer).__mro__}
    cheap = {
        "BatchNormalization",
        "LayerNormalization",
        "Normalization",
        "Embedding",
        "GroupNormalization",
        "UnitNormalization",
        "Rescaling",
    }
    return bool(names & cheap)


def _positions(layer: Any, keep_last: int = 1) -> int | None:
    """Product of the output's non-batch dims except the last ``keep_last`` (channels)."""
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):
        return None
    dims = shape[1 : len(shape) - keep_last] if keep_last else shape[1:]
    if any(d is None for d in dims):
        return None
    return int(np.prod(dims)) if dims else 1


def _layer_flops(layer: Any) -> float | None:
    kind = _layer_kind(layer)
    if not kind or not getattr(layer, "built", False):
        return None
    if kind == "Dense":
        kernel = getattr(layer, "kernel", None)
        if kernel is None or len(kernel.shape) != 2:
            return None
        positions = _positions(layer)
        return 2.0 * int(kernel.shape[0]) * int(kernel.shape[1]) * (positions or 1)
    positions = _positions(layer)
    if positions is None:
        return None
    if kind == "SeparableConv":
        depth = getattr(layer, "depthwise_kernel", None)
        point = getattr(layer, "pointwise_kernel", None)
        if depth is None or point is None:
            return None
        per_position = int(np.prod(depth.shape)) + int(np.prod(point.shape))
        return 2.0 * per_position * positions
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        return None
    if kind == "DepthwiseConv":
        # kernel (*k, in_channels, multiplier): one k-window per output channel
        return 2.0 * int(np.prod(kernel.shape)) * positions
    # Conv kernel (*k, in_channels / groups, filters): prod(kernel) MACs per output position
    return 2.0 * int(np.prod(kernel.shape)) * positions


def normalised(samples_per_s: float, flops_per_sample: float, calibration: Calibration) -> float:
    """Model FLOPs/s as a fraction of the calibration's FLOPs/s (0 when either is unknown).

    Example:
        >>> cal = Calibration(100.0, 110.0, "CPU", "numpy", 1024, 5)
        >>> normalised(50_000, 600_000, cal)   # 30 GFLOP/s of a 100 GFLOP/s machine
        0.3
    """
    if calibration.gflops <= 0 or flops_per_sample <= 0:
        return 0.0
    return samples_per_s * flops_per_sample / (calibration.gflops * 1e9)
