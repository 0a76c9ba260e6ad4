"""The README's `pytest -n 2 --dist loadfile` hands out the heaviest file first and keeps the
registry tests on one worker (tests/xdist_order.py)."""

from __future__ import annotations

import json

import xdist_order


def test_files_are_units_and_the_registry_tests_one():
    assert xdist_order.unit_of("tests/test_gate.py::test_x[a::b]") == "tests/test_gate.py"
    assert xdist_order.unit_of("tests/registry/test_contract.py::t") == "tests/registry"
    assert xdist_order.unit_of("tests/registry/test_mlflow_gate.py::t") == "tests/registry"
    assert xdist_order.unit_of("suites/test_data.py::t") == "suites/test_data.py"


def test_the_longest_expected_unit_goes_first():
    seconds = {"a.py": 5.0, "tests/registry/x.py": 30.0, "tests/registry/y.py": 40.0,
               "b.py": 60.0}  # fmt: skip
    units = {"a.py": 3, "tests/registry": 9, "b.py": 1, "new.py": 300}
    assert xdist_order.unit_seconds("tests/registry", 9, seconds) == 70.0
    assert xdist_order.unit_seconds("new.py", 300, seconds) == 300 * xdist_order.PER_TEST_S
    assert xdist_order.heaviest(units, seconds) == "new.py"  # 150 s by its test count
    del units["new.py"]
    assert xdist_order.heaviest(units, seconds) == "tests/registry"
    assert xdist_order.heaviest({"a.py": 1, "c.py": 1}, {"a.py": 1, "c.py": 1}) == "a.py"


def test_only_runs_of_whole_files_leave_their_seconds():
    from types import SimpleNamespace

    def config(args=(), **option):
        defaults = {"keyword": "", "markexpr": "", "deselect": None, "lf": False}
        return SimpleNamespace(option=SimpleNamespace(**{**defaults, **option}), args=list(args))

    assert xdist_order.whole_files(config())
    assert xdist_order.whole_files(config(["tests", "suites/test_data.py"]))
    assert not xdist_order.whole_files(config(keyword="gate"))
    assert not xdist_order.whole_files(config(markexpr="not slow"))
    assert not xdist_order.whole_files(config(deselect=["tests/test_gate.py::t"]))
    assert not xdist_order.whole_files(config(lf=True))
    assert not xdist_order.whole_files(config(["tests/test_gate.py::test_x"]))


class _Cache:
    def __init__(self, value):
        self.value = value

    def get(self, key, default):
        assert key == xdist_order.CACHE_KEY
        return self.value if self.value is not None else default


def test_seconds_come_from_the_last_run_else_the_committed_file():
    assert xdist_order.load_seconds(_Cache({"x.py": 2})) == {"x.py": 2.0}
    committed = json.loads(xdist_order.SECONDS_FILE.read_text())
    assert xdist_order.load_seconds(_Cache(None)) == committed
    assert xdist_order.load_seconds(None) == committed
    # every figure is a file of this checkout (no stale names)
    root = xdist_order.HERE.parent
    assert committed and all((root / name).is_file() for name in committed)


def test_the_readme_command_runs_under_this_scheduler(pytester, monkeypatch):
    """A real `-n 2 --dist loadfile` run of three files: the heaviest by the figures starts
    first, each file's tests on one worker."""
    pytester.makeconftest(
        "import pytest, xdist_order, json\n"
        "SECONDS = {'test_light.py': 1, 'test_heavy.py': 50, 'test_mid.py': 10}\n"
        "@pytest.hookimpl(optionalhook=True)\n"
        "def pytest_xdist_make_scheduler(config, log):\n"
        "    xdist_order.load_seconds = lambda cache: SECONDS\n"
        "    return xdist_order.make_scheduler(config, log)\n"
    )
    body = ("import os, time\ndef test_{i}():\n    worker = os.environ['PYTEST_XDIST_WORKER']\n"
            "    with open({log!r}, 'a') as f:\n"
            "        f.write(f'{{time.monotonic()}} {name} {i} {{worker}}\\n')\n"
            "    time.sleep(0.2)\n")
    log = str(pytester.path / "order.log")
    for name in ("test_light", "test_heavy", "test_mid"):
        pytester.makepyfile(**{name: "\n".join(body.format(i=i, name=name, log=log)
                                              for i in range(3))})  # fmt: skip
    monkeypatch.setenv("PYTHONPATH", str(xdist_order.HERE))
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile", "-p", "no:randomly",
                                           "-p", "no:cacheprovider")  # fmt: skip
    result.assert_outcomes(passed=9)
    rows = [line.split() for line in (pytester.path / "order.log").read_text().splitlines()]
    rows.sort(key=lambda r: float(r[0]))
    workers = {}
    for _, name, _, worker in rows:
        workers.setdefault(name, set()).add(worker)
    assert all(len(w) == 1 for w in workers.values()), workers  # a file stays on one worker
    # collected heavy, light, mid (xdist alone: heavy and light first); here heavy and mid start
    # on the two workers, light after them
    first = {name: min(float(r[0]) for r in rows if r[1] == name) for name in workers}
    assert workers["test_heavy"] != workers["test_mid"]
    assert first["test_light"] > max(first["test_heavy"], first["test_mid"]), rows
