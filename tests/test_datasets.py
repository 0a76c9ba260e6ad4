"""Datasets: digits, keras.datasets (offline, from a temporary Keras cache), npz, synthetic."""

from __future__ import annotations

import gzip
import pickle
import subprocess
import sys

import numpy as np
import pytest

from mlchecks.data import load_dataset
from mlchecks.data.dataset import CIFAR_DIR, from_arrays
from mlchecks.errors import DataError


def test_digits_is_real_and_split_the_same_everywhere(digits):
    assert (digits.n_train, digits.n_test) == (1347, 450)
    assert digits.input_shape == (8, 8, 1)
    assert digits.x_train.dtype == np.float32
    assert digits.x_train.min() >= 0.0 and digits.x_train.max() <= 1.0
    # stratified: each class holds a quarter of its samples in the test split (+-1)
    total = np.bincount(digits.y_test) + np.bincount(digits.y_train)
    assert (np.abs(np.bincount(digits.y_test) - total / 4) <= 1).all()
    assert load_dataset("digits").fingerprint == digits.fingerprint


def test_digits_are_scikit_learns_load_digits_and_its_stratified_split(digits):
    """The embedded default reads scikit-learn's digits.csv.gz and the shipped split indices
    without importing scikit-learn: the arrays are exactly what load_digits plus
    train_test_split(test_size=0.25, random_state=0, stratify=y) give."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]
    expected = train_test_split(x, bunch.target.astype(np.int64), test_size=0.25,
                                random_state=0, stratify=bunch.target)  # fmt: skip
    got = (digits.x_train, digits.x_test, digits.y_train, digits.y_test)
    for name, want, have in zip(("x_train", "x_test", "y_train", "y_test"), expected, got,
                                strict=True):  # fmt: skip
        assert have.dtype == want.dtype and np.array_equal(have, want), name


def test_loading_digits_does_not_import_scikit_learn():
    code = (
        "import sys; from mlchecks.data import load_dataset; d = load_dataset('digits'); "
        "print(sorted(m for m in ('sklearn', 'scipy', 'pandas') if m in sys.modules), d.n_test)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout  # fmt: skip
    assert out.split() == ["[]", "450"], out


def test_a_damaged_digits_file_is_a_data_error_naming_it(tmp_path, monkeypatch):
    from mlchecks.data import dataset

    bad = tmp_path / "digits.csv.gz"
    with gzip.open(bad, "wt") as f:
        f.write("1,2,3\n")
    monkeypatch.setattr(dataset, "digits_file", lambda: bad)
    with pytest.raises(DataError, match=r"digits\.csv\.gz holds an array of shape \(3,\).*"
                                        r"expected \(1797, 65\).*reinstall scikit-learn"):
        load_dataset("digits")


def test_fingerprint_changes_with_one_pixel(digits):
    x = digits.x_test.copy()
    x[0, 0, 0, 0] += 0.0625
    assert digits.replace(x_test=x).fingerprint != digits.fingerprint


def test_synthetic_is_seeded_and_mnist_shaped():
    a, b = load_dataset("synthetic:700"), load_dataset("synthetic:700")
    assert a.input_shape == (28, 28, 1)
    assert (a.n_train, a.n_test) == (600, 100)
    assert a.fingerprint == b.fingerprint
    assert set(np.unique(a.y_train)) == set(range(10))


@pytest.mark.parametrize("spec", ["synthetic:5", "synthetic:abc", "synthetic"])
def test_bad_synthetic_sizes(spec):
    with pytest.raises(DataError, match="synthetic:N"):
        load_dataset(spec)


def test_unknown_name_lists_the_choices():
    with pytest.raises(DataError) as info:
        load_dataset("imagenet")
    assert "'imagenet'" in str(info.value) and "digits" in str(info.value)


def _arrays(rng, n=40):
    return {
        "x_train": rng.random((n, 6, 6)).astype(np.float32),
        "y_train": np.arange(n) % 4,
        "x_test": rng.random((n // 2, 6, 6)).astype(np.float32),
        "y_test": np.arange(n // 2) % 4,
    }


def test_npz_with_ids_and_onehot(tmp_path):
    rng = np.random.default_rng(0)
    arrays = _arrays(rng)
    np.savez(tmp_path / "ids.npz", **arrays)
    ds = load_dataset(str(tmp_path / "ids.npz"))
    assert ds.input_shape == (6, 6, 1) and ds.num_classes == 4 and ds.label_format == "ids"
    onehot = dict(arrays, y_train=np.eye(4)[arrays["y_train"]], y_test=np.eye(4)[arrays["y_test"]])
    np.savez(tmp_path / "onehot.npz", **onehot)
    ds2 = load_dataset(str(tmp_path / "onehot.npz"))
    assert ds2.label_format == "onehot"
    np.testing.assert_array_equal(ds2.y_train, ds.y_train)


def test_npz_missing_keys_named(tmp_path):
    np.savez(tmp_path / "bad.npz", x=np.zeros((3, 2)))
    with pytest.raises(DataError) as info:
        load_dataset(str(tmp_path / "bad.npz"))
    text = str(info.value)
    assert "x_train" in text and "y_test" in text and "np.savez" in text


def test_float_labels_rejected_whole_floats_accepted(tmp_path):
    rng = np.random.default_rng(0)
    arrays = _arrays(rng)
    ok = from_arrays("ok", **dict(arrays, y_train=arrays["y_train"].astype(float)))
    assert ok.y_train.dtype == np.int64
    with pytest.raises(DataError, match="float labels such as"):
        from_arrays("bad", **dict(arrays, y_train=arrays["y_train"] + 0.5))


def test_object_arrays_are_never_unpickled(tmp_path):
    rng = np.random.default_rng(0)
    arrays = _arrays(rng)
    arrays["x_train"] = np.array([np.zeros(3), np.zeros(4)], dtype=object)
    np.savez(tmp_path / "obj.npz", **arrays)
    with pytest.raises(DataError, match="never unpickles"):
        load_dataset(str(tmp_path / "obj.npz"))


def test_not_an_archive(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        load_dataset(str(tmp_path / "text.npz"))


def test_mismatched_lengths(tmp_path):
    arrays = _arrays(np.random.default_rng(0))
    with pytest.raises(DataError, match="exactly one label"):
        from_arrays("m", **dict(arrays, y_test=arrays["y_test"][:-1]))


# --- untrusted npz files (issue 17, item 8): refused before anything is allocated; the same
# files through the gate under an address-space limit: tests/reliability/test_bombs.py
def _npz_with(path, arrays, **members):
    """``arrays`` as an npz, with some members replaced by raw ``.npy`` bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            if key in members:
                archive.writestr(f"{key}.npy", members[key])
            else:
                buffer = io.BytesIO()
                np.save(buffer, value, allow_pickle=False)
                archive.writestr(f"{key}.npy", buffer.getvalue())
    return path


def _header(dtype, shape):
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def test_absurd_class_ids_are_refused_before_naming_the_classes():
    from mlchecks.data.dataset import MAX_CLASSES

    arrays = _arrays(np.random.default_rng(0))
    y = arrays["y_train"].copy()
    y[3] = 10**12  # used to build 10**12 class names: MemoryError, exit 3
    with pytest.raises(DataError, match="class id 1000000000000") as info:
        from_arrays("d", **dict(arrays, y_train=y))
    assert f"{MAX_CLASSES:,} classes" in str(info.value) and "y_train of d" in str(info.value)
    wrapped = arrays["y_test"].astype(np.uint64)
    wrapped[0] = np.iinfo(np.uint64).max  # astype(int64) made it -1
    with pytest.raises(DataError, match="class id 18446744073709551615"):
        from_arrays("d", **dict(arrays, y_test=wrapped))
    with pytest.raises(DataError, match="one-hot rows of 200,000 classes"):
        from_arrays("d", **dict(arrays, y_test=np.zeros((2, 200_000), np.uint8)))
    ok = from_arrays("d", **dict(arrays, y_train=arrays["y_train"].astype(np.uint64)))
    assert ok.num_classes == 4


def test_labels_beyond_the_declared_number_of_classes_are_refused():
    arrays = _arrays(np.random.default_rng(0))
    y = arrays["y_test"].copy()
    y[0] = 7
    with pytest.raises(DataError, match=r"y_test of d holds label 7 but the data set has 4 cl"):
        from_arrays("d", **dict(arrays, y_test=y), num_classes=4)


def test_npz_header_declaring_more_than_its_member_holds(tmp_path):
    arrays = _arrays(np.random.default_rng(0))
    forged = _header("<f4", (40_750_000, 28, 28, 1)) + bytes(16)  # 119 GiB declared
    path = _npz_with(tmp_path / "forged.npz", arrays, x_train=forged)
    with pytest.raises(DataError) as info:
        load_dataset(str(path))
    text = str(info.value)
    assert "x_train declares shape (40750000, 28, 28, 1) of float32, 119.0 GiB" in text
    assert "holds 16 bytes" in text and str(path) in text


def test_npz_member_inflating_like_a_bomb(tmp_path):
    """80 MiB of zeros deflate ~1000:1; real data 5:1 (MNIST) to ~40:1 (one-hot labels)."""
    arrays = _arrays(np.random.default_rng(0))
    bomb = _header("u1", (80 * 1024, 32, 32)) + bytes(80 * 1024 * 32 * 32)
    path = _npz_with(tmp_path / "bomb.npz", arrays, x_train=bomb)
    assert path.stat().st_size < 1024**2
    with pytest.raises(DataError, match=r"member 'x_train\.npy' inflates .* zip bomb"):
        load_dataset(str(path))


def test_npz_memory_needed_is_bounded(tmp_path):
    arrays = _arrays(np.random.default_rng(0))
    arrays["x_train"] = np.zeros((20000, 6, 6), np.uint8)  # 0.7 MiB; 4.5 MiB once loaded
    arrays["y_train"] = np.arange(20000) % 4
    np.savez(tmp_path / "d.npz", **arrays)
    assert load_dataset(str(tmp_path / "d.npz")).n_train == 20000
    with pytest.raises(DataError) as info:
        load_dataset(str(tmp_path / "d.npz"), max_bytes=4 * 1024**2)
    text = str(info.value)
    assert "needs about 4.5 MiB" in text and "over max_data_bytes 4.0 MiB" in text
    assert "x_train (20000, 6, 6) uint8 703.1 KiB" in text and "[tool.mlchecks]" in text


def test_data_must_be_a_regular_file(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.npz")  # opening it would wait for a writer: forever
    with pytest.raises(DataError, match=r"is a FIFO \(named pipe\), not a regular file"):
        load_dataset(str(tmp_path / "pipe.npz"))
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(DataError, match="is a folder, not a regular file"):
        load_dataset(str(tmp_path / "folder.npz"))


# --- keras.datasets, offline: small files in Keras' own cache layout under a temporary KERAS_HOME


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    return tmp_path / "datasets"


def test_mnist_from_keras_cache(keras_home):
    rng = np.random.default_rng(1)
    np.savez(
        keras_home / "mnist.npz",
        x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_train=np.arange(30, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_test=np.arange(20, dtype=np.uint8) % 10,
    )
    ds = load_dataset("mnist")
    assert ds.input_shape == (28, 28, 1) and ds.n_train == 30 and ds.n_test == 20
    assert ds.x_train.dtype == np.float32 and ds.x_train.max() <= 1.0  # scaled like the article


def _idx(path, header, payload):
    with gzip.open(path, "wb") as f:
        f.write(header + payload.tobytes())


def test_fashion_mnist_from_keras_cache(keras_home):
    folder = keras_home / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for prefix, n in (("train", 12), ("t10k", 8)):
        _idx(
            folder / f"{prefix}-labels-idx1-ubyte.gz", b"\0" * 8, np.arange(n, dtype=np.uint8) % 10
        )
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        _idx(folder / f"{prefix}-images-idx3-ubyte.gz", b"\0" * 16, images)
    ds = load_dataset("fashion_mnist")
    assert (ds.n_train, ds.n_test) == (12, 8)
    assert ds.class_names[9] == "Ankle boot"


def test_cifar10_from_keras_cache_through_keras_reader(keras_home):
    folder = keras_home / CIFAR_DIR
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8),
            b"labels": [0, 1, 2, 3],
        }
        (folder / name).write_bytes(pickle.dumps(batch))
    ds = load_dataset("cifar10")
    assert ds.input_shape == (32, 32, 3)
    assert (ds.n_train, ds.n_test) == (20, 4)
    assert ds.class_names[0] == "airplane"


def test_real_mnist_t10k_reader(mnist_t10k):
    x, y = mnist_t10k
    assert x.shape == (10000, 28, 28)
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(float(x.mean()) - 33.79) < 0.01
