"""Training-setup lint: the origin article's three code samples, each kind (a)-(h), no false alarm
on the reference models, the ``.keras`` file path (no Keras import) and ``mlchecks lint``."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from helpers import run_cli_here

from mlchecks.checks import setup as lint
from mlchecks.config import ModelSpec
from mlchecks.data import load_dataset
from mlchecks.data.dataset import from_arrays, synthetic
from mlchecks.errors import GateExit, ModelError


def ids(found):
    return {f.id for f in found}


def to_categorical(y, k=10):
    return np.eye(k, dtype=np.float32)[y]


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.fixture(scope="module")
def mnist_like():
    """28x28 grayscale images with class ids, like mnist.load_data() (synthetic: no download)."""
    ds = synthetic(140)
    return ds


def _article_cnn(keras):
    """Sections 4.1 and 4.2: the same Sequential CNN declared for 32x32x3 CIFAR images."""
    from keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
    from keras.models import Sequential

    model = Sequential()
    with warnings.catch_warnings():
        # Keras 3 warns about input_shape= on a layer; the article's code passes it.
        warnings.simplefilter("ignore", UserWarning)
        model.add(Conv2D(32, (3, 3), activation="relu", input_shape=(32, 32, 3)))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Conv2D(64, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Flatten())
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# ----------------------------------------------------------------------------- the article
def test_article_3_2_mlp_dense_on_unflattened_image(keras, mnist_like):
    """3.2: Input(28, 28, 1) -> Dense(128) -> Dense(10): a per-pixel output."""
    from keras.layers import Dense, Input
    from keras.models import Model

    input_layer = Input(shape=(28, 28, 1), name="input")
    hidden_layer = Dense(128, activation="relu")(input_layer)
    output_layer = Dense(10, activation="softmax")(hidden_layer)
    model = Model(inputs=input_layer, outputs=output_layer)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    found = {f.id: f for f in lint.findings(model, mnist_like)}
    assert set(found) == {"setup.per_pixel_output"}
    finding = found["setup.per_pixel_output"]
    assert finding.severity == "error"
    assert finding.where == hidden_layer._keras_history[0].name  # the first Dense
    assert "(None, 28, 28, 10)" in finding.what and "(None, 10)" in finding.what
    assert "Flatten" in finding.fix


def test_article_4_1_cnn_with_one_hot_labels_and_sparse_loss(keras):
    """4.1: CIFAR-shaped data, labels through to_categorical, sparse_categorical_crossentropy."""
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (60, 32, 32, 3)).astype(np.float32) / 255.0
    test_images = rng.integers(0, 256, (20, 32, 32, 3)).astype(np.float32) / 255.0
    train_labels = to_categorical(np.arange(60) % 10)
    test_labels = to_categorical(np.arange(20) % 10)
    data = from_arrays("cifar-like", train_images, train_labels, test_images, test_labels)
    model = _article_cnn(keras)

    found = {f.id: f for f in lint.findings(model, data)}
    assert set(found) == {"setup.label_encoding"}
    assert "one-hot" in found["setup.label_encoding"].what
    assert "categorical_crossentropy" in found["setup.label_encoding"].fix


def test_article_4_2_cifar_cnn_fed_mnist(keras, mnist_like):
    """4.2: the same CNN fed 28x28 MNIST images, labels through to_categorical."""
    data = from_arrays(
        "mnist-like",
        mnist_like.x_train[..., 0],  # (N, 28, 28) as mnist.load_data() returns
        to_categorical(mnist_like.y_train),
        mnist_like.x_test[..., 0],
        to_categorical(mnist_like.y_test),
    )
    model = _article_cnn(keras)
    found = {f.id: f for f in lint.findings(model, data)}
    assert set(found) == {"setup.input_shape", "setup.label_encoding"}
    shape = found["setup.input_shape"]
    assert "(32, 32, 3)" in shape.what and "(28, 28, 1)" in shape.what
    assert shape.where.startswith("input")


def test_article_cases_on_real_mnist(keras, mnist_t10k):
    """The same three samples against the real MNIST test images (skipped without them)."""
    x, y = mnist_t10k
    data = from_arrays("mnist-t10k", x[:600], to_categorical(y[:600]), x[600:800],
                       to_categorical(y[600:800]), scale=True)  # fmt: skip
    assert {"setup.input_shape", "setup.label_encoding"} <= ids(
        lint.findings(_article_cnn(keras), data)
    )
    raw = from_arrays("mnist-raw", x[:600], y[:600], x[600:800], y[600:800])  # 0..255
    assert ids(lint.findings(_article_cnn(keras), raw)) >= {
        "setup.input_scale",
        "setup.input_shape",
    }


# ----------------------------------------------------------------------------- no false alarm
@pytest.mark.parametrize("data", ["digits", "synthetic:200"])
@pytest.mark.parametrize("builder", ["mlp", "cnn"])
def test_reference_models_have_no_finding(keras, builder, data):
    from mlchecks.model.training import build

    ds = load_dataset(data)
    model = build(ModelSpec(name=builder, builder=builder), ds)
    results = lint.run(model, ds)
    assert [r.id for r in results] == list(lint.RULES)
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    # every rule was judged, none skipped as "not applicable"
    assert not [r.message for r in results if r.severity == "info"]


# ----------------------------------------------------------------------------- kinds (a)-(h)
def _functional(keras, input_shape, units=10, activation="softmax", flatten=True, rescale=False):
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = keras.layers.Rescaling(1 / 255, name="scale")(inputs) if rescale else inputs
    x = keras.layers.Flatten(name="flat")(x) if flatten else x
    x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(units, activation=activation, name="head")(x)
    return keras.Model(inputs, outputs, name="probe")


@pytest.fixture(scope="module")
def digits_onehot(digits):
    return from_arrays("digits-onehot", digits.x_train, to_categorical(digits.y_train),
                       digits.x_test, to_categorical(digits.y_test))  # fmt: skip


def _only(model, data, expected, **kwargs):
    found = {f.id: f for f in lint.findings(model, data, **kwargs)}
    assert set(found) == {expected}, {k: f.what for k, f in found.items()}
    return found[expected]


def test_a_sparse_loss_with_one_hot_labels(keras, digits_onehot):
    model = _functional(keras, (8, 8, 1))
    model.compile(loss="sparse_categorical_crossentropy")
    f = _only(model, digits_onehot, "setup.label_encoding")
    assert f.where == "head" and f.severity == "error"


def test_a_categorical_loss_with_class_ids(keras, digits):
    model = _functional(keras, (8, 8, 1))
    model.compile(loss=keras.losses.CategoricalCrossentropy())
    f = _only(model, digits, "setup.label_encoding")
    assert "class ids" in f.what and "sparse_categorical_crossentropy" in f.fix
    # the matching pairs are fine
    model.compile(loss="categorical_crossentropy")
    assert (
        lint.findings(
            model,
            from_arrays(
                "oh",
                digits.x_train,
                to_categorical(digits.y_train),
                digits.x_test,
                to_categorical(digits.y_test),
            ),
        )
        == []
    )


def test_a_not_judged_when_training_labels_are_unknown(keras, digits_onehot):
    model = _functional(keras, (8, 8, 1))
    model.compile(loss="sparse_categorical_crossentropy")
    assert lint.findings(model, digits_onehot, label_format="unknown") == []


def test_b_output_units_differ_from_classes(keras, digits):
    model = _functional(keras, (8, 8, 1), units=12)
    model.compile(loss="sparse_categorical_crossentropy")
    f = _only(model, digits, "setup.output_units")
    assert f.severity == "warning" and "12 units" in f.what and "10 classes" in f.what
    fewer = _functional(keras, (8, 8, 1), units=5)
    fewer.compile(loss="sparse_categorical_crossentropy")
    found = {f.id: f for f in lint.findings(fewer, digits)}
    assert found["setup.output_units"].severity == "error"
    assert "5..9 can never be predicted" in found["setup.output_units"].what


@pytest.mark.parametrize(
    ("activation", "from_logits", "fragment"),
    [("softmax", True, "applied twice"), ("linear", False, "raw logits")],
)
def test_c_activation_disagrees_with_from_logits(keras, digits, activation, from_logits, fragment):
    model = _functional(keras, (8, 8, 1), activation=activation)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    f = _only(model, digits, "setup.from_logits")
    assert fragment in f.what and f.where == "head"
    agreeing = _functional(keras, (8, 8, 1), activation=activation)
    agreeing.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not from_logits))
    assert lint.findings(agreeing, digits) == []


def test_c_softmax_in_a_separate_layer(keras, digits):
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Dense(10, name="logits")(keras.layers.Flatten()(inputs))
    outputs = keras.layers.Dropout(0.1)(keras.layers.Softmax(name="probs")(x))
    model = keras.Model(inputs, outputs)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert _only(model, digits, "setup.from_logits").where == "probs"


def test_d_input_shape_incompatible_with_data(keras, digits):
    model = _functional(keras, (32, 32, 3))
    model.compile(loss="sparse_categorical_crossentropy")
    f = _only(model, digits, "setup.input_shape")
    assert f.where == "pixels" and "(8, 8, 1)" in f.what and "(32, 32, 3)" in f.what
    flat = _functional(keras, (64,))
    flat.compile(loss="sparse_categorical_crossentropy")
    assert "reshape" in _only(flat, digits, "setup.input_shape").fix


def test_e_dense_head_on_unflattened_image(keras, digits):
    model = _functional(keras, (8, 8, 1), flatten=False)
    model.compile(loss="sparse_categorical_crossentropy")
    f = _only(model, digits, "setup.per_pixel_output")
    assert f.where == "hidden" and "(None, 8, 8, 10)" in f.what


def test_f_labels_outside_output_range(keras, digits):
    one_based = from_arrays("digits-1-based", digits.x_train, digits.y_train + 1,
                            digits.x_test, digits.y_test + 1)  # fmt: skip
    model = _functional(keras, (8, 8, 1), units=10)
    model.compile(loss="sparse_categorical_crossentropy")
    found = {f.id: f for f in lint.findings(model, one_based)}
    assert "setup.label_range" in found
    f = found["setup.label_range"]
    assert "1-based" in f.fix and f.where == "head"
    assert f"{(one_based.y_train == 10).sum() + (one_based.y_test == 10).sum()} of" in f.what


def test_g_binary_crossentropy_on_multiclass_labels(keras, digits):
    model = _functional(keras, (8, 8, 1), activation="sigmoid")
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    f = _only(model, digits, "setup.binary_loss")
    assert "10 mutually exclusive classes" in f.what


def test_g_binary_head_on_two_classes_is_fine(keras, digits):
    two = from_arrays(
        "parity", digits.x_train, digits.y_train % 2, digits.x_test, digits.y_test % 2
    )
    model = _functional(keras, (8, 8, 1), units=1, activation="sigmoid")
    model.compile(loss="binary_crossentropy")
    assert lint.findings(model, two) == []


def test_h_unscaled_inputs_is_a_warning(keras, digits):
    raw = digits.replace(x_train=digits.x_train * 255, x_test=digits.x_test * 255, name="raw")
    model = _functional(keras, (8, 8, 1))
    model.compile(loss="sparse_categorical_crossentropy")
    f = _only(model, raw, "setup.input_scale")
    assert f.severity == "warning" and "255" in f.what and "Rescaling" in f.fix
    rescaled = _functional(keras, (8, 8, 1), rescale=True)
    rescaled.compile(loss="sparse_categorical_crossentropy")
    assert lint.findings(rescaled, raw) == []
    standardised = digits.replace(x_train=(digits.x_train - 0.3) * 40, x_test=digits.x_test)
    assert lint.findings(model, standardised) == []  # negatives: scaled on purpose


def test_uncompiled_model_skips_loss_rules(keras, digits):
    results = {r.id: r for r in lint.run(_functional(keras, (8, 8, 1)), digits, name="probe")}
    assert all(r.passed for r in results.values())
    assert results["setup.label_encoding"].message.startswith("probe: not applicable")
    assert results["setup.label_encoding"].severity == "info"
    assert results["setup.input_shape"].severity == "error"  # judged


# ----------------------------------------------------------------------------- files, CLI
@pytest.fixture(scope="module")
def article_files(keras, tmp_path_factory, mnist_like):
    folder = tmp_path_factory.mktemp("article")
    _article_cnn(keras).save(folder / "cnn.keras")
    # A candidate for the gate is trained: one step on CIFAR-shaped data builds the optimizer
    # (a compiled model saved before any fit does not load back in every Keras process).
    trained = _article_cnn(keras)
    trained.fit(np.zeros((4, 32, 32, 3), np.float32), np.arange(4), epochs=1, verbose=0)
    trained.save(folder / "cnn_trained.keras")
    good = _functional(keras, (28, 28, 1))
    good.compile(loss="sparse_categorical_crossentropy")
    good.save(folder / "good.keras")
    ds = mnist_like
    np.savez(folder / "mnist_onehot.npz", x_train=ds.x_train[..., 0],
             y_train=to_categorical(ds.y_train), x_test=ds.x_test[..., 0],
             y_test=to_categorical(ds.y_test))  # fmt: skip
    np.savez(folder / "mnist_ids.npz", x_train=ds.x_train, y_train=ds.y_train,
             x_test=ds.x_test, y_test=ds.y_test)  # fmt: skip
    (folder / "mlchecks.toml").write_text(
        f'cache_dir = "{folder / "cache"}"\nregistry = "{folder / "registry"}"\n'
        f'reports = "{folder / "reports"}"\n'
    )
    return folder


def test_keras_file_is_linted_without_importing_keras(article_files):
    code = (
        "import sys; from mlchecks.checks import setup as lint;"
        "from mlchecks.data.dataset import load_npz;"
        "from pathlib import Path; d = Path(sys.argv[1]);"
        "f = lint.findings(d / 'cnn.keras', load_npz(d / 'mnist_onehot.npz'));"
        "print(sorted(x.id for x in f)); print('keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(article_files)], capture_output=True,
                         text=True, check=True).stdout.split("\n")  # fmt: skip
    assert out[0] == "['setup.input_shape', 'setup.label_encoding']"
    assert out[1] == "False"


def test_file_and_model_give_the_same_results(keras, tmp_path, mnist_like):
    model = _article_cnn(keras)
    model.save(tmp_path / "cnn.keras")
    from_file = lint.run(tmp_path / "cnn.keras", mnist_like, name="m")
    from_model = lint.run(model, mnist_like, name="m")
    assert [r.to_json() for r in from_file] == [r.to_json() for r in from_model]


def test_bad_files_are_model_errors(tmp_path, digits):
    with pytest.raises(ModelError, match="does not exist"):
        lint.findings(tmp_path / "missing.keras", digits)
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="not a Keras 3 archive"):
        lint.findings(tmp_path / "junk.keras", digits)


def test_cli_lint_finds_the_article_bugs(article_files):
    bad = run_cli_here("lint", "cnn.keras", "--data", "mnist_onehot.npz", "--json", "out.json",
                       cwd=article_files)  # fmt: skip
    assert bad.returncode == GateExit.REJECTED, bad.stdout + bad.stderr
    assert "2 finding(s)" in bad.stdout and "setup.input_shape" in bad.stdout
    assert "setup.label_encoding" in bad.stdout and "fix:" in bad.stdout
    payload = json.loads((article_files / "out.json").read_text())
    assert payload["findings"] == 2 and len(payload["checks"]) == len(lint.RULES)


# In-process from here: the same entry point as the console script, without paying a Python
# start-up (and scipy import) per case.
def test_cli_lint_no_finding(article_files, monkeypatch, capsys):
    from mlchecks.cli import main

    monkeypatch.chdir(article_files)
    assert main(["lint", "good.keras", "--data", "mnist_ids.npz"]) == GateExit.ACCEPTED
    assert "0 finding(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("missing.keras", "--data", "mnist_ids.npz"), "does not exist"),
        (("good.keras", "--data", "nothing.npz"), "nothing.npz"),
        (("good.keras", "--data", "imagenet"), "imagenet"),
        (("not-a-builder", "--data", "mnist_ids.npz"), "unknown model builder"),
    ],
)
def test_cli_lint_bad_input(article_files, monkeypatch, capsys, args, fragment):
    from mlchecks.cli import main

    monkeypatch.chdir(article_files)
    assert main(["lint", *args]) == GateExit.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("mlchecks: error: ") and fragment in err and "Traceback" not in err


def test_cli_lint_builds_a_builder(article_files, monkeypatch, capsys):
    from mlchecks.cli import main

    monkeypatch.chdir(article_files)
    assert main(["lint", "cnn", "--data", "mnist_onehot.npz"]) == GateExit.ACCEPTED
    # mlchecks trains builders on class ids, so one-hot source labels are no finding
    out = capsys.readouterr().out
    assert "lint: cnn on" in out and "0 finding(s)" in out


def test_gate_rejects_a_broken_setup_before_the_suites(article_files, monkeypatch, capsys):
    from mlchecks.cli import main

    monkeypatch.chdir(article_files)
    code = main(["gate", "cnn_trained.keras", "--data", "mnist_onehot.npz", "--json", "gate.json",
                 "--no-promote"])  # fmt: skip
    assert code == GateExit.REJECTED, capsys.readouterr()
    decision = json.loads((article_files / "gate.json").read_text())
    failed = {c["id"] for c in decision["checks"] if not c["passed"]}
    assert failed == {"setup.input_shape"}  # labels of a saved candidate's holdout: not judged
    assert {c["category"] for c in decision["checks"]} == {"setup"}  # no suite ran


ARTICLE_BUILDER = '''
import keras
from keras.layers import Dense, Input


def mlp_3_2(input_shape, num_classes):
    """Section 3.2 of the origin article, as a builder: Dense on the un-flattened image."""
    input_layer = Input(shape=input_shape, name="input")
    hidden_layer = Dense(128, activation="relu", name="hidden")(input_layer)
    output_layer = Dense(num_classes, activation="softmax", name="output")(hidden_layer)
    return keras.Model(inputs=input_layer, outputs=output_layer)
'''


def test_gate_rejects_a_broken_builder_without_training(tmp_path, monkeypatch, capsys, keras):
    from mlchecks.cli import main

    (tmp_path / "article_builders.py").write_text(ARTICLE_BUILDER)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mlchecks.toml").write_text(
        f'data = "synthetic:100"\ncache_dir = "{tmp_path / "cache"}"\n'
        f'registry = "{tmp_path / "registry"}"\nreports = "{tmp_path / "reports"}"\n'
        '[[models]]\nname = "article"\nbuilder = "article_builders:mlp_3_2"\nepochs = 50\n'
    )
    monkeypatch.chdir(tmp_path)
    code = main(["gate", "--no-promote", "--json", "gate.json"])
    out = capsys.readouterr().out
    assert code == GateExit.REJECTED, out
    assert "setup.per_pixel_output" in out and "'hidden'" in out
    decision = json.loads((tmp_path / "gate.json").read_text())
    assert [c["id"] for c in decision["checks"] if not c["passed"]] == ["setup.per_pixel_output"]
    assert not list((tmp_path / "cache").glob("article-*"))  # nothing was trained
