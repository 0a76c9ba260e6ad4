"""What a ``.keras`` archive declares, judged before Keras builds or extracts anything.

A ``.keras`` file is a zip of ``config.json`` (the architecture), ``metadata.json`` and
``model.weights.h5``. Keras builds every layer from the config (allocating its weights) before
it reads a single weight, so a 27 KB file whose config declares a 30000x30000 ``Dense`` layer
reached 18.3 GB resident before failing (issue 17, item 7). :func:`check_archive` refuses,
without importing Keras:

- what is not a regular file (a FIFO blocks forever), a folder, HDF5, not a zip;
- members that inflate beyond :data:`KERAS_LIMITS` (judged member by member);
- a ``config.json`` over :data:`MAX_CONFIG_BYTES`, not JSON, or nested absurdly deep;
- an architecture of more than ``max_parameters`` weights (default :data:`MAX_PARAMETERS`),
  counted from the config by :func:`estimate_parameters`.

No Keras import here; numbers only.
"""

from __future__ import annotations

import dataclasses
import json
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlchecks._util.archive import GiB, MiB, ZipLimits, not_regular, read_member, zip_problem
from mlchecks.errors import ModelError

# 50 M weights: 4x the largest model the gate is meant for in its tests and far above the
# reference MLP/CNN (~0.1 M) and the Keras applications a small team gates (MobileNetV2 3.5 M,
# ResNet50 25.6 M); 200 MB of float32 weights, x3 with Adam's state. Raise it with
# max_parameters in [tool.mlchecks] for a larger model whose author you trust.
MAX_PARAMETERS = 50_000_000
# Keras writes members uncompressed; a member re-zipped with deflate shrinks ~1.1x (weights) to
# ~20x (JSON). 100:1 is Keras' own limit for members it extracts (saving_lib.py), applied here
# from 1 MiB up rather than from 256 MiB, and per member, so padding cannot dilute it.
KERAS_LIMITS = ZipLimits(
    max_member_bytes=4 * GiB, max_total_bytes=4 * GiB, max_ratio=100, ratio_floor_bytes=MiB
)
# DenseNet121's config is 0.4 MB, ResNet50's 0.17 MB; json.loads holds ~10x the text.
MAX_CONFIG_BYTES = 16 * MiB
MAX_CONFIG_DEPTH = 200  # JSON nesting; deeper is refused before json.loads recurses into it

# Layers without weights (exact names, then name prefixes).
_NO_WEIGHTS = frozenset({
    "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Dropout", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Activation", "ReLU",
    "LeakyReLU", "ELU", "Softmax", "Identity", "Masking", "Rescaling", "Resizing", "CenterCrop",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "CategoryEncoding", "Hashing", "UnitNormalization", "Lambda",
})  # fmt: skip
_NO_WEIGHTS_PREFIXES = ("MaxPool", "AveragePool", "AvgPool", "GlobalMaxPool", "GlobalAveragePool",
                        "GlobalAvgPool", "Cropping", "ZeroPadding", "UpSampling",
                        "SpatialDropout", "Random")  # fmt: skip
_NESTED = frozenset({"Functional", "Sequential", "Model"})


@dataclasses.dataclass(frozen=True)
class ParameterEstimate:
    """The weights a config declares: in all, and its largest layer.

    Attributes:
        total: weights of every layer (trainable and not: ``model.count_params()``).
        largest: ``(layer name, class name, weights)`` of the largest layer.
        guessed: names of layers whose count is a conservative guess (an unknown layer class,
            or an input width the config does not record).
    """

    total: int
    largest: tuple[str, str, int]
    guessed: tuple[str, ...]


def check_archive(path: Path, *, max_parameters: int | None = MAX_PARAMETERS) -> dict[str, Any]:
    """Refuse what is not a plausible, reasonably sized Keras 3 archive, running none of it.

    Args:
        path: the ``.keras`` file.
        max_parameters: the most weights the architecture may declare (``None``: no limit).
            Defaults to :data:`MAX_PARAMETERS`.

    Returns:
        The archive's ``config.json``, parsed.

    Raises:
        ModelError: missing, not a regular file (a FIFO), a folder (SavedModel), an HDF5
            file, not a zip, members missing, a zip bomb, an unreadable or oversized config,
            or more than ``max_parameters`` weights.
    """
    config = read_config(path)
    if max_parameters is None:
        return config
    estimate = estimate_parameters(config)
    if estimate.total > max_parameters:
        name, kind, count = estimate.largest
        guessed = (
            f"; counted conservatively for {', '.join(estimate.guessed[:3])}"
            if estimate.guessed
            else ""
        )
        msg = (
            f"model file {path} declares {estimate.total:,} weights (largest: layer {name!r}, "
            f"{kind}, {count:,}{guessed}), more than max_parameters {max_parameters:,}; refused "
            "before building it (~4 bytes a weight). Raise max_parameters in [tool.mlchecks] "
            "if you trust this file and the machine has the memory"
        )
        raise ModelError(msg)
    return config


def read_config(path: Path) -> dict[str, Any]:
    """The parsed ``config.json`` of the Keras archive ``path``, read within bounds.

    Raises:
        ModelError: see :func:`check_archive` (all but the parameter count).
    """
    problem = not_regular(path)
    if problem == "does not exist":
        msg = f"model file {path} does not exist; give the path of a saved .keras file"
        raise ModelError(msg)
    if path.is_dir():
        msg = (
            f"model {path} is a folder (a TensorFlow SavedModel?), not a .keras file; mlchecks "
            "judges Keras 3 archives: load it in Keras and save it with model.save('model.keras')"
        )
        raise ModelError(msg)
    if problem is not None:
        msg = f"model file {path} {problem}; give the path of a saved .keras file"
        raise ModelError(msg)
    if path.suffix.lower() in (".h5", ".hdf5"):
        msg = (
            f"model file {path} is a legacy HDF5 model; mlchecks judges Keras 3 archives: load it "
            "with keras.saving.load_model and re-save it with model.save('model.keras')"
        )
        raise ModelError(msg)
    if path.suffix != ".keras":
        msg = (
            f"model file {path} is not a .keras file; save the model with "
            "model.save('model.keras') (Keras 3 format)"
        )
        raise ModelError(msg)
    if not zipfile.is_zipfile(path):
        msg = (
            f"model file {path} is not a Keras 3 archive (not a zip file: truncated, or another "
            "kind of file); re-save it with model.save('model.keras')"
        )
        raise ModelError(msg)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            if "config.json" not in names:
                msg = (
                    f"model file {path} is a zip archive without config.json, so not a Keras "
                    f"model (members: {sorted(names)[:5]}); re-save it with model.save()"
                )
                raise ModelError(msg)
            problem = zip_problem(infos, path.stat().st_size, KERAS_LIMITS)
            if problem is not None:
                msg = f"model file {path}: {problem}; refused before loading"
                raise ModelError(msg)
            text = read_member(archive, "config.json", MAX_CONFIG_BYTES)
    except ModelError:
        raise
    except ValueError as exc:  # read_member's limit
        msg = f"model file {path}: {exc} (config.json); refused before parsing it"
        raise ModelError(msg) from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        msg = f"model file {path} is a damaged zip archive ({exc}); re-save it with model.save()"
        raise ModelError(msg) from None
    return _parse_config(path, text)


def _parse_config(path: Path, text: bytes) -> dict[str, Any]:
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:  # brackets outside strings: json.loads would recurse this deep
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    if deepest > MAX_CONFIG_DEPTH:
        msg = (
            f"model file {path} has a config.json nested {deepest} levels deep (limit "
            f"{MAX_CONFIG_DEPTH}); not a Keras model config: re-save it with model.save()"
        )
        raise ModelError(msg)
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as exc:
        msg = (
            f"model file {path} cannot be loaded: its config.json is not readable JSON ({exc}); "
            "re-save it with model.save()"
        )
        raise ModelError(msg) from None
    if not isinstance(config, dict):
        msg = f"model file {path} holds a config of type {type(config).__name__}, not a model"
        raise ModelError(msg)
    return config


# ----------------------------------------------------------------------------- parameters
def estimate_parameters(config: dict[str, Any]) -> ParameterEstimate:
    """The weights a Keras 3 model config declares, counted from layer shapes alone.

    Exact for the layers Keras ships with weights that matter (``Dense``, ``EinsumDense``
    (bounded), ``Conv1D/2D/3D`` and their transposes, depthwise and separable convolutions,
    ``Embedding``, ``SimpleRNN``/``GRU``/``LSTM`` and ``ConvLSTM*``, ``Bidirectional``,
    ``TimeDistributed``, ``MultiHeadAttention``, the normalisations, ``PReLU``), zero for
    layers without weights, recursive for nested models. Each layer's input width comes from
    its ``build_config`` (or the tensors it is called on). Conservative otherwise: a layer
    whose input width is not recorded is taken as wide as its own output, and a layer class
    not listed here as ``in x m + m`` weights with ``m`` the largest number in its config.
    """
    counts: list[tuple[str, str, int, bool]] = []
    for entry, in_shape in _layers(config):
        kind = str(entry.get("class_name", "?"))
        cfg = entry["config"] if isinstance(entry.get("config"), dict) else {}
        name = str(cfg.get("name") or entry.get("name") or kind)
        count, guessed = _layer_weights(kind, cfg, in_shape)
        counts.append((name, kind, count, guessed))
    if not counts:
        return ParameterEstimate(0, ("", "", 0), ())
    largest = max(counts, key=lambda c: c[2])
    return ParameterEstimate(
        total=sum(c[2] for c in counts),
        largest=(largest[0], largest[1], largest[2]),
        guessed=tuple(c[0] for c in counts if c[3]),
    )


def _layers(entry: Any, depth: int = 0) -> Iterator[tuple[dict[str, Any], Any]]:
    """Every leaf layer of a model config with its recorded input shape (nested models
    recursed into)."""
    if not isinstance(entry, dict) or depth > MAX_CONFIG_DEPTH:
        return
    cfg = entry.get("config")
    if entry.get("class_name") in _NESTED and isinstance(cfg, dict):
        for layer in cfg.get("layers") or []:
            yield from _layers(layer, depth + 1)
        return
    if isinstance(cfg, dict):
        yield entry, _input_shape(entry)


def _input_shape(entry: dict[str, Any]) -> Any:
    build = entry.get("build_config")
    if isinstance(build, dict):
        for key in ("input_shape", "query_shape"):
            if build.get(key) is not None:
                return build[key]
        if build:
            return next(iter(build.values()))
    for tensor in _tensors(entry.get("inbound_nodes")):
        return tensor.get("shape")
    return None


def _tensors(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__" and isinstance(value.get("config"), dict):
            yield value["config"]
        else:
            for v in value.values():
                yield from _tensors(v)
    elif isinstance(value, list):
        for v in value:
            yield from _tensors(v)


def _dims(shape: Any) -> list[int | None] | None:
    """A shape ``[None, 28, 28, 1]``; the first one of a list of shapes."""
    if isinstance(shape, dict):
        shape = next(iter(shape.values()), None)
    if isinstance(shape, list | tuple) and shape and isinstance(shape[0], list | tuple | dict):
        return _dims(shape[0])
    if isinstance(shape, list | tuple) and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool)) for d in shape
    ):
        return [None if d is None else int(d) for d in shape]
    return None


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return default
    return max(0, int(value))


def _kernel(value: Any) -> int:
    if isinstance(value, list | tuple):
        return math.prod(_int(v, 1) for v in value)
    return _int(value, 1)


def _largest_int(value: Any, depth: int = 0) -> int:
    if depth > 20:
        return 0
    if isinstance(value, dict):
        return max((_largest_int(v, depth + 1) for v in value.values()), default=0)
    if isinstance(value, list | tuple):
        return max((_largest_int(v, depth + 1) for v in value), default=0)
    return _int(value)


def _layer_weights(kind: str, cfg: dict[str, Any], in_shape: Any) -> tuple[int, bool]:
    """``(weights, guessed)`` of one layer."""
    if kind in _NO_WEIGHTS or kind.startswith(_NO_WEIGHTS_PREFIXES):
        return 0, False
    dims = _dims(in_shape)
    channels_first = cfg.get("data_format") == "channels_first"
    axis_dim = None
    if dims is not None and len(dims) >= 2:
        axis_dim = dims[1] if channels_first else dims[-1]
    bias = 1 if cfg.get("use_bias", True) else 0

    def width(own: int) -> tuple[int, bool]:
        return (axis_dim, False) if axis_dim else (own, True)

    if kind == "Dense":
        units = _int(cfg.get("units"))
        d, guessed = width(units)
        return d * units + bias * units, guessed
    if kind == "EinsumDense":
        out = cfg.get("output_shape")
        out_n = _kernel(out) if out is not None else _largest_int(cfg)
        d, guessed = width(out_n)
        return d * out_n + out_n, guessed
    if kind in ("Conv1D", "Conv2D", "Conv3D"):
        filters, k = _int(cfg.get("filters")), _kernel(cfg.get("kernel_size"))
        d, guessed = width(filters)
        groups = max(1, _int(cfg.get("groups"), 1))
        return k * (d // groups or 1) * filters + bias * filters, guessed
    if kind in ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"):
        filters, k = _int(cfg.get("filters")), _kernel(cfg.get("kernel_size"))
        d, guessed = width(filters)
        return k * d * filters + bias * filters, guessed
    if kind in ("DepthwiseConv1D", "DepthwiseConv2D"):
        m, k = _int(cfg.get("depth_multiplier"), 1), _kernel(cfg.get("kernel_size"))
        d, guessed = width(_largest_int(cfg))
        return k * d * m + bias * d * m, guessed
    if kind in ("SeparableConv1D", "SeparableConv2D"):
        filters, k = _int(cfg.get("filters")), _kernel(cfg.get("kernel_size"))
        m = _int(cfg.get("depth_multiplier"), 1)
        d, guessed = width(filters)
        return k * d * m + d * m * filters + bias * filters, guessed
    if kind == "Embedding":
        return _int(cfg.get("input_dim")) * _int(cfg.get("output_dim")), False
    if kind in ("SimpleRNN", "GRU", "LSTM"):
        units = _int(cfg.get("units"))
        gates = {"SimpleRNN": 1, "GRU": 3, "LSTM": 4}[kind]
        d, guessed = width(units)
        biases = gates * units * (2 if kind == "GRU" and cfg.get("reset_after", True) else 1)
        return gates * units * (d + units) + bias * biases, guessed
    if kind in ("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"):
        filters, k = _int(cfg.get("filters")), _kernel(cfg.get("kernel_size"))
        d, guessed = width(filters)
        return 4 * filters * k * (d + filters) + bias * 4 * filters, guessed
    if kind in ("Bidirectional", "TimeDistributed"):
        inner = cfg.get("layer")
        if not isinstance(inner, dict):
            return 0, True
        inner_kind = str(inner.get("class_name", "?"))
        inner_cfg = inner["config"] if isinstance(inner.get("config"), dict) else {}
        count, guessed = _layer_weights(inner_kind, inner_cfg, in_shape)
        if kind == "TimeDistributed":
            return count, guessed
        backward = cfg.get("backward_layer")
        if isinstance(backward, dict) and isinstance(backward.get("config"), dict):
            back, back_guessed = _layer_weights(str(backward.get("class_name", "?")),
                                                backward["config"], in_shape)  # fmt: skip
            return count + back, guessed or back_guessed
        return 2 * count, guessed
    if kind == "MultiHeadAttention":
        heads, key_dim = _int(cfg.get("num_heads")), _int(cfg.get("key_dim"))
        value_dim = _int(cfg.get("value_dim"), key_dim) or key_dim
        d, guessed = width(heads * key_dim)
        out = _kernel(cfg["output_shape"]) if cfg.get("output_shape") else d
        qk = 2 * (d * heads * key_dim + bias * heads * key_dim)
        v = d * heads * value_dim + bias * heads * value_dim
        return qk + v + heads * value_dim * out + bias * out, guessed
    if kind in ("BatchNormalization", "LayerNormalization", "GroupNormalization",
                "RMSNormalization", "Normalization"):  # fmt: skip
        d, guessed = (_norm_width(cfg, dims), False)
        if not d:
            d, guessed = _largest_int(cfg), True
        if kind == "BatchNormalization":
            per = 2 + bool(cfg.get("center", True)) + bool(cfg.get("scale", True))
            return per * d, guessed
        if kind == "Normalization":
            return 2 * d + 1, guessed
        if kind == "RMSNormalization":
            return d, guessed
        return (bool(cfg.get("center", True)) + bool(cfg.get("scale", True))) * d, guessed
    if kind == "PReLU":
        if dims is None or any(d is None for d in dims[1:]):
            return _largest_int(cfg) ** 2, True
        shared = cfg.get("shared_axes") or []
        shared = [shared] if isinstance(shared, int) else list(shared)
        return math.prod(d or 1 for i, d in enumerate(dims) if i > 0 and i not in shared), False
    # A class this estimate does not know: conservative.
    m = _largest_int({k: v for k, v in cfg.items() if k != "name"})
    d = axis_dim or m
    return d * m + m, True


def _norm_width(cfg: dict[str, Any], dims: list[int | None] | None) -> int:
    if dims is None:
        return 0
    axis = cfg.get("axis", -1)
    axes = axis if isinstance(axis, list | tuple) else [axis]
    total = 1
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool) or not -len(dims) <= a < len(dims):
            return 0
        d = dims[a]
        if d is None:
            return 0
        total *= d
    return total
