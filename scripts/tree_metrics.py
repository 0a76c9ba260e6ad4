"""Lines per module and the longest functions of a package folder.

    python scripts/tree_metrics.py mlchecks
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def functions(source: str) -> list[tuple[int, str]]:
    """``(lines, name)`` of every function and method in ``source``."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out.append((node.end_lineno - node.lineno + 1, node.name))
    return out


def main(root: Path) -> None:
    modules: list[tuple[int, str]] = []
    longest: list[tuple[int, str]] = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        name = str(path.relative_to(root))
        modules.append((len(source.splitlines()), name))
        longest += [(lines, f"{name}:{func}") for lines, func in functions(source)]
    modules.sort(reverse=True)
    longest.sort(reverse=True)
    print("modules:", len(modules), "lines:", sum(n for n, _ in modules),
          ">500 lines:", sum(n > 500 for n, _ in modules),
          "functions >60 lines:", sum(n > 60 for n, _ in longest))  # fmt: skip
    print("largest:", ", ".join(f"{name} {n}" for n, name in modules[:6]))
    print("longest functions:", ", ".join(f"{name} {n}" for n, name in longest[:6]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
