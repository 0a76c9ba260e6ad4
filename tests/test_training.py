"""Seeded training, bit-reproducibility across processes, the trained-model cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from helpers import keras_backend

from mlchecks.config import ModelSpec
from mlchecks.model import training
from mlchecks.model.training import ModelCache, predict, train, weights_digest
from mlchecks.stats.evaluation import Evaluation

#: The reference compile's steps per execution on each backend: several steps per compiled call
#: where the trainer allows it (TensorFlow: 1.75-1.87x the samples/s on the reference MLP, the same
#: weights; ``benchmarks/training_throughput.py``), 1 on PyTorch, whose trainer refuses more.
RECIPE_STEPS = {"tensorflow": 32, "jax": 32, "torch": 1}


@pytest.mark.parametrize("fixture", ["trained_mlp", "trained_cnn"])
def test_reference_models_reach_095_on_digits(fixture, request, digits):
    trained = request.getfixturevalue(fixture)
    evaluation = Evaluation(digits.y_test, predict(trained.model, digits.x_test), 10)
    assert evaluation.accuracy >= 0.95, f"{fixture}: {evaluation.accuracy:.4f}"


def test_training_record(trained_mlp):
    record = trained_mlp.record
    assert record.epochs == 20 and record.seed == 0
    assert len(record.history["loss"]) == 20 and len(record.history["val_accuracy"]) == 20
    assert record.history["loss"][-1] < record.history["loss"][0]
    assert record.environment["backend"] == keras_backend()
    assert record.environment["device"] in ("CPU", "GPU")
    assert record.samples_per_s > 0


_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from mlchecks.config import ModelSpec
    from mlchecks.data import load_dataset
    from mlchecks.model.training import train, weights_digest
    ds = load_dataset("synthetic:600")
    out = {}
    for builder in sys.argv[2:]:
        trained = train(ModelSpec(name="m", builder=builder, epochs=2), ds, seed=int(sys.argv[1]))
        out[builder] = {"digest": weights_digest(trained.model),
                        "steps_per_execution": trained.model.steps_per_execution}
    print(json.dumps(out))
    """
)

BUILDERS = ("cnn", "mlp")


def _digest_here(builder: str, seed: int) -> str:
    from mlchecks.data import load_dataset

    ds = load_dataset("synthetic:600")
    return weights_digest(
        train(ModelSpec(name="m", builder=builder, epochs=2), ds, seed=seed).model
    )


@pytest.fixture(scope="module")
def other_process() -> dict:
    """Both reference models trained with seed 3 in one fresh process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, "3", *BUILDERS],
        capture_output=True, text=True, env=env, timeout=240, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("builder", BUILDERS)
def test_same_seed_gives_bit_identical_weights_across_processes(builder, other_process):
    """A fresh process and this one (which has trained other models before) agree bit for bit,
    trained with this backend's reference recipe (515 samples, batch 32: one full and one
    partial run of steps per epoch where the recipe runs several)."""
    theirs = other_process[builder]
    assert theirs["steps_per_execution"] == RECIPE_STEPS[keras_backend()]
    assert _digest_here(builder, 3) == theirs["digest"]
    assert _digest_here(builder, 4) != theirs["digest"]


def test_reference_compile_follows_the_backends_recipe(digits):
    model = training.build(ModelSpec(name="m", builder="mlp"), digits)
    assert training.reference_recipe() == {
        "steps_per_execution": RECIPE_STEPS[keras_backend()],
        "validation_batch_size": 256,
    }
    assert model.steps_per_execution == RECIPE_STEPS[keras_backend()]


USER_BUILDER = """
import keras

def compiled(input_shape, num_classes):
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.Flatten()(inputs)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", steps_per_execution=1)
    return model
"""


def test_a_builders_own_compile_is_kept(tmp_path, monkeypatch, digits):
    """The recipe is only the reference compile: a model the builder compiled keeps its own."""
    import keras

    (tmp_path / "user_builders.py").write_text(USER_BUILDER)
    monkeypatch.syspath_prepend(str(tmp_path))
    model = training.build(ModelSpec(name="u", builder="user_builders:compiled"), digits)
    assert model.steps_per_execution == 1
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.get_compile_config()["metrics"] is None


def test_epochs_are_reported_with_several_steps_per_execution(digits):
    """The progress line's ``epoch k/n`` comes from on_epoch_end, which fires once per epoch
    however many steps one compiled call runs (digits: 43 batches, two calls per epoch)."""
    import io

    from mlchecks._util.progress import Progress

    terminal = io.StringIO()
    trained = train(
        ModelSpec(name="p", builder="mlp", epochs=3), digits, seed=0,
        progress=Progress(terminal, tty=True),
    )  # fmt: skip
    assert trained.model.steps_per_execution == RECIPE_STEPS[keras_backend()]
    shown = terminal.getvalue()
    for epoch in (1, 2, 3):
        assert shown.count(f"training p: epoch {epoch}/3, validation accuracy") == 1, shown
    assert "epoch 4/3" not in shown and len(trained.record.history["loss"]) == 3


def _rewrite_steps_per_execution(path, steps: int) -> None:
    """Set the compile config's steps per execution inside a ``.keras`` archive."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["compile_config"]["steps_per_execution"] = steps
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_a_model_saved_with_several_steps_per_execution_loads_predicts_and_fits(tmp_path, digits):
    """A ``.keras`` file keeps its compile config, steps per execution included: one trained
    under TensorFlow or JAX with the recipe (or by a user) must still predict and fine-tune on
    every backend, PyTorch's trainer included, which runs one step per call only."""
    from mlchecks.model import zoo

    torch = keras_backend() == "torch"
    model = zoo.mlp(digits.input_shape, 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=1 if torch else 32)  # fmt: skip
    model.fit(digits.x_train, digits.y_train, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "spe32.keras"
    model.save(path)
    if torch:  # cannot train with 32 here: the file TensorFlow or JAX would have written
        _rewrite_steps_per_execution(path, 32)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["compile_config"]["steps_per_execution"] == 32
    loaded = training.load_model(path)
    assert loaded.steps_per_execution == (1 if torch else 32)
    probs = predict(loaded, digits.x_test)
    np.testing.assert_allclose(probs, predict(model, digits.x_test), rtol=1e-5, atol=1e-6)
    history = loaded.fit(digits.x_train, digits.y_train, epochs=1, batch_size=32, verbose=0)
    assert len(history.history["loss"]) == 1


def test_cache_hit_returns_the_same_model_without_training(tmp_path, digits):
    cache = ModelCache(tmp_path)
    spec = ModelSpec(name="tiny", builder="mlp", epochs=1)
    first = train(spec, digits, seed=1, cache=cache)
    assert not first.record.cached
    second = train(spec, digits, seed=1, cache=cache)
    assert second.record.cached
    assert not second.loaded  # loaded lazily: nothing read until .model is used
    assert weights_digest(second.model) == weights_digest(first.model)
    # a different seed is a different entry
    third = train(spec, digits, seed=2, cache=cache)
    assert not third.record.cached
    entries = [p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert len(entries) == 2


def test_half_written_entry_is_never_read(tmp_path, digits):
    cache = ModelCache(tmp_path)
    spec = ModelSpec(name="tiny", builder="mlp", epochs=1)
    key = cache.key(spec, digits, seed=5, deterministic=True)
    # what a crash mid-write leaves: a temp folder, and an entry with a truncated model only
    (tmp_path / f".{key}.abc123").mkdir(parents=True)
    (tmp_path / key).mkdir()
    (tmp_path / key / "model.keras").write_bytes(b"PK\x03\x04truncated")
    trained = train(spec, digits, seed=5, cache=cache)
    assert not trained.record.cached  # retrained, not read back
    assert trained.model.predict(digits.x_test[:2], verbose=0).shape == (2, 10)


def test_corrupt_record_is_retrained(tmp_path, digits):
    cache = ModelCache(tmp_path)
    spec = ModelSpec(name="tiny", builder="mlp", epochs=1)
    train(spec, digits, seed=6, cache=cache)
    key = cache.key(spec, digits, seed=6, deterministic=True)
    (tmp_path / key / "record.json").write_text("{not json")
    again = train(spec, digits, seed=6, cache=cache)
    assert not again.record.cached


def test_cache_key_depends_on_what_changes_the_model(tmp_path, digits):
    cache = ModelCache(tmp_path)
    spec = ModelSpec(name="m", builder="mlp", epochs=3)
    base = cache.key(spec, digits, 0, True)
    assert cache.key(spec, digits, 0, True) == base
    assert cache.key(ModelSpec(name="m", builder="mlp", epochs=4), digits, 0, True) != base
    assert cache.key(spec, digits, 1, True) != base
    x = digits.x_train.copy()
    x[0] += 0.01
    assert cache.key(spec, digits.replace(x_train=x), 0, True) != base
    # the training recipe: a model trained by another (the old one: one step per execution,
    # validation at the training batch) is never reused
    steps = training.STEPS_PER_EXECUTION[keras_backend()]
    other = {**training.STEPS_PER_EXECUTION, keras_backend(): 1 if steps != 1 else 32}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "STEPS_PER_EXECUTION", other)
        assert cache.key(spec, digits, 0, True) != base
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "VALIDATION_BATCH", 32)
        assert cache.key(spec, digits, 0, True) != base
    assert cache.key(spec, digits, 0, True) == base
    # thresholds are not part of the trained artefact
    assert (
        cache.key(ModelSpec(name="m", builder="mlp", epochs=3, min_accuracy=0.5), digits, 0, True)
        == base
    )


def test_predictions_are_memoised_in_the_entry(tmp_path, digits):
    from mlchecks.config import settings_from_table
    from mlchecks.run.session import Session

    settings = settings_from_table(
        {"models": [{"name": "tiny", "builder": "mlp", "epochs": 1}], "cache_dir": str(tmp_path)},
        {},
    )
    first = Session(settings, dataset=digits)
    probs = first.evaluation(settings.models[0]).probs
    second = Session(settings, dataset=digits)
    again = second.evaluation(settings.models[0]).probs
    np.testing.assert_array_equal(probs, again)
    assert not second.model(settings.models[0]).loaded  # answered from the memo


def test_a_compiled_never_trained_model_loads_under_w_error(tmp_path, digits):
    """Keras warns that it skips the optimizer slots of a model compiled but never trained;
    under ``-W error`` (a caller's CI, a pytest run with filterwarnings = error) that warning
    made the load fail, and the gate refused a loadable model as unreadable."""
    import warnings

    from mlchecks.model import zoo
    from mlchecks.model.training import load_model

    model = zoo.mlp(digits.x_train.shape[1:], 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "untrained.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_model(tmp_path / "untrained.keras")
    assert loaded.count_params() == model.count_params()
