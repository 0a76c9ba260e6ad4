"""Lines per module and the longest functions of a package folder: `python scripts/tree_metrics.py mlchecks`."""
import ast, sys, subprocess
from pathlib import Path
def funcs(src):
    out = []
    for n in ast.walk(ast.parse(src)):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((n.end_lineno - n.lineno + 1, n.name))
    return out
root = Path(sys.argv[1])
rows = []; allf = []
for p in sorted(root.rglob("*.py")):
    s = p.read_text(); rows.append((len(s.splitlines()), str(p.relative_to(root))))
    allf += [(l, f"{p.relative_to(root)}:{n}") for l, n in funcs(s)]
rows.sort(reverse=True); allf.sort(reverse=True)
print("modules:", len(rows), "lines:", sum(r[0] for r in rows), ">500 lines:", sum(r[0] > 500 for r in rows), "functions >60 lines:", sum(l > 60 for l, _ in allf))
print("largest:", ", ".join(f"{n} {l}" for l, n in rows[:6]))
print("longest functions:", ", ".join(f"{n} {l}" for l, n in allf[:6]))
