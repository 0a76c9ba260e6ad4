"""Memory of the data side of a gate on MNIST-sized data (issue 13: a gate under 2 GB resident).

Peaks are Linux's VmHWM in a fresh child process, reset (``/proc/self/clear_refs``) right before
the measured call, so each figure is what that call added on top of what was already resident.
NumPy only: no Keras, so each child starts in about a second.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mlchecks.data import profile

MiB = 2**20

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs"
)

PRELUDE = textwrap.dedent(
    """
    import json, sys
    import numpy as np

    def status(field):
        for line in open('/proc/self/status'):
            if line.startswith(field + ':'):
                return int(line.split()[1]) * 1024
        raise SystemExit(field + ' missing from /proc/self/status')

    def measure(call):
        # warm-up imports and allocator state are not part of the figure
        open('/proc/self/clear_refs', 'w').write('5')
        before = status('VmRSS')
        result = call()
        return result, status('VmHWM') - before
    """
)


def child(body: str) -> dict:
    """Run PRELUDE + ``body`` in a fresh interpreter; ``body`` prints one JSON line last."""
    proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("rows", "shape"),
    [(20_000, (28, 28, 1)), (3_000, (32, 32, 3))],
    ids=["mnist-shaped", "cifar-shaped"],
)
def test_sample_stats_temporaries_stay_small(rows: int, shape: tuple[int, ...]) -> None:
    # The data checks compute per-sample stats of every split; their temporaries (a float64
    # copy of a block, its finite mask, a contiguous copy for hashing) were 8192 rows whatever
    # the sample size: 114 MiB of peak on MNIST rows, the peak phase of the whole gate on
    # synthetic:70000, and more on wider samples. Bounded by values per block, they stay small.
    values = rows * int(np.prod(shape))
    out = child(
        f"""
        from mlchecks.data.profile import sample_stats
        x = np.random.default_rng(0).random(({rows}, *{shape!r}), dtype=np.float32)
        stats, peak = measure(lambda: sample_stats(x))
        print(json.dumps({{"peak": peak, "x": x.nbytes, "n": len(stats["mean"])}}))
        """
    )
    assert out["n"] == rows
    assert out["x"] == values * 4
    # outputs: 7 arrays of 8 bytes per sample; temporaries: a few blocks of at most 32 MiB
    budget = 7 * 8 * rows + 48 * MiB
    assert out["peak"] <= budget, (
        f"sample_stats on {rows} float32 samples of shape {shape} ({out['x'] / MiB:.0f} MiB) "
        f"raised the peak resident set by {out['peak'] / MiB:.0f} MiB; expected at most "
        f"{budget / MiB:.0f} MiB (outputs plus block temporaries): size its blocks by values, "
        f"not rows, and do not copy the whole input"
    )


def test_sample_stats_do_not_depend_on_the_block_size() -> None:
    # Blocks are an implementation detail: stats of the whole array equal the stats of its
    # pieces computed one at a time (each far below a block): bit for bit, except the std,
    # whose einsum row sums may differ in the last bit with the block's shape.
    rng = np.random.default_rng(1)
    x = rng.random((profile.block_rows(28 * 28) * 2 + 37, 28, 28), dtype=np.float32)
    x[5, 3, 3] = np.nan
    x[7, 0, 0] = np.inf
    whole = profile.sample_stats(x)
    cuts = [*range(0, len(x), 1000), len(x)]
    pieces = [profile.sample_stats(x[a:b]) for a, b in itertools.pairwise(cuts)]
    for key, value in whole.items():
        joined = np.concatenate([p[key] for p in pieces])
        if key == "std":
            np.testing.assert_allclose(value, joined, rtol=1e-12, err_msg="sample_stats()['std']")
        else:
            np.testing.assert_array_equal(value, joined, err_msg=f"sample_stats()[{key!r}]")


def test_block_rows_bounds_values_not_rows() -> None:
    assert profile.block_rows(28 * 28) * 28 * 28 <= profile.BLOCK_VALUES
    assert profile.block_rows(32 * 32 * 3) * 32 * 32 * 3 <= profile.BLOCK_VALUES
    assert profile.block_rows(10**9) == 1  # one sample wider than a block still gets a block
    assert profile.block_rows(1) == profile.BLOCK_VALUES


def test_synthetic_mnist_is_float32_held_once() -> None:
    # synthetic:70000 is 209 MiB of float32 images; the splits are views of one buffer (no
    # copy) and loading adds no float64 copy (which alone would be 418 MiB more).
    out = child(
        """
        from mlchecks.data import load_dataset
        ds, peak = measure(lambda: load_dataset("synthetic:70000"))
        print(json.dumps({
            "peak": peak,
            "dtypes": [str(ds.x_train.dtype), str(ds.x_test.dtype)],
            "x": ds.x_train.nbytes + ds.x_test.nbytes,
            "shared": bool(np.shares_memory(ds.x_train.base, ds.x_test.base)),
            "n": [ds.n_train, ds.n_test],
        }))
        """
    )
    assert out["dtypes"] == ["float32", "float32"]
    assert out["n"] == [60000, 10000]
    assert out["shared"], "x_train and x_test of synthetic data should be views of one array"
    assert out["peak"] <= 1.5 * out["x"], (
        f"loading synthetic:70000 raised the peak resident set by {out['peak'] / MiB:.0f} MiB "
        f"for {out['x'] / MiB:.0f} MiB of float32 images; expected at most 1.5x the images: "
        f"generate them block by block in float32, without a whole-array copy"
    )
