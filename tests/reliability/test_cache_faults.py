"""SIGKILL while writing the trained-model cache: a half-written model is never read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from . import tally

TRAIN = textwrap.dedent(
    """
    import json, sys
    from mlchecks.config import ModelSpec
    from mlchecks.data import load_dataset
    from mlchecks.model.training import ModelCache, train, weights_digest
    ds = load_dataset("synthetic:300")
    trained = train(ModelSpec(name="m", builder="mlp", epochs=1), ds, seed=0,
                    cache=ModelCache(sys.argv[1]))
    print(json.dumps({"cached": trained.record.cached, "digest": weights_digest(trained.model)}))
    """
)


def _train(cache, fault=None):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MLCHECKS_FAULT", None)
    if fault:
        env["MLCHECKS_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-c", TRAIN, str(cache)],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip


@pytest.mark.slow
def test_killed_cache_writes_are_never_read_back(tmp_path):
    cache = tmp_path / "cache"
    # "cache:before-rename" is the last point before an entry becomes visible; killing there
    # covers the earlier "cache:after-model" too (same temp folder, one more file written).
    for point in ("cache:before-rename",):
        tally.fault()
        killed = _train(cache, point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-500:]
        entries = [p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")]
        assert entries == [], f"{point}: a half-written entry became visible: {entries}"
        again = _train(cache)  # must retrain, not read the debris
        assert again.returncode == 0, again.stderr[-2000:]
        result = json.loads(again.stdout.strip().splitlines()[-1])
        assert result["cached"] is False
        # and the entry it wrote is whole: this process reads it back, same weights
        from mlchecks.config import ModelSpec
        from mlchecks.data import load_dataset
        from mlchecks.model.training import ModelCache, train, weights_digest

        ds = load_dataset("synthetic:300")
        hit = train(
            ModelSpec(name="m", builder="mlp", epochs=1), ds, seed=0, cache=ModelCache(cache)
        )
        assert hit.record.cached and weights_digest(hit.model) == result["digest"]
