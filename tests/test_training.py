"""Seeded training, bit-reproducibility across processes, the trained-model cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from helpers import keras_backend

from mlchecks.config import ModelSpec
from mlchecks.model.training import ModelCache, predict, train, weights_digest
from mlchecks.stats.evaluation import Evaluation


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
    trained = train(ModelSpec(name="m", builder=sys.argv[1], epochs=2), ds, seed=int(sys.argv[2]))
    print(json.dumps({"digest": weights_digest(trained.model)}))
    """
)


def _digest_here(builder: str, seed: int) -> str:
    from mlchecks.data import load_dataset

    ds = load_dataset("synthetic:600")
    return weights_digest(
        train(ModelSpec(name="m", builder=builder, epochs=2), ds, seed=seed).model
    )


def _digest_in_subprocess(builder: str, seed: int) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, builder, str(seed)],
        capture_output=True, text=True, env=env, timeout=240, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])["digest"]


@pytest.mark.slow
def test_same_seed_gives_bit_identical_weights_across_processes():
    """A fresh process and this one (which has trained other models before) agree bit for bit."""
    other_process = _digest_in_subprocess("cnn", 3)
    assert _digest_here("cnn", 3) == other_process
    assert _digest_here("cnn", 4) != other_process


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
