"""The :class:`Dataset` container and :func:`load_dataset`. Imports numpy only (keras lazily)."""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import math
import os
import re
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from mlchecks._util.archive import (
    GiB,
    MiB,
    ZipLimits,
    memory_available,
    not_regular,
    open_regular,
    size,
    zip_problem,
)
from mlchecks.errors import DataError

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
NAMES = ("digits", *KERAS_DATASETS, "synthetic:N", "PATH.npz")
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
MAX_SYNTHETIC = 1_000_000
# Class ids are 0..K-1 and every class gets a name, a row of the confusion matrix and a line of
# the report: 100,000 is far above the largest label sets of public image data (ImageNet-21k has
# 21,841 classes) and far below what a stray id (10**12, issue 17 item 8) would allocate.
MAX_CLASSES = 100_000
# What loading an .npz may need in memory (its arrays, the float32 copy of integer images, the
# int64 copy of labels): 16 GiB holds CIFAR-10 (~0.9 GiB) many times over. It is also bounded by
# half the memory the machine (or an RLIMIT_AS) leaves, the rest being for the model and its
# predictions. Raise it with max_data_bytes in [tool.mlchecks].
MAX_DATA_BYTES = 16 * GiB
# Per member, judged before anything is decompressed (issue 17, items 8 and 9). Real data
# deflates 5:1 (MNIST images) to ~40:1 (one-hot float32 labels); only near-constant arrays reach
# deflate's ceiling of ~1032:1, as the 1.2 MB file that inflated to 1.2 GB of zeros did.
NPZ_LIMITS = ZipLimits(max_member_bytes=2**62, max_total_bytes=2**62, max_ratio=500,
                       ratio_floor_bytes=64 * MiB)  # fmt: skip
# Where keras.datasets.cifar10 extracts its archive (keras 3: "<fname>-target/<inner folder>").
CIFAR_DIR = Path("cifar-10-batches-py-target") / "cifar-10-batches-py"


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test splits plus what checks need to know about them.

    Attributes:
        name: the identifier it was loaded from (``digits``, ``synthetic:70000``, a path).
        x_train, x_test: inputs, float32 (images ``(N, H, W, C)``) unless ``raw`` is kept.
        y_train, y_test: int64 class ids in ``[0, num_classes)``.
        num_classes: number of classes.
        class_names: a name per class.
        label_format: how labels were stored at the source: ``"ids"`` or ``"onehot"``.
        value_range: the documented range of input values, e.g. ``(0.0, 1.0)``.
        held: the class ids this data set is declared to hold, when a subset of
            ``0 .. num_classes - 1`` (a class-incremental increment); ``None``: all of them.
            See :attr:`classes_held`.

    The class space (``num_classes``) is the lineage's: the widest of the labels, the width of
    one-hot labels, the declared ``classes`` and the model's output head
    (:func:`fit_head`). A data set may hold a subset of it: ``data.classes_present`` checks
    the classes it is declared to hold, the accuracy and regression checks judge the classes
    a split holds.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple[str, ...]
    label_format: str = "ids"
    value_range: tuple[float, float] = (0.0, 1.0)
    held: tuple[int, ...] | None = None

    @property
    def classes_held(self) -> tuple[int, ...]:
        """The class ids the data is declared to hold (``classes``), by default every class id up
        to its largest label (a class of the space above its labels is one not arrived yet)."""
        return self.held if self.held is not None else tuple(range(self.num_classes))

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 of the content (shapes, dtypes, bytes of every split), 16 hex digits."""
        h = hashlib.sha256()
        for key in NPZ_KEYS:
            arr = np.ascontiguousarray(getattr(self, key))
            h.update(f"{key}:{arr.dtype.str}:{arr.shape};".encode())
            if arr.size:  # memoryview cannot cast an empty array (an empty split)
                # numpy arrays are buffers; numpy's stubs do not say so yet
                h.update(memoryview(arr).cast("B"))  # type: ignore[arg-type]
        h.update(f"classes:{self.num_classes}".encode())
        if self.held is not None:
            h.update(f"held:{list(self.held)}".encode())
        return h.hexdigest()[:16]

    @functools.cached_property
    def nonfinite(self) -> dict[str, int]:
        """Samples per split (``train``, ``test``) whose inputs hold a NaN or an inf.

        ``data.finite`` fails on them; the checks that judge a model from its predictions use
        this to blame the data instead of the model (a NaN input gives a NaN output, or one
        that a ReLU turns into an arbitrary finite value, depending on the backend).
        """
        out = {}
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}")
            count = 0
            if x.dtype.kind in "fc" and len(x):
                flat = x.reshape(len(x), -1)
                for start in range(0, len(flat), 4096):  # a bounded mask, whatever the size
                    count += int((~np.isfinite(flat[start : start + 4096])).any(axis=1).sum())
            out[split] = count
        return out

    def describe(self) -> str:
        held = ""
        if self.held is not None:
            held = f", holds {len(self.held)}: {_id_ranges(self.held)}"
        return (
            f"{self.name} ({self.n_train} train / {self.n_test} test, input {self.input_shape}, "
            f"{self.num_classes} classes{held})"
        )

    def replace(self, **changes: Any) -> Dataset:
        return dataclasses.replace(self, **changes)


def _id_ranges(ids: tuple[int, ...]) -> str:
    """``(0, 1, 2, 5)`` -> ``"0-2, 5"``."""
    parts: list[str] = []
    for i in ids:
        if parts and parts[-1].split("-")[-1] == str(i - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{i}"
        else:
            parts.append(str(i))
    return ", ".join(parts)


def load_dataset(
    spec: str,
    *,
    root: Path | None = None,
    max_bytes: int | None = None,
    classes: int | tuple[str, ...] | tuple[int, ...] | None = None,
) -> Dataset:
    """Load a dataset by its ``--data`` identifier.

    Args:
        spec: ``digits``, ``mnist``, ``fashion_mnist``, ``cifar10``, ``synthetic:N`` or a path
            to an ``.npz`` file.
        root: folder relative paths are resolved against. Defaults to the current directory.
        max_bytes: the most memory loading an ``.npz`` file may need (``max_data_bytes``).
            Defaults to :data:`MAX_DATA_BYTES`.
        classes: the ``classes`` setting (:func:`declare_classes`). Defaults to None.

    Raises:
        DataError: unknown name, unreadable or oversized file, missing keys, unusable labels.

    Example:
        >>> ds = load_dataset("digits")
        >>> ds.n_test, ds.input_shape, ds.num_classes
        (450, (8, 8, 1), 10)
    """
    if not isinstance(spec, str) or not spec.strip():
        msg = f"--data must name a dataset, got {spec!r}; expected one of {', '.join(NAMES)}"
        raise DataError(msg)
    spec = spec.strip()
    if classes is not None:
        return declare_classes(load_dataset(spec, root=root, max_bytes=max_bytes), classes)
    if spec == "digits":
        return _digits()
    if spec in KERAS_DATASETS:
        return _keras_dataset(spec, max_bytes=max_bytes)
    if spec == "synthetic" or spec.startswith("synthetic:"):  # not synthetic_run3.npz
        match = re.fullmatch(r"synthetic:(\d+)", spec)
        if not match or not 20 <= int(match.group(1)) <= MAX_SYNTHETIC:
            msg = (
                f"--data {spec!r}: synthetic data is written synthetic:N with 20 <= N <= "
                f"{MAX_SYNTHETIC}, e.g. synthetic:70000 for MNIST scale"
            )
            raise DataError(msg)
        return synthetic(int(match.group(1)))
    path = Path(spec).expanduser()
    if not path.is_absolute() and root is not None:
        path = root / path
    if path.suffix == ".npz" or path.exists():
        return load_npz(path, max_bytes=max_bytes)
    msg = (
        f"--data {spec!r} is neither a known dataset nor an existing .npz file; "
        f"expected one of {', '.join(NAMES)}"
    )
    raise DataError(msg)


# ----------------------------------------------------------------------------- digits
#: The fixed 75/25 stratified split of the digits (row indices, train then test, in order).
DIGITS_SPLIT = Path(__file__).with_name("digits_split.json")
DIGITS_ROWS = 1797


def digits_file() -> Path:
    """scikit-learn's own copy of the UCI digits (``sklearn/datasets/data/digits.csv.gz``),
    found without importing scikit-learn (an import that costs seconds: SciPy, pandas)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    for base in (spec.submodule_search_locations or []) if spec else []:
        path = Path(base) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            return path
    msg = (
        "--data digits reads scikit-learn's digits.csv.gz, but scikit-learn is not installed "
        "or has no sklearn/datasets/data/digits.csv.gz; install it: pip install scikit-learn"
    )
    raise DataError(msg)


def _digits() -> Dataset:
    """The embedded default: scikit-learn's digits (what ``load_digits`` returns: 8x8 images
    of 0-16, target in the last column), scaled to [0, 1], split by :data:`DIGITS_SPLIT`
    (1347 train / 450 test, stratified, the same on every machine and every scikit-learn)."""
    import json

    path = digits_file()
    try:
        with gzip.open(path, "rt", encoding="ascii") as f:
            data = np.loadtxt(f, delimiter=",", dtype=np.float64)
    except (OSError, ValueError, EOFError) as exc:
        msg = f"--data digits: {path} cannot be read ({exc}); reinstall scikit-learn"
        raise DataError(msg) from None
    if data.shape != (DIGITS_ROWS, 65):
        msg = (
            f"--data digits: {path} holds an array of shape {data.shape}; expected "
            f"({DIGITS_ROWS}, 65) (64 pixels and the digit per row); reinstall scikit-learn"
        )
        raise DataError(msg)
    split = json.loads(DIGITS_SPLIT.read_text(encoding="utf-8"))
    train, test = np.asarray(split["train"]), np.asarray(split["test"])
    x = (data[:, :-1].reshape(-1, 8, 8).astype(np.float32) / 16.0)[..., None]
    y = data[:, -1].astype(np.int64)
    return Dataset(
        name="digits",
        x_train=np.ascontiguousarray(x[train]),
        y_train=y[train],
        x_test=np.ascontiguousarray(x[test]),
        y_test=y[test],
        num_classes=10,
        class_names=tuple(str(c) for c in range(10)),
    )


# ----------------------------------------------------------------------------- synthetic
def synthetic(n: int, seed: int = 0, shape: tuple[int, int] = (28, 28)) -> Dataset:
    """MNIST-shaped generated data: 10 classes of noisy strokes, learnable, seeded.

    Each class has a fixed prototype made of a few random line strokes; a sample is its class
    prototype shifted by up to 2 pixels, scaled in brightness, plus noise, clipped to [0, 1].
    ``n`` samples in all, split 6:1 into train and test like MNIST.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    prototypes = np.zeros((10, h, w), np.float32)
    for c in range(10):
        for _ in range(3):
            r0, c0, r1, c1 = rng.integers(4, h - 4, size=4)
            steps = max(abs(r1 - r0), abs(c1 - c0)) + 1
            rows = np.linspace(r0, r1, steps).round().astype(int)
            cols = np.linspace(c0, c1, steps).round().astype(int)
            for dr in (-1, 0, 1):
                prototypes[c, np.clip(rows + dr, 0, h - 1), cols] = 1.0
    y = np.arange(n, dtype=np.int64) % 10
    rng.shuffle(y)
    x = np.empty((n, h, w), np.float32)
    chunk = 8192
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        labels = y[start:stop]
        shifts = rng.integers(-2, 3, size=(stop - start, 2))
        block = prototypes[labels]
        for i, (dr, dc) in enumerate(shifts):
            block[i] = np.roll(block[i], (dr, dc), axis=(0, 1))
        block *= rng.uniform(0.6, 1.0, size=(stop - start, 1, 1)).astype(np.float32)
        block += rng.normal(0.0, 0.15, size=block.shape).astype(np.float32)
        np.clip(block, 0.0, 1.0, out=block)
        x[start:stop] = block
    n_test = max(10, n // 7)
    return Dataset(
        name=f"synthetic:{n}",
        x_train=x[n_test:, ..., None],
        y_train=y[n_test:],
        x_test=x[:n_test, ..., None],
        y_test=y[:n_test],
        num_classes=10,
        class_names=tuple(str(c) for c in range(10)),
    )


# ----------------------------------------------------------------------------- npz
def load_npz(path: Path, name: str | None = None, *, max_bytes: int | None = None) -> Dataset:
    """An ``.npz`` file with ``x_train y_train x_test y_test`` (labels as ids or one-hot).

    Nothing is decompressed or allocated before the file has shown it fits
    (:func:`read_npz`); ``max_bytes`` bounds the memory loading may need (default
    :data:`MAX_DATA_BYTES`).
    """
    return from_arrays(name or str(path), **read_npz(path, NPZ_KEYS, max_bytes=max_bytes))


@dataclasses.dataclass(frozen=True)
class _Header:
    key: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.count * self.dtype.itemsize

    @property
    def need(self) -> int:
        """Bytes loading it needs: the array, and the copy and temporaries from_arrays makes."""
        if self.key.startswith("x"):  # a float32 copy unless float32; isfinite's bool mask
            return self.nbytes + (0 if self.dtype == np.float32 else 4 * self.count) + self.count
        rows = self.shape[0] if self.shape else 1
        return self.nbytes + 8 * rows + 2 * self.count  # int64 ids; one-hot test masks

    def describe(self) -> str:
        return f"{self.key} {self.shape} {self.dtype} {size(self.nbytes)}"


def read_npz(path: Path, keys: tuple[str, ...], *, max_bytes: int | None = None) -> dict[str, Any]:
    """The arrays ``keys`` of the ``.npz`` file ``path``, read only once they are known to fit.

    Before anything is decompressed: ``path`` is a regular file (a FIFO would block), a zip
    whose members pass :data:`NPZ_LIMITS` one by one, each array's ``.npy`` header is read
    from its member (shape, dtype, no objects) and the member holds the bytes it declares; then
    the memory loading needs is at most ``max_bytes`` (default :data:`MAX_DATA_BYTES`) and at
    most half of :func:`~mlchecks._util.archive.memory_available`. Only then ``np.load``.

    Raises:
        DataError: naming the file, the array, the figures and the fix.
    """
    problem = not_regular(path)
    if problem == "does not exist":
        msg = f"data file {path} does not exist; give an existing .npz file or a dataset name"
        raise DataError(msg)
    if problem is not None:
        msg = f"data file {path} {problem}; give an .npz file saved with np.savez"
        raise DataError(msg)
    try:
        with open_regular(path) as file:
            return _read_npz(path, file, keys, max_bytes)
    except DataError:
        raise
    except ValueError as exc:  # swapped for a FIFO or folder since not_regular
        msg = f"data file {path} {exc}; give an .npz file saved with np.savez"
        raise DataError(msg) from None
    except OSError as exc:
        msg = f"data file {path} cannot be read ({exc.strerror}); check its permissions"
        raise DataError(msg) from None


def _read_npz(
    path: Path, file: BinaryIO, keys: tuple[str, ...], max_bytes: int | None
) -> dict[str, Any]:
    if not zipfile.is_zipfile(file):
        msg = (
            f"data file {path} is not a readable .npz archive (not a zip file); "
            "save it with np.savez"
        )
        raise DataError(msg)
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            infos = {info.filename: info for info in archive.infolist()}
            members = {n[:-4] if n.endswith(".npy") else n: n for n in infos}
            missing = [k for k in keys if k not in members]
            if missing:
                msg = (
                    f"data file {path} lacks the key(s) {missing} (has {sorted(members)}); "
                    "save it with np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)"
                )
                raise DataError(msg)
            wanted = [infos[members[k]] for k in keys]
            problem = zip_problem(wanted, os.fstat(file.fileno()).st_size, NPZ_LIMITS)
            if problem is not None:
                msg = f"data file {path}: {problem}; refused before decompressing it"
                raise DataError(msg)
            headers = [_npy_header(path, archive, info, key)
                       for key, info in zip(keys, wanted, strict=True)]  # fmt: skip
        _check_fits(path, headers, MAX_DATA_BYTES if max_bytes is None else max_bytes)
        file.seek(0)
        with np.load(file, allow_pickle=False) as archive:
            return {k: archive[k] for k in keys}
    except DataError:
        raise
    except ValueError as exc:
        text = " ".join(str(exc).split())
        if "Object arrays" in text:
            msg = (
                f"data file {path} holds object arrays ({text}); mlchecks never unpickles "
                "data: save numeric arrays only"
            )
        else:
            msg = (
                f"data file {path} has an array header or content numpy refuses to read "
                f"safely ({text}); save plain numeric arrays with np.savez"
            )
        raise DataError(msg) from None
    except (OSError, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
        msg = f"data file {path} is not a readable .npz archive ({exc}); re-save it with np.savez"
        raise DataError(msg) from None


def _npy_header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str) -> _Header:
    """Shape and dtype from the ``.npy`` header of ``info``, and that the member holds them."""
    from numpy.lib import format as npy

    try:
        with archive.open(info) as member:
            version = npy.read_magic(member)
            # 3.0 differs from 2.0 only in the header's text encoding (utf8 field names)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _, dtype = read(member)
            offset = member.tell()
    except (ValueError, SyntaxError, TypeError, EOFError) as exc:  # e.g. a header too large
        text = " ".join(str(exc).split())
        msg = (
            f"data file {path}: {key} has an array header numpy refuses to read safely "
            f"({text}); save plain numeric arrays with np.savez"
        )
        raise DataError(msg) from None
    if dtype.hasobject:
        msg = (
            f"data file {path} holds object arrays ({key}: dtype {dtype}); mlchecks never "
            "unpickles data: save numeric arrays only"
        )
        raise DataError(msg)
    header = _Header(key, tuple(int(d) for d in shape), dtype)
    if offset + header.nbytes > info.file_size:
        msg = (
            f"data file {path}: {key} declares shape {header.shape} of {dtype}, "
            f"{size(header.nbytes)}, but its member holds {size(info.file_size - offset)}: a "
            "damaged or forged file (refused before allocating it); re-save it with np.savez"
        )
        raise DataError(msg)
    return header


def _check_fits(path: Path, headers: list[_Header], limit: int) -> None:
    need = sum(h.need for h in headers)
    parts = ", ".join(h.describe() for h in headers)
    if need > limit:
        msg = (
            f"data file {path} needs about {size(need)} of memory to load ({parts}), over "
            f"max_data_bytes {size(limit)}; load a smaller sample, or raise max_data_bytes in "
            "[tool.mlchecks] if the machine has the memory"
        )
        raise DataError(msg)
    available, source = memory_available()
    if available is not None and need > available // 2:
        msg = (
            f"data file {path} needs about {size(need)} of memory to load ({parts}), more than "
            f"half the {source} ({size(available)}), which the model and its predictions "
            f"need too; load a smaller sample or use a larger machine (max_data_bytes "
            f"{size(limit)} in [tool.mlchecks] is not the limit here)"
        )
        raise DataError(msg)


def from_arrays(
    name: str,
    x_train: Any,
    y_train: Any,
    x_test: Any,
    y_test: Any,
    num_classes: int | None = None,
    class_names: tuple[str, ...] | None = None,
    scale: bool = False,
) -> Dataset:
    """Validate raw arrays into a :class:`Dataset`.

    Inputs keep their values (scaling is the user's decision; the lint flags unscaled inputs)
    unless ``scale`` divides uint8 images by 255. Labels may be class ids (any integer dtype,
    or floats holding whole numbers) or one-hot rows.

    Raises:
        DataError: inputs that are not numeric, labels that are not class ids, mismatched
            lengths, empty splits.
    """
    xs: dict[str, np.ndarray] = {}
    for split, raw in (("x_train", x_train), ("x_test", x_test)):
        arr = np.asarray(raw) if not isinstance(raw, np.ndarray) else raw
        if arr.dtype == object or arr.dtype.kind not in "biuf":
            msg = (
                f"{split} of {name} has dtype {arr.dtype}; expected numeric arrays "
                "(uint8 or float32 images): convert the data before saving"
            )
            raise DataError(msg)
        if arr.ndim < 2:
            msg = f"{split} of {name} has shape {arr.shape}; expected (samples, features...)"
            raise DataError(msg)
        if arr.ndim == 3:  # grayscale images without a channel axis
            arr = arr[..., None]
        if scale and arr.dtype == np.uint8:
            arr = arr.astype(np.float32) / 255.0
        elif arr.dtype.kind in "biu" or arr.dtype == np.float64 or arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        xs[split] = arr
    if xs["x_train"].shape[1:] != xs["x_test"].shape[1:]:
        msg = (
            f"x_train and x_test of {name} differ in sample shape: {xs['x_train'].shape[1:]} vs "
            f"{xs['x_test'].shape[1:]}; both splits need the same input shape"
        )
        raise DataError(msg)
    ys: dict[str, np.ndarray] = {}
    formats: set[str] = set()
    width = 0  # one-hot rows are as wide as the class space
    for split, raw in (("y_train", y_train), ("y_test", y_test)):
        ys[split], fmt = _labels(name, split, raw)
        formats.add(fmt)
        if fmt == "onehot":
            width = max(width, int(np.shape(raw)[1]))
    for x_key, y_key in (("x_train", "y_train"), ("x_test", "y_test")):
        if xs[x_key].shape[0] != ys[y_key].shape[0]:
            msg = (
                f"{x_key} has {xs[x_key].shape[0]} samples but {y_key} has "
                f"{ys[y_key].shape[0]} labels in {name}; each sample needs exactly one label"
            )
            raise DataError(msg)
        if xs[x_key].shape[0] == 0:
            msg = f"{x_key} of {name} is empty; both splits need samples"
            raise DataError(msg)
    observed = int(max(ys["y_train"].max(), ys["y_test"].max())) + 1
    if num_classes is None:
        present = np.union1d(ys["y_train"], ys["y_test"])
        if present.size < 2:
            msg = (
                f"the labels of {name} hold one class only (class {int(present[0])} in every "
                "sample of both splits); a classifier needs samples of at least 2 classes"
            )
            raise DataError(msg)
        num_classes = max(observed, width)
    elif observed > num_classes:
        split = "y_train" if ys["y_train"].max() >= num_classes else "y_test"
        msg = (
            f"{split} of {name} holds label {int(ys[split].max())} but the data set has "
            f"{num_classes} classes (ids 0..{num_classes - 1}); fix or drop those labels"
        )
        raise DataError(msg)
    num_classes = max(num_classes, 2)
    held = tuple(range(observed)) if observed < num_classes else None
    fmt = "onehot" if "onehot" in formats else "ids"
    if class_names is None:
        class_names = tuple(str(c) for c in range(num_classes))
    finite = np.isfinite(xs["x_train"]).all() and np.isfinite(xs["x_test"]).all()
    if finite:
        lo = float(min(xs["x_train"].min(), xs["x_test"].min()))
        hi = float(max(xs["x_train"].max(), xs["x_test"].max()))
    else:  # the data expectations report NaN/inf; the range stays undefined meanwhile
        lo, hi = float("nan"), float("nan")
    return Dataset(
        name=name,
        x_train=xs["x_train"],
        y_train=ys["y_train"],
        x_test=xs["x_test"],
        y_test=ys["y_test"],
        num_classes=num_classes,
        class_names=class_names,
        label_format=fmt,
        value_range=(lo, hi),
        held=held,
    )


def declare_classes(
    dataset: Dataset, classes: int | tuple[str, ...] | tuple[int, ...], where: str = "classes"
) -> Dataset:
    """``dataset`` with the classes it is declared to hold (the ``classes`` setting).

    ``classes`` is a count ``N`` (it holds ids ``0 .. N-1``), class names (it holds one class
    per name, named so) or a tuple of class ids (it holds those: an increment of a
    class-incremental lineage). The class space widens to fit the declaration, never narrows.

    Raises:
        DataError: a label beyond the declared count or names (exit 2).
    """
    names: tuple[str, ...] | None = None
    if isinstance(classes, int):
        held, count = tuple(range(classes)), classes
    elif all(isinstance(c, str) for c in classes):
        names = tuple(str(c) for c in classes)
        held, count = tuple(range(len(names))), len(names)
    else:
        held = tuple(sorted(int(c) for c in classes))
        count = held[-1] + 1
    top = int(max(dataset.y_train.max(initial=0), dataset.y_test.max(initial=0)))
    if (isinstance(classes, int) or names is not None) and top >= count:
        msg = (
            f"{where} declares {count} classes (ids 0..{count - 1}) but the labels of "
            f"{dataset.name} hold class id {top}; declare every class the data holds "
            f"({where} = {top + 1}, or class ids such as [{top}]) or drop those labels"
        )
        raise DataError(msg)
    k = max(dataset.num_classes, count)
    if names is None:
        have = tuple(dataset.class_names)
        names = have + tuple(str(c) for c in range(len(have), k))
    elif len(names) < k:
        names = names + tuple(str(c) for c in range(len(names), k))
    return dataset.replace(num_classes=k, class_names=names,
                           held=None if held == tuple(range(k)) else held)  # fmt: skip


def head_classes(units: int) -> int:
    """The classes an output head of ``units`` units tells apart (one sigmoid unit: 2)."""
    return 2 if units == 1 else units


def fit_head(dataset: Dataset, units: int, model: str) -> Dataset:
    """``dataset`` in the class space of a model whose output head has ``units`` units.

    A head wider than the labels (a single-head class-incremental lineage, or one-hot labels of
    an increment) widens the class space; a label the head cannot predict is bad input.

    Raises:
        DataError: a label id >= the head's classes (exit 2).
    """
    k = head_classes(units)
    top = int(max(dataset.y_train.max(initial=0), dataset.y_test.max(initial=0)))
    if top >= k:
        msg = (
            f"model {model} has an output head of {units} unit(s) ({k} classes, ids 0..{k - 1}) "
            f"but the labels of {dataset.name} hold class id {top}: labels beyond the head can "
            f"never be predicted; give the model a head of at least {top + 1} units (grow it in "
            "a new version) or drop those labels"
        )
        raise DataError(msg)
    if k <= dataset.num_classes:
        return dataset
    held = dataset.classes_held
    names = tuple(dataset.class_names) + tuple(str(c) for c in range(len(dataset.class_names), k))
    return dataset.replace(num_classes=k, class_names=names, held=held)


def _labels(name: str, split: str, raw: Any) -> tuple[np.ndarray, str]:
    arr = np.asarray(raw) if not isinstance(raw, np.ndarray) else raw
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        msg = f"{split} of {name} has dtype {arr.dtype}; expected integer class ids or one-hot rows"
        raise DataError(msg)
    fmt = "ids"
    if arr.ndim == 2 and arr.shape[1] > MAX_CLASSES:
        msg = (
            f"{split} of {name} has shape {arr.shape}: one-hot rows of {arr.shape[1]:,} classes, "
            f"more than the {MAX_CLASSES:,} mlchecks supports; store class ids of shape (N,)"
        )
        raise DataError(msg)
    if arr.ndim == 2 and arr.shape[1] > 1:
        row_sums = arr.sum(axis=1)
        is_onehot = ((arr == 0) | (arr == 1)).all() and np.allclose(row_sums, 1.0)
        if not is_onehot:
            msg = (
                f"{split} of {name} is 2-D {arr.shape} but not one-hot; expected class ids of "
                "shape (N,) or one-hot rows of shape (N, classes)"
            )
            raise DataError(msg)
        arr = arr.argmax(axis=1)
        fmt = "onehot"
    elif arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim != 1:
        msg = f"{split} of {name} has shape {arr.shape}; expected class ids of shape (N,)"
        raise DataError(msg)
    whole = arr.dtype.kind != "f" or (np.isfinite(arr).all() and np.equal(np.mod(arr, 1), 0).all())
    if not whole:
        bad = arr[~(np.isfinite(arr) & np.equal(np.mod(np.nan_to_num(arr), 1), 0))][:3]
        msg = (
            f"{split} of {name} holds float labels such as {bad.tolist()}; expected integer "
            "class ids: store labels as integers (e.g. y.astype('int64')) or one-hot rows"
        )
        raise DataError(msg)
    if arr.size and arr.min() < 0:
        msg = f"{split} of {name} holds negative label {arr.min()}; class ids start at 0"
        raise DataError(msg)
    # Judged before the int64 conversion: a uint64 id of 2**64-1 would wrap to -1 (issue 17).
    if arr.size and arr.max() >= MAX_CLASSES:
        msg = (
            f"{split} of {name} holds class id {int(arr.max())}; mlchecks supports at most "
            f"{MAX_CLASSES:,} classes (ids 0..{MAX_CLASSES - 1:,}): labels must be class ids "
            "0..K-1 (remap others with np.unique(y, return_inverse=True))"
        )
        raise DataError(msg)
    return arr.astype(np.int64), fmt


# ----------------------------------------------------------------------------- keras.datasets
def keras_cache_dir() -> Path:
    """Where ``keras.utils.get_file`` caches data sets (``$KERAS_HOME/datasets``)."""
    base = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    if base.exists() and not os.access(base, os.W_OK):  # Keras falls back the same way
        base = Path("/tmp/.keras")
    return base / "datasets"


_CLASS_NAMES = {
    "mnist": tuple(str(c) for c in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
    "cifar10": (
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ),
}  # fmt: skip


def _keras_dataset(name: str, max_bytes: int | None = None) -> Dataset:
    """A ``keras.datasets`` data set, read from the Keras cache or downloaded by Keras.

    When the file is already in the Keras cache, it is read in Keras' own layout (npz for
    MNIST, the four gzip IDX files for Fashion-MNIST, the pickled batches through
    ``keras.datasets.cifar.load_batch`` for CIFAR-10) without Keras' download hash check, so
    a mirror copy placed there by hand works offline. Otherwise ``keras.datasets.<name>
    .load_data()`` downloads it once.
    """
    cache = keras_cache_dir()
    arrays: tuple[np.ndarray, ...]
    try:
        if name == "mnist" and (cache / "mnist.npz").is_file():
            found = read_npz(cache / "mnist.npz", NPZ_KEYS, max_bytes=max_bytes)
            arrays = tuple(found[k] for k in NPZ_KEYS)
        elif name == "fashion_mnist" and (cache / "fashion-mnist").is_dir():
            arrays = _fashion_from_cache(cache / "fashion-mnist")
        elif name == "cifar10" and (cache / CIFAR_DIR).is_dir():
            arrays = _cifar_from_cache(cache / CIFAR_DIR)
        else:
            arrays = _keras_download(name, cache)
    except DataError:
        raise
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        msg = f"the Keras cache copy of {name} under {cache} is unreadable ({exc}); delete it"
        raise DataError(msg) from None
    x_train, y_train, x_test, y_test = arrays
    return from_arrays(
        name,
        x_train,
        np.asarray(y_train).reshape(-1),
        x_test,
        np.asarray(y_test).reshape(-1),
        num_classes=10,
        class_names=_CLASS_NAMES[name],
        scale=True,
    )


def _keras_download(name: str, cache: Path) -> tuple[np.ndarray, ...]:
    import keras

    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as exc:  # urllib/HTTP errors differ by Python version and backend
        msg = (
            f"--data {name}: keras.datasets could not download it ({type(exc).__name__}: "
            f"{str(exc)[:200]}); on an offline machine place the Keras file under {cache} "
            "or pass an .npz file"
        )
        raise DataError(msg) from None
    return x_train, y_train, x_test, y_test


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def _fashion_from_cache(folder: Path) -> tuple[np.ndarray, ...]:
    y_train = _read_idx(folder / "train-labels-idx1-ubyte.gz", 8)
    x_train = _read_idx(folder / "train-images-idx3-ubyte.gz", 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", 8)
    x_test = _read_idx(folder / "t10k-images-idx3-ubyte.gz", 16).reshape(len(y_test), 28, 28)
    return x_train, y_train, x_test, y_test


def _cifar_from_cache(folder: Path) -> tuple[np.ndarray, ...]:
    # The batches are Python pickles written by the CIFAR authors; Keras' own reader is used.
    from keras.src.datasets.cifar import load_batch

    xs, ys = [], []
    for i in range(1, 6):
        data, labels = load_batch(str(folder / f"data_batch_{i}"))
        xs.append(data)
        ys.append(labels)
    x_test, y_test = load_batch(str(folder / "test_batch"))
    x_train = np.concatenate(xs).transpose(0, 2, 3, 1)
    return x_train, np.concatenate(ys), x_test.transpose(0, 2, 3, 1), np.asarray(y_test)


def load_mnist_t10k(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The MNIST test set in its original IDX format (two gzip files in ``folder``): images,
    labels."""
    x = _read_idx(folder / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
    y = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", 8)
    return x, y
