"""``mlchecks registry list|show|path|promote|rollback|verify|copy [--name NAME]
[--registry DIR|URI] [--json]``.

Every action works on both backends (a folder, or ``mlflow+http://HOST:PORT``) with the same
output and exit codes.

- ``list``: every lineage (champion, number of versions); with ``--name``, that lineage's
  versions with their accuracy, time and sha256.
- ``show [VERSION]``: one version's record (default: the champion) and the lineage history.
- ``promote VERSION``: point the champion at an existing version (a manual override; the
  version's files are sha256-checked first).
- ``rollback``: retire the champion; the newest earlier active version becomes champion.
- ``path [NAME][@champion|@VERSION]``: the verified path of a version's ``.keras`` file (default:
  the champion), for deploy scripts: ``cp "$(mlchecks registry path mnist@champion)" ...``.
- ``verify``: check every stored file and field of the lineage against its checksum; print
  each problem found.
- ``copy --from DIR --to mlflow+http://HOST:PORT``: migrate a folder registry (every lineage, or
  ``--name``) into an MLflow server: each version with its record, files, holdout, retired flag
  and history, the same champion; every file is sha256-checked as it is read.

Exit 0 on success, 2 with one ``mlchecks: error:`` line otherwise (unknown lineage or
version, damaged registry, problems found by ``verify``); 3 when a registry server cannot be
reached (retry).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mlchecks.errors import RegistryError
from mlchecks.registry import Registry, open_registry, validate_name, validate_version

ACTIONS = ("list", "show", "path", "promote", "rollback", "verify", "copy")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="what to do")
    parser.add_argument("version", nargs="?", default=None,
                        help="version for show (default: champion) and promote; "
                        "NAME[@champion|@VERSION] for path")  # fmt: skip
    parser.add_argument("--name", default=None, metavar="LINEAGE",
                        help="lineage (default: the only one, or `name`)")  # fmt: skip
    parser.add_argument("--registry", default=None, metavar="DIR|URI",
                        help="registry folder or mlflow+http://HOST:PORT "
                        "(default: configured)")  # fmt: skip
    parser.add_argument("--from", dest="source", default=None, metavar="DIR",
                        help="copy: the folder registry to migrate")  # fmt: skip
    parser.add_argument("--to", dest="target", default=None, metavar="URI",
                        help="copy: the MLflow registry, mlflow+http://HOST:PORT")  # fmt: skip
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="config file (default: nearest one)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def _registry(args: argparse.Namespace) -> tuple[Registry, str | None]:
    from mlchecks.config import load_settings

    overrides = {"registry": args.registry}
    settings = load_settings(
        Path.cwd(), overrides, config_file=Path(args.config) if args.config else None
    )
    registry = open_registry(settings.registry, root=Path(settings.root))
    default = settings.name if settings.name != "default" else None
    return registry, default


def _lineage(args: argparse.Namespace, registry: Registry, default: str | None) -> str:
    names = registry.names()
    name = args.name or default
    if name is None:
        if len(names) == 1:
            return names[0]
        msg = (
            f"registry {registry.location} holds lineages {names or 'none'}; choose one with --name"
        )
        raise RegistryError(msg)
    validate_name(name)
    if name not in names:
        msg = f"registry {registry.location} has no lineage {name!r}; lineages: {names or 'none'}"
        raise RegistryError(msg)
    return name


def run(args: argparse.Namespace) -> int:
    if args.action == "copy":
        return _copy(args)
    registry, default = _registry(args)
    if args.action == "list" and not args.name:
        return _emit(args, _list_all(registry))
    if args.action == "path":
        return _path(args, registry, default)
    name = _lineage(args, registry, default)
    if args.action == "list":
        return _emit(args, _list_versions(registry, name))
    if args.action == "verify":
        return _verify(args, registry, name)
    if args.action == "show":
        state = registry.state(name)
        version = validate_version(args.version) if args.version else state.champion
        if version is None:
            raise RegistryError(f"lineage {name!r} has no champion; give a VERSION")
        record = registry.record(name, version)
        registry.model_path(name, version)  # report tampering here too
        data = {"name": name, "champion": state.champion, "record": record.to_json(),
                "history": list(state.history)}  # fmt: skip
        return _emit(args, data)
    if args.action == "promote":
        if not args.version:
            raise RegistryError("`mlchecks registry promote` needs a VERSION (see `registry list`)")
        state = registry.set_champion(name, args.version, reason="manual promote")
    else:
        state = registry.rollback(name)
    event = state.history[-1]
    data = {"name": name, "champion_before": event.get("from"), "champion_after": state.champion,
            "event": event}  # fmt: skip
    return _emit(args, data)


def _path(args: argparse.Namespace, registry: Registry, default: str | None) -> int:
    """Print the sha256-verified model file of ``NAME@champion`` / ``NAME@VERSION``."""
    spec = args.version or ""
    name_part, _, version_part = spec.partition("@")
    args.name = name_part or args.name
    name = _lineage(args, registry, default)
    if version_part in ("", "champion"):
        version = registry.state(name).champion
        if version is None:
            raise RegistryError(f"lineage {name!r} has no champion yet; give NAME@VERSION")
    else:
        version = validate_version(version_part)
    path = registry.model_path(name, version)  # a tampered file is an error, never printed
    if args.json:
        print(json.dumps({"name": name, "version": version, "path": str(path)}))
    else:
        print(path)
    return 0


def _copy(args: argparse.Namespace) -> int:
    """``copy --from DIR --to mlflow+http://...``: every lineage (or ``--name``) of a folder
    registry into an MLflow registry."""
    from mlchecks.registry import is_remote

    if not args.source or not args.target:
        msg = "`mlchecks registry copy` needs --from DIR and --to mlflow+http://HOST:PORT"
        raise RegistryError(msg)
    if is_remote(args.source) or not Path(args.source).expanduser().is_dir():
        msg = f"copy --from {args.source!r}: expected a registry folder that exists"
        raise RegistryError(msg)
    if not is_remote(args.target):
        msg = f"copy --to {args.target!r}: expected an MLflow registry, mlflow+http://HOST:PORT"
        raise RegistryError(msg)
    source = open_registry(Path(args.source).expanduser().resolve())
    target: Any = open_registry(args.target)
    names = source.names()
    if args.name:
        validate_name(args.name)
        if args.name not in names:
            msg = f"registry {source.location} has no lineage {args.name!r}; lineages: {names}"
            raise RegistryError(msg)
        names = [args.name]
    rows = []
    for name in names:
        problems = source.verify(name)
        if problems:
            msg = f"lineage {name!r} in {source.location} is damaged, not copied: {problems[0]}"
            raise RegistryError(msg)
        state = target.import_lineage(source, name)
        rows.append({"name": name, "champion": state.champion, "versions": len(state.versions)})
    data = {"from": source.location, "to": target.location, "lineages": rows}
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(f"copied {len(rows)} lineage(s) from {source.location} to {target.location}")
        for r in rows:
            print(f"  {r['name']}: champion {r['champion']}, {r['versions']} version(s)")
    return 0


def _verify(args: argparse.Namespace, registry: Registry, name: str) -> int:
    problems = registry.verify(name)
    _emit(args, {"registry": registry.location, "name": name, "problems": problems})
    if problems:
        msg = (
            f"lineage {name!r} in {registry.location} has {len(problems)} problem(s); the "
            f"first: {problems[0]}"
        )
        raise RegistryError(msg)
    return 0


def _list_all(registry: Registry) -> dict[str, Any]:
    rows = []
    for name in registry.names():
        state = registry.state(name)
        rows.append({"name": name, "champion": state.champion, "versions": len(state.versions)})
    return {"registry": registry.location, "lineages": rows}


def _list_versions(registry: Registry, name: str) -> dict[str, Any]:
    state = registry.state(name)
    rows = []
    for entry in state.versions:
        record = registry.record(name, entry.version)
        rows.append({"version": entry.version, "created": entry.created,
                     "champion": entry.version == state.champion, "retired": entry.retired,
                     "accuracy": record.metrics.get("accuracy"), "data": record.data.get("name"),
                     "holdout": record.holdout, "sha256": record.model_sha256})  # fmt: skip
    return {"registry": registry.location, "name": name, "champion": state.champion,
            "versions": rows}  # fmt: skip


def _emit(args: argparse.Namespace, data: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
        return 0
    print(_text(args.action, data))
    return 0


def _text(action: str, data: dict[str, Any]) -> str:
    if "problems" in data:
        if not data["problems"]:
            return f"lineage {data['name']!r} in {data['registry']}: no problems found"
        return "\n".join(f"  problem: {p}" for p in data["problems"])
    if "lineages" in data:
        lines = [f"registry {data['registry']}"]
        lines += [f"  {r['name']}: champion {r['champion']}, {r['versions']} version(s)"
                  for r in data["lineages"]] or ["  (empty)"]  # fmt: skip
        return "\n".join(lines)
    if "versions" in data:
        lines = [f"lineage {data['name']!r} in {data['registry']} (champion {data['champion']})"]
        for r in data["versions"]:
            mark = "*" if r["champion"] else ("x" if r["retired"] else " ")
            acc = f"{r['accuracy']:.4f}" if isinstance(r["accuracy"], float) else "-"
            lines.append(f" {mark} {r['version']}  {r['created']}  accuracy {acc} on "
                         f"{r['data']}  sha256 {r['sha256'][:12]}")  # fmt: skip
        lines.append("  (* champion, x retired by a rollback)")
        return "\n".join(lines)
    if "record" in data:
        rec = data["record"]
        lines = [f"{data['name']} version {rec['version']}"
                 + (" (champion)" if rec["version"] == data["champion"] else ""),
                 f"  created {rec['created']}, parent {rec['parent']}",
                 f"  model sha256 {rec['model_sha256']} ({rec['model_bytes']} bytes)",
                 f"  data {rec['data'].get('name')} fingerprint {rec['data'].get('fingerprint')}, "
                 f"holdout {rec['holdout']}",
                 f"  accuracy {rec['metrics'].get('accuracy')}",
                 f"  environment {rec['environment']}",
                 "  history:"]  # fmt: skip
        lines += [f"    {h.get('time')} {h.get('event')} {h.get('from')} -> {h.get('version')}"
                  f" ({h.get('reason')})" for h in data["history"]]  # fmt: skip
        return "\n".join(lines)
    event = data["event"]
    return (
        f"{data['name']}: champion {data['champion_before']} -> {data['champion_after']} "
        f"({event.get('reason')})"
    )
