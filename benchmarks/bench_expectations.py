"""Data expectations: mlchecks' compact suite vs a naive one-expectation-per-pixel GX suite.

Both suites run with Great Expectations 1.x on the same data, in the same run, with GX already
imported (its import, several seconds, is excluded from both). The naive suite is what a GX user
writes for image arrays: the images flattened into one column per pixel, one
``ExpectColumnValuesToBeBetween`` per pixel column, plus the label set and the row count, as one
suite validated once. mlchecks' suite is :func:`mlchecks.data.expectations.run`, everything
included (per-sample statistics, row hashes, GX validation of every ``data.*`` check).

Target (DESIGN.md): on ``synthetic:70000`` (70,000 x 28 x 28, MNIST-sized) mlchecks' suite is at
least 10x faster than the naive one and takes under 10 s on a 2-core machine.

Run (not part of the default test run; the naive suite alone takes minutes)::

    TF_CPP_MIN_LOG_LEVEL=3 /tmp/venv/bin/python -m pytest benchmarks/bench_expectations.py \
        -p no:cacheprovider -s --benchmark-columns=min,mean,max,rounds

``-k digits`` runs the small pair only (about 10 s).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")

from mlchecks.data import expectations as ex
from mlchecks.data.dataset import Dataset, load_dataset, synthetic

TARGET_RATIO = 10.0
TARGET_SECONDS = 10.0
_TIMES: dict[tuple[str, str], float] = {}


@pytest.fixture(scope="module", autouse=True)
def gx_imported():
    """Import GX (and build one context) before anything is timed."""
    ex._gx()
    ex._context()


@pytest.fixture(scope="module", params=["digits", "synthetic:70000"])
def data(request) -> Dataset:
    if request.param == "digits":
        return load_dataset("digits")
    return synthetic(70000)


def naive_suite(ds: Dataset) -> bool:
    """One expectation per pixel column over both splits; returns GX's overall success."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    import pandas as pd

    x = np.concatenate([ds.x_train, ds.x_test]).reshape(ds.n_train + ds.n_test, -1)
    frame = pd.DataFrame(x, columns=[f"px{i}" for i in range(x.shape[1])])
    frame["label"] = np.concatenate([ds.y_train, ds.y_test])
    lo, hi = 0.0, 1.0
    expectations = [
        gxe.ExpectColumnValuesToBeBetween(column=f"px{i}", min_value=lo, max_value=hi)
        for i in range(x.shape[1])
    ]
    expectations.append(
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=list(range(ds.num_classes)))
    )
    expectations.append(gxe.ExpectTableRowCountToBeBetween(min_value=10))
    context = ex._context()
    # One constructor call: add_expectation one by one is quadratic in the suite size and
    # would make the naive suite look worse than it has to.
    suite = gx.ExpectationSuite(name="naive", expectations=expectations)
    batch = (
        context.data_sources.add_pandas("naive")
        .add_dataframe_asset("pixels")
        .add_batch_definition_whole_dataframe("whole")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    return bool(batch.validate(suite, result_format="BASIC").success)


def test_mlchecks_suite(benchmark, data):
    report = benchmark.pedantic(ex.run, args=(data,), kwargs={"reference": None},
                                rounds=3, iterations=1)  # fmt: skip
    assert all(r.passed for r in report), [r.message for r in report if not r.passed]
    _TIMES[(data.name, "mlchecks")] = benchmark.stats.stats.min
    benchmark.extra_info["expectations"] = sum(
        len(r.details.get("expectations", [])) for r in report
    )


def test_naive_per_pixel_suite(benchmark, data):
    success = benchmark.pedantic(naive_suite, args=(data,), rounds=1, iterations=1)
    assert success
    naive = benchmark.stats.stats.min
    ours = _TIMES.get((data.name, "mlchecks"))
    if ours is None:
        pytest.skip("run test_mlchecks_suite in the same session for the ratio")
    ratio = naive / ours
    benchmark.extra_info["ratio"] = ratio
    print(
        f"\n{data.name}: mlchecks {ours:.2f} s (best of 3) vs naive per-pixel GX {naive:.2f} s "
        f"({int(np.prod(data.input_shape)) + 2} expectations): {ratio:.1f}x faster"
    )
    if data.name.startswith("synthetic"):
        assert ours < TARGET_SECONDS, f"mlchecks' suite took {ours:.2f} s >= {TARGET_SECONDS} s"
        assert ratio >= TARGET_RATIO, f"only {ratio:.1f}x faster than the naive suite"
