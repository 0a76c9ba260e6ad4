"""Behaviour properties: the reference MLP has them; planted faults are each caught, the same way
on every run; results of cached models are memoised so a warm run does not load the model."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mlchecks.checks import behaviour
from mlchecks.config import ModelSpec, Settings, Thresholds
from mlchecks.model.training import TrainedModel
from mlchecks.result import BehaviourDetails, CheckResult
from mlchecks.run.session import Session


@pytest.fixture(scope="module")
def keras():
    import keras

    return keras


@pytest.fixture(scope="module")
def reference(trained_mlp, digits):
    return behaviour._predict(trained_mlp.model, digits.x_test)


@pytest.mark.parametrize("prop", behaviour.PROPERTIES)
def test_reference_mlp_has_every_property(prop, trained_mlp, digits, reference):
    result = behaviour.check(prop, trained_mlp.model, digits, name="mlp", reference=reference)
    assert result.id == f"behaviour.{prop}" and result.category == "behaviour"
    assert result.passed, result.message
    assert result.severity == "error" and result.status == "passed"
    assert isinstance(result.details, BehaviourDetails)
    assert result.details.examples == behaviour.EXAMPLES
    json.dumps(result.to_json(), allow_nan=False)


# ----------------------------------------------------------------------------- planted faults
def _head(keras, middle=(), activation="softmax", name="probe", init=None):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8, 8, 1))
    x = keras.layers.Flatten()(inputs)
    for layer in middle:
        x = layer(x)
    kwargs = {"kernel_initializer": init} if init is not None else {}
    outputs = keras.layers.Dense(10, activation=activation, **kwargs)(x)
    return keras.Model(inputs, outputs, name=name)


def test_logits_are_not_a_simplex(keras, digits):
    model = _head(keras, activation=None)
    result = behaviour.simplex(model, digits, name="logits")
    assert not result.passed and result.blocking
    assert "not probabilities" in result.message and "softmax" in result.message
    assert result.details.counterexample == {"source": "test split"}
    noise = behaviour.noise(model, digits, name="logits")
    assert noise.status == "not_judged" and not noise.blocking
    assert "not judged: its outputs are not probabilities" in noise.message


def test_noise_without_a_confident_prediction_is_not_judged(keras, digits):
    model = _head(keras, init="zeros")  # uniform outputs: every top probability is 0.1
    result = behaviour.noise(model, digits, name="uniform")
    assert result.status == "not_judged" and result.passed and result.value is None
    assert "not judged: no confident test prediction" in result.message
    assert result.details.confident == 0 and result.threshold == pytest.approx(0.02)
    again = CheckResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.status == "not_judged" and again.details == result.details


def test_simplex_searches_beyond_the_test_split(keras, digits):
    """Probabilities for the test split's inputs only: made-up inputs near 1.0 break them."""

    class Saturating(keras.layers.Layer):
        def call(self, inputs):
            probs, pixels = inputs
            bright = keras.ops.max(pixels, axis=-1, keepdims=True) > 0.999
            return probs * (1.0 + 1e3 * keras.ops.cast(bright, probs.dtype))

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(8, 8, 1))
    pixels = keras.layers.Flatten()(inputs)
    probs = keras.layers.Dense(10, activation="softmax")(pixels)
    model = keras.Model(inputs, Saturating()([probs, pixels]))
    dim = digits.replace(x_test=np.minimum(digits.x_test, 0.99))
    assert behaviour._simplex_error(behaviour._predict(model, dim.x_test)) < 1e-5
    result = behaviour.simplex(model, dim, name="bright", examples=30)
    assert not result.passed, result.message
    assert "a batch of" in result.message and result.details.counterexample["max"] > 0.999


def test_batch_statistics_at_inference_are_caught(keras, digits):
    class BatchCentering(keras.layers.Layer):
        def call(self, x):
            return x - keras.ops.mean(x, axis=0, keepdims=True)

    model = _head(keras, middle=[BatchCentering()])
    result = behaviour.batch_size(model, digits, name="centered")
    assert not result.passed and "depend on batch size" in result.message
    assert result.value > 1e-3 and result.details.counterexample["batch"] >= 2
    # a batch mean is the same in any order
    assert behaviour.order(model, digits, name="centered").passed


def test_order_dependence_is_caught(keras, digits):
    class Position(keras.layers.Layer):
        def call(self, x):
            return x + keras.ops.cumsum(keras.ops.ones_like(x[:, :1]), axis=0)

    model = _head(keras, middle=[Position()])
    result = behaviour.order(model, digits, name="positional")
    assert not result.passed and "order of a batch" in result.message
    assert len(result.details.counterexample["permutation"]) >= 2


def test_state_outside_the_saved_model_breaks_the_round_trip(keras, digits):
    @keras.saving.register_keras_serializable(package="mlchecks_tests")
    class Jitter(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            # a bug: a per-instance constant that is neither a weight nor in get_config
            self.offset = float(np.random.default_rng().normal(0, 1))

        def call(self, x):
            return x + self.offset

    model = _head(keras, middle=[keras.layers.Dense(10), Jitter()])
    result = behaviour.round_trip(model, digits, name="jitter")
    assert not result.passed and "round trip changes predictions" in result.message
    assert result.details.counterexample["differing"] > 0


def test_unsafe_model_does_not_survive_the_round_trip(keras, digits):
    model = _head(keras, middle=[keras.layers.Lambda(lambda x: x * 2.0)])
    result = behaviour.round_trip(model, digits, name="lambda")
    assert not result.passed and "does not survive" in result.message


def test_a_trusted_model_with_code_passes_the_round_trip(keras, digits, tmp_path):
    """--trust-candidate (ModelSpec.trusted) with a Lambda model: the reload uses the trust the
    user gave (safe mode off), so the round trip is judged on predictions, and passes; the same
    file untrusted cannot even be loaded (the gate refuses it: exit 2)."""
    from mlchecks.config import settings_from_table

    model = _head(keras, middle=[keras.layers.Lambda(lambda x: x * 2.0, name="double")])
    path = tmp_path / "lambda.keras"
    model.save(path)
    assert behaviour.round_trip(model, digits, name="lambda", trusted=True).passed
    settings = settings_from_table({"reports": "none"}, {}, root=str(tmp_path))
    spec = ModelSpec(name="lambda", path=str(path), trusted=True)
    session = Session(settings.replace(models=(spec,)), dataset=digits)
    result = behaviour.run_check(session, spec, "round_trip")
    assert result.passed and result.status == "passed", result.message
    assert "bit-identical predictions" in result.message


def test_noise_budget(keras, digits):
    # enormous weights: every prediction is confident and a tiny nudge flips many of them
    brittle = _head(keras, init=keras.initializers.RandomNormal(stddev=300.0, seed=0))
    result = behaviour.noise(brittle, digits, name="brittle", scale=0.05, budget=0.02)
    assert not result.passed and result.value > 0.02
    assert "above the budget of 2.00%" in result.message
    assert result.details.confident > 100
    loose = behaviour.noise(brittle, digits, name="brittle", scale=0.05, budget=1.0)
    assert loose.passed  # the budget is the user's to set


def test_failures_are_deterministic(keras, digits):
    class BatchCentering(keras.layers.Layer):
        def call(self, x):
            return x - keras.ops.mean(x, axis=0, keepdims=True)

    model = _head(keras, middle=[BatchCentering()])
    first = behaviour.batch_size(model, digits, name="c")
    second = behaviour.batch_size(model, digits, name="c")
    assert first.to_json() == second.to_json()


def test_a_model_that_cannot_predict_fails_cleanly(keras, digits):
    model = keras.Sequential([keras.Input(shape=(32, 32, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])  # fmt: skip
    result = behaviour.batch_size(model, digits, name="wrong-input")
    assert not result.passed and "could not run" in result.message


# ----------------------------------------------------------------------------- memo
def test_results_are_memoised_beside_the_cached_model(trained_mlp, digits, tmp_path):
    spec = ModelSpec(name="mlp", builder="mlp", epochs=trained_mlp.spec.epochs)
    settings = Settings(models=(spec,), thresholds=Thresholds(), cache_dir=str(tmp_path))

    def session():
        unloaded = TrainedModel("mlp", None, spec, trained_mlp.record, trained_mlp.path,
                                memo_dir=tmp_path / "memo")  # fmt: skip
        return Session(settings, dataset=digits, models={"mlp": unloaded}), unloaded

    cold, model = session()
    first = behaviour.run_check(cold, spec, "noise")
    assert model.loaded and len(list((tmp_path / "memo").glob("*.json"))) == 1
    warm, model = session()
    again = behaviour.run_check(warm, spec, "noise")
    assert not model.loaded  # answered from the memo: no model load, no Keras call
    assert again == first
    stricter = dataclasses.replace(settings.thresholds, max_noise_flip_rate=0.0)
    warm.settings = settings.replace(thresholds=stricter)
    behaviour.run_check(warm, spec, "noise")  # another budget: searched again
    assert model.loaded
