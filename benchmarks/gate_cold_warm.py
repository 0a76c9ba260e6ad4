"""Default `mlchecks gate` cold (empty model cache) vs warm (cache hit), side by side.

Runs the real command in a temporary folder configured like this repository (the reference MLP
and CNN on digits), ROUNDS times each way, and prints wall times, medians and the warm/cold
ratio (target: warm <= 1/3 of cold).

    python benchmarks/gate_cold_warm.py [ROUNDS]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mlchecks"]
    work = Path(tempfile.mkdtemp(prefix="mlchecks-bench-"))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cold, warm = [], []
    try:
        for _ in range(rounds):
            for sub in ("cache", "registry", "reports"):
                shutil.rmtree(work / sub, ignore_errors=True)
            (work / "mlchecks.toml").write_text(_toml(table, work))
            for bucket in (cold, warm):
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "mlchecks.cli", "gate", "--no-promote"],
                    cwd=work, env=env, capture_output=True, text=True,
                )  # fmt: skip
                bucket.append(time.perf_counter() - start)
                if proc.returncode not in (0, 1):
                    print(proc.stdout, proc.stderr, file=sys.stderr)
                    return 1
                print(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"cold: {', '.join(f'{t:.1f}' for t in cold)} s  median {statistics.median(cold):.1f} s")
    print(f"warm: {', '.join(f'{t:.1f}' for t in warm)} s  median {statistics.median(warm):.1f} s")
    print(f"warm/cold (medians): {statistics.median(warm) / statistics.median(cold):.2f}")
    return 0


def _toml(table: dict, work: Path) -> str:
    lines = [f'data = "{table.get("data", "digits")}"', f"seed = {table.get('seed', 0)}"]
    lines += [f'cache_dir = "{work / "cache"}"', f'registry = "{work / "registry"}"']
    lines += [f'reports = "{work / "reports"}"']
    for model in table["models"]:
        lines.append("[[models]]")
        for key, value in model.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {v}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            elif isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            else:
                lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
