"""The MLflow Model Registry backend: ``--registry mlflow+http://HOST:PORT``.

A lineage is an MLflow **registered model** of the same name (tagged ``mlchecks.format``); a
version is one of its **model versions** (mlchecks version ``0003`` is MLflow version 3); the
champion is the registered model's alias ``champion``, so ``models:/NAME@champion`` resolves to
exactly the version mlchecks promoted. Each version's files are the artifacts of one MLflow run
(experiment ``mlchecks/NAME``)::

    model/model.keras         the accepted model       (the version's source: models:/NAME@...)
    model/predictions.npz     its predicted class ids on every holdout it was judged on
    model/version.json        the VersionRecord (sha256 of the two files above, metrics, ...)
    holdouts/<id>.npz         a holdout, stored in the run of the version that introduced it

and its tags say what the MLflow UI and the next gate need without downloading anything:
``mlchecks.record_sha256`` (vouches for ``version.json``, which vouches for the rest),
``mlchecks.holdout`` / ``mlchecks.holdout_digest`` / ``mlchecks.holdout_run``,
``mlchecks.judged_against``, ``mlchecks.tenure``, ``mlchecks.retired``, ``mlchecks.created``.
History events (manual promotions, rollbacks, gate promotions) are tags ``mlchecks.event.*`` of
the registered model. Every artifact is checked against its sha256 when read; a mismatch is a
:class:`~mlchecks.errors.RegistryError` (exit 2).

A version becomes visible only complete: its artifacts are uploaded first and the model
version is registered afterwards, with all its tags, in one server-side transaction.

**Promotion without a lock.** MLflow has no compare-and-set on aliases, so promotion is a
protocol over what the server orders for us, the version numbers:

1. The champion a gate judges against is ``X`` with its tenure tag ``T`` (a token written on a
   version just before the alias is moved to it); the gate's **judged-against key** is
   ``X:T`` (``none`` for a lineage's first version).
2. The candidate is uploaded and registered with tag ``mlchecks.judged_against = X:T``.
3. Among the versions registered with that key and not withdrawn, the **lowest-numbered one is
   the successor** of ``X:T``. Every racer registers before it looks, so every racer sees the
   same lowest one.
4. While the alias still names ``X`` with tenure ``T``, whoever looks (the successor itself, or
   a racer rolling it forward) writes the successor's tenure (a hash of key and version: the
   same value from every writer) and moves the alias to it, then re-reads the alias.
5. A racer that is not the successor tags its version withdrawn (``mlchecks.retired``), keeps
   it registered (nothing is lost) and fails with :class:`~mlchecks.registry.ChampionChanged`
   (exit 3, "re-gate"); so does a gate that finds the alias moved elsewhere.

Guarantee: the alias only ever moves to a complete version judged against the champion it
replaces (under the tenure that champion had), racing gates agree on one winner, and a gate
killed after registering is rolled forward by the next gate judged against the same champion.
Limits: a manual ``registry promote``/``rollback`` racing a gate is not arbitrated (last writer
wins); a gate stalled for longer than a whole later promotion between its step-4 read and its
alias write can move the alias back one version (the next gate on that lineage then rolls it
forward again and is told to re-gate).

Faults: an unreachable server is a :class:`~mlchecks.registry.RegistryUnavailable` (exit 3, one
line, retry hint) after bounded retries (``MLFLOW_HTTP_REQUEST_TIMEOUT`` 20 s,
``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` 1, unless set in the environment). Fault points
(``MLCHECKS_FAULT``): ``mlflow:after-upload``, ``mlflow:after-register``,
``mlflow:after-tenure``, ``mlflow:after-alias``.

Downloaded artifacts are kept in ``$XDG_CACHE_HOME/mlchecks/mlflow/HOST_PORT/`` (default
``~/.cache``), so ``mlchecks registry path NAME@champion`` prints a file that stays; each process
downloads what it reads once and checks it against its sha256 at every read.

Imports ``mlflow`` lazily (the ``mlchecks[mlflow]`` extra); no pytest, no keras.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from mlchecks._util import faults
from mlchecks.errors import MissingExtraError, RegistryError
from mlchecks.registry import (
    ChampionChanged,
    Holdout,
    LineageState,
    NewVersion,
    RegistryUnavailable,
    VersionEntry,
    VersionRecord,
    holdout_digest,
    holdout_id,
    rollback_target,
    sha256_file,
    validate_holdout_id,
    validate_name,
    validate_version,
)
from mlchecks.registry import (
    json_safe as _clean,
)

ALIAS = "champion"
MODEL = "model.keras"
PREDICTIONS = "predictions.npz"
RECORD = "version.json"
_P = "mlchecks."
T_FORMAT = _P + "format"
T_RECORD = _P + "record_sha256"
T_MODEL = _P + "model_sha256"
T_JUDGED = _P + "judged_against"
T_TENURE = _P + "tenure"
T_RETIRED = _P + "retired"
T_WITHDRAWN = _P + "withdrawn"
T_CREATED = _P + "created"
T_HOLDOUT = _P + "holdout"
T_DIGEST = _P + "holdout_digest"
T_HOLDOUT_RUN = _P + "holdout_run"
T_EVENT = _P + "event."
FIRST = "none"  # judged-against key of a lineage's first version
_ENV_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
_TRANSIENT = {"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"}
_HOSTPORT = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def parse_uri(text: str) -> str:
    """The tracking URI (``http://HOST:PORT[/PATH]``) of ``mlflow+http://HOST:PORT[/PATH]``;
    ``mlflow`` alone takes it from ``MLFLOW_TRACKING_URI``.

    Raises:
        RegistryError: a malformed URI, or ``mlflow`` without an http(s) tracking URI.
    """
    if text in ("mlflow", "mlflow://", "mlflow:"):
        env = os.environ.get("MLFLOW_TRACKING_URI", "")
        if not env.startswith(("http://", "https://")):
            msg = (
                f"registry {text!r} takes the server from MLFLOW_TRACKING_URI, which is "
                f"{env or 'unset'!r}; set MLFLOW_TRACKING_URI=http://HOST:PORT or give "
                "--registry mlflow+http://HOST:PORT"
            )
            raise RegistryError(msg)
        text = "mlflow+" + env
    scheme, sep, rest = text.partition("://")
    inner = scheme.removeprefix("mlflow+")
    problem = None
    if not sep or inner not in ("http", "https"):
        problem = "the scheme must be mlflow+http or mlflow+https"
    else:
        parts = urlsplit(f"{inner}://{rest}")
        try:
            port = parts.port
        except ValueError:
            port, problem = None, "the port is not a number from 0 to 65535"
        host = parts.hostname or ""
        if problem is None and (not host or not _HOSTPORT.fullmatch(parts.netloc.rsplit(
                ":", 1)[0] if port else parts.netloc)):  # fmt: skip
            problem = "it names no valid host"
        elif problem is None and (parts.query or parts.fragment or parts.username):
            problem = "it has a query, fragment or user part"
    if problem:
        msg = (
            f"registry {text!r} is not a valid MLflow registry URI ({problem}); expected "
            "mlflow+http://HOST:PORT, e.g. --registry mlflow+http://127.0.0.1:5000"
        )
        raise RegistryError(msg)
    return f"{inner}://{rest}".rstrip("/")


def _mlflow() -> Any:
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    try:
        import logging

        import mlflow
        import mlflow.exceptions
        import mlflow.tracking
    except ImportError as exc:
        msg = (
            f"the MLflow registry needs the mlflow package ({exc}); install it with "
            "pip install 'mlchecks[mlflow]'"
        )
        raise MissingExtraError(msg) from None
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    return mlflow


def _tenure(key: str, version: str) -> str:
    return hashlib.sha256(f"{key}->{version}".encode()).hexdigest()[:16]


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n").encode()


@dataclasses.dataclass(frozen=True)
class _Version:
    version: str
    run_id: str
    source: str
    tags: dict[str, str]

    @property
    def retired(self) -> bool:
        return self.tags.get(T_RETIRED) == "true"

    @property
    def withdrawn(self) -> bool:
        return T_WITHDRAWN in self.tags


class MlflowRegistry:
    """Lineages in an MLflow Model Registry server. See the module docstring."""

    def __init__(self, uri: str) -> None:
        self.tracking_uri = parse_uri(uri)
        self.location = "mlflow+" + self.tracking_uri
        mlflow = _mlflow()
        self._exc = mlflow.exceptions.MlflowException
        self._client = mlflow.tracking.MlflowClient(
            tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
        )
        base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
        where = re.sub(r"[^A-Za-z0-9.-]+", "_", self.tracking_uri.split("://", 1)[1])
        self._cache = base / "mlchecks" / "mlflow" / where
        self._fresh: set[Path] = set()  # downloaded by this object (so checked against the server)
        self._judged: dict[str, tuple[str | None, str | None]] = {}
        self._experiments: dict[str, str] = {}

    # ------------------------------------------------------------------ server calls
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args)``; a server that cannot be reached or fails is one plain line (exit 3);
        ``RESOURCE_DOES_NOT_EXIST`` is returned as ``None``; a refused request is exit 2."""
        import requests

        try:
            return fn(*args, **kwargs)
        except self._exc as exc:
            code = getattr(exc, "error_code", "")
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if code == "RESOURCE_DOES_NOT_EXIST":
                return None
            if "failed with exception" in text or code in _TRANSIENT:
                raise self._unavailable(what, text) from None
            msg = f"MLflow registry {self.location} refused to {what}: {code}: {text[:300]}"
            raise RegistryError(msg) from None
        except (requests.exceptions.RequestException, ConnectionError, TimeoutError) as exc:
            raise self._unavailable(what, f"{type(exc).__name__}: {exc}") from None

    def _unavailable(self, what: str, text: str) -> RegistryUnavailable:
        low = text.lower()
        if "refused" in low:
            reason = "connection refused"
        elif "timed out" in low or "timeout" in low:
            limit = os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "?")
            reason = f"no answer within MLFLOW_HTTP_REQUEST_TIMEOUT={limit} s: timed out"
        elif "resolve" in low or "name or service" in low or "nodename" in low:
            reason = "host name not found"
        else:
            reason = text[:200]
        msg = (
            f"MLflow registry {self.location} is unreachable ({reason}) while trying to "
            f"{what}; check that the server is running and reachable, then rerun (retry)"
        )
        return RegistryUnavailable(msg)

    def _versions(self, name: str) -> list[_Version]:
        found = self._call("list model versions", self._client.search_model_versions,
                           f"name = '{validate_name(name)}'", max_results=10000)  # fmt: skip
        out = [_Version(validate_version(int(v.version)), v.run_id or "", v.source,
                        dict(v.tags or {})) for v in found or ()]  # fmt: skip
        return sorted(out, key=lambda v: int(v.version))

    def _model(self, name: str) -> Any:
        return self._call("read the registered model", self._client.get_registered_model,
                          validate_name(name))  # fmt: skip

    def _alias(self, name: str, versions: list[_Version] | None = None,
               ) -> tuple[str | None, str | None]:  # fmt: skip
        """The champion alias (version) and that version's tenure tag (from ``versions``, a
        listing read before the alias, when given: a tenure is written before its alias)."""
        model = self._model(name)
        target = (getattr(model, "aliases", None) or {}).get(ALIAS) if model else None
        if target is None:
            return None, None
        version = validate_version(int(target))
        found = next((v for v in versions or () if v.version == version), None)
        if found is not None and T_TENURE in found.tags:
            return version, found.tags[T_TENURE]
        mv = self._call("read the champion version", self._client.get_model_version,
                        name, str(int(version)))  # fmt: skip
        return version, (dict(mv.tags or {}).get(T_TENURE) if mv else None)

    def _get(self, name: str, version: str) -> _Version:
        version = validate_version(version)
        mv = self._call("read a model version", self._client.get_model_version,
                        validate_name(name), str(int(version)))  # fmt: skip
        if mv is None or T_RECORD not in (mv.tags or {}):
            known = [v.version for v in self.state(name).versions]
            what = "no version" if mv is None else "no mlchecks version"
            msg = f"lineage {name!r} in {self.location} has {what} {version}; versions: {known}"
            raise RegistryError(msg)
        return _Version(version, mv.run_id or "", mv.source, dict(mv.tags))

    def _download(self, run_id: str, path: str, expected: str, what: str) -> Path:
        """The artifact ``path`` of run ``run_id`` as a local file whose sha256 is
        ``expected`` (downloaded once per registry object, checked at every read)."""
        target = self._cache / run_id / path
        if target not in self._fresh:
            dst = self._cache / ".dl" / uuid.uuid4().hex
            try:
                dst.mkdir(parents=True)
                got = self._call(f"download {path}", self._client.download_artifacts,
                                 run_id, path, str(dst))  # fmt: skip
                if got is None or not Path(got).is_file():
                    msg = f"{what}: artifact {path} of run {run_id} is missing on {self.location}"
                    raise RegistryError(msg)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(got, target)  # atomic: a concurrent reader sees a whole file
            except OSError as exc:
                msg = f"cannot keep a downloaded artifact in {self._cache} ({exc}); free space"
                raise RegistryError(msg) from None
            finally:
                shutil.rmtree(dst, ignore_errors=True)
            self._fresh.add(target)
        try:
            actual = sha256_file(target)
        except OSError as exc:
            self._fresh.discard(target)
            raise RegistryError(f"{what}: {target} is unreadable ({exc.strerror})") from None
        if actual != expected:
            self._fresh.discard(target)
            target.unlink(missing_ok=True)
            msg = (
                f"{what}: artifact {path} of run {run_id} on {self.location} fails its sha256 "
                f"check (expected {str(expected)[:12]}..., it has {actual[:12]}...); it was "
                "tampered with or damaged. Restore it, or `mlchecks registry rollback`"
            )
            raise RegistryError(msg)
        return target

    # ------------------------------------------------------------------ reading
    def names(self) -> list[str]:
        found = self._call("list registered models", self._client.search_registered_models,
                           max_results=1000)  # fmt: skip
        return sorted(m.name for m in found or () if T_FORMAT in (m.tags or {}))

    def state(self, name: str) -> LineageState:
        model = self._model(name)
        if model is None:
            return LineageState(validate_name(name), None, (), ())
        versions = [v for v in self._versions(name) if T_RECORD in v.tags]
        target = (getattr(model, "aliases", None) or {}).get(ALIAS)
        champion = validate_version(int(target)) if target is not None else None
        if champion is not None and champion not in {v.version for v in versions}:
            msg = (
                f"the {ALIAS!r} alias of {name!r} on {self.location} names version {champion}, "
                "which mlchecks did not register; point it back with `mlchecks registry "
                "promote VERSION`"
            )
            raise RegistryError(msg)
        entries = tuple(VersionEntry(v.version, v.tags[T_RECORD], v.tags.get(T_CREATED, ""),
                                     v.retired) for v in versions)  # fmt: skip
        holdouts = {v.tags[T_HOLDOUT]: v.tags[T_DIGEST] for v in versions
                    if T_HOLDOUT in v.tags and T_DIGEST in v.tags}  # fmt: skip
        events = []
        for key, value in (model.tags or {}).items():
            if key.startswith(T_EVENT):
                with contextlib.suppress(ValueError, TypeError):
                    events.append(json.loads(value))
        events.sort(key=lambda e: (e.get("ns", 0), e.get("version", "")))
        history = tuple({k: v for k, v in e.items() if k != "ns"} for e in events)
        return LineageState(name, champion, entries, history, holdouts)

    def record(self, name: str, version: str) -> VersionRecord:
        return self._record(name, self._get(name, version))

    def _record(self, name: str, mv: _Version) -> VersionRecord:
        where = f"version {mv.version} of {name!r}"
        path = self._download(mv.run_id, f"model/{RECORD}", mv.tags[T_RECORD], where)
        try:
            data = json.loads(path.read_bytes())
            data["name"], data["version"] = name, mv.version
        except (ValueError, TypeError) as exc:
            raise RegistryError(f"{where}: {RECORD} is not a JSON object ({exc})") from None
        return VersionRecord.from_json(data, f"{where} ({self.location})")

    def model_path(self, name: str, version: str) -> Path:
        mv = self._get(name, version)
        record = self._record(name, mv)
        where = f"version {mv.version} of {name!r}"
        return self._download(mv.run_id, f"model/{MODEL}", record.model_sha256, where)

    def predictions(self, name: str, version: str) -> dict[str, np.ndarray]:
        mv = self._get(name, version)
        record = self._record(name, mv)
        where = f"version {mv.version} of {name!r}"
        path = self._download(mv.run_id, f"model/{PREDICTIONS}", record.files[PREDICTIONS],
                              where)  # fmt: skip
        with np.load(path, allow_pickle=False) as data:
            return {key.removeprefix("h"): data[key] for key in data.files}

    def holdout(self, name: str, holdout: str) -> Holdout:
        holdout = validate_holdout_id(holdout)
        owner = next((v for v in self._versions(name) if v.tags.get(T_HOLDOUT) == holdout), None)
        if owner is None:
            raise RegistryError(f"lineage {name!r} in {self.location} has no holdout {holdout}")
        return self._holdout(name, owner)

    def _holdout(self, name: str, mv: _Version) -> Holdout:
        hid, run_id = mv.tags[T_HOLDOUT], mv.tags.get(T_HOLDOUT_RUN, mv.run_id)
        record = self._record(name, mv)
        where = f"holdout {hid} of {name!r}"
        path = self._download(run_id, f"holdouts/{hid}.npz",
                              record.files.get(f"holdouts/{hid}.npz", ""), where)  # fmt: skip
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as data:
                x, y = data["x"], data["y"]
                num_classes = int(data["num_classes"])
                names = tuple(str(s) for s in data["class_names"])
        except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
            raise RegistryError(f"{where} ({self.location}) is unreadable ({exc})") from None
        if (holdout_id(x, y) != hid
                or holdout_digest(x, y, num_classes, names) != mv.tags.get(T_DIGEST)):  # fmt: skip
            msg = f"{where} on {self.location} fails its checksum: tampered with or damaged"
            raise RegistryError(msg)
        return Holdout(hid, x, y, num_classes, names)

    def verify(self, name: str) -> list[str]:
        problems: list[str] = []
        try:
            state = self.state(name)
            versions = {v.version: v for v in self._versions(name)}
        except RegistryUnavailable:
            raise
        except RegistryError as exc:
            return [str(exc)]
        for entry in state.versions:
            mv = versions[entry.version]
            try:
                self.model_path(name, entry.version)
                self.predictions(name, entry.version)
                self._holdout(name, mv)
            except RegistryUnavailable:
                raise
            except (RegistryError, OSError, ValueError) as exc:
                problems.append(str(exc))
        if state.champion is not None and state.entry(state.champion).retired:  # type: ignore[union-attr]
            problems.append(f"champion {state.champion} of {name!r} is retired")
        return problems

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def gate_lock(self, name: str, timeout: float = 0.0) -> Iterator[None]:
        """No lock: notes the champion (and its tenure) the gate is about to judge against;
        promotion then proceeds only from that same champion (module docstring)."""
        self._judged[name] = self._alias(name)
        try:
            yield
        finally:
            self._judged.pop(name, None)

    def _judged_key(self, name: str, expected: str | None, versions: list[_Version]) -> str:
        """The judged-against key: ``expected`` with the tenure it had when gate_lock noted
        it before the judging (else now); a champion that moved meanwhile gives a key no
        successor can match, so the version is registered and then withdrawn."""
        if expected is None:
            return FIRST
        noted = self._judged.get(name)
        if noted is not None and noted[0] == expected:
            return f"{expected}:{noted[1]}"
        current = self._alias(name, versions)
        return f"{expected}:{current[1] if current[0] == expected else 'stale'}"

    def _changed(self, name: str, expected: str | None, now: str | None,
                 kept: str | None = None) -> ChampionChanged:  # fmt: skip
        keep = f"; version {kept} stays registered, withdrawn," if kept else ""
        msg = (
            f"the champion of {name!r} on {self.location} changed from {expected} to {now} "
            f"while this gate ran{keep}; not promoted: re-gate the candidate against the new "
            "champion (rerun the same command)"
        )
        return ChampionChanged(msg)

    def _ensure_lineage(self, name: str) -> str:
        """The registered model and the experiment of lineage ``name``; the experiment id."""
        if name in self._experiments:
            return self._experiments[name]
        if self._model(name) is None:
            with contextlib.suppress(RegistryError):  # a racer created it: fine
                self._call("create the registered model", self._client.create_registered_model,
                           name, tags={T_FORMAT: "1"},
                           description="mlchecks lineage")  # fmt: skip
            if self._model(name) is None:
                raise RegistryError(f"could not create registered model {name!r}")
        exp_name = f"mlchecks/{name}"
        exp = self._call("read the experiment", self._client.get_experiment_by_name, exp_name)
        if exp is None:
            with contextlib.suppress(RegistryError):
                self._call("create the experiment", self._client.create_experiment, exp_name)
            exp = self._call("read the experiment", self._client.get_experiment_by_name,
                             exp_name)  # fmt: skip
        if exp is None:
            raise RegistryError(f"could not create MLflow experiment {exp_name!r}")
        self._experiments[name] = str(exp.experiment_id)
        return self._experiments[name]

    def promote(self, name: str, new: NewVersion, expected_champion: str | None) -> VersionRecord:
        """Upload ``new``, register it judged against ``expected_champion`` and move the
        alias by the protocol of the module docstring.

        Raises:
            ChampionChanged: another gate promoted meanwhile (exit 3: re-gate).
            RegistryError: the model file changed since it was judged.
            RegistryUnavailable: the server cannot be reached (exit 3).
        """
        name = validate_name(name)
        versions = self._versions(name)
        key = self._judged_key(name, expected_champion, versions)
        owner = next((v for v in versions if v.tags.get(T_HOLDOUT) == new.holdout.id
                      and v.tags.get(T_DIGEST)), None)  # fmt: skip
        mv, record = self._register(name, new, key, expected_champion, owner)
        self._take_office(name, mv, key, expected_champion)
        return dataclasses.replace(record, version=mv.version)

    def _register(
        self,
        name: str,
        new: NewVersion,
        key: str,
        parent: str | None,
        owner: _Version | None,
        created: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> tuple[_Version, VersionRecord]:
        experiment = self._ensure_lineage(name)
        self._cache.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=".stage-", dir=self._cache))
        try:
            (stage / "model").mkdir()
            shutil.copyfile(new.model_file, stage / "model" / MODEL)
            sha = sha256_file(stage / "model" / MODEL)
            if sha != new.model_sha256:
                msg = (
                    f"candidate {new.model_file} changed after it was judged (sha256 "
                    f"{new.model_sha256[:12]}... then, {sha[:12]}... now); not promoted, rerun "
                    "the gate"
                )
                raise RegistryError(msg)
            arrays = {f"h{validate_holdout_id(k)}": np.asarray(v, dtype=np.int64)
                      for k, v in new.predictions.items()}  # fmt: skip
            if f"h{new.holdout.id}" not in arrays:
                raise ValueError("NewVersion.predictions must include its own holdout")
            with open(stage / "model" / PREDICTIONS, "wb") as f:
                np.savez(f, **arrays)  # type: ignore[arg-type]
            h = new.holdout
            if holdout_id(h.x, h.y) != h.id:
                raise ValueError("holdout id does not match its content")
            digest = holdout_digest(h.x, h.y, h.num_classes, h.class_names)
            files = {MODEL: sha, PREDICTIONS: sha256_file(stage / "model" / PREDICTIONS)}
            if owner is None:
                (stage / "holdouts").mkdir()
                with open(stage / "holdouts" / f"{h.id}.npz", "wb") as f:
                    np.savez(f, x=h.x, y=h.y, num_classes=np.int64(h.num_classes),
                             class_names=np.array(h.class_names, dtype=str))  # fmt: skip
                files[f"holdouts/{h.id}.npz"] = sha256_file(stage / "holdouts" / f"{h.id}.npz")
            else:
                files[f"holdouts/{h.id}.npz"] = self._record(name, owner).files.get(
                    f"holdouts/{h.id}.npz", ""
                )
            created = created or _now()
            record = VersionRecord(
                name=name, version="0001", created=created, model_sha256=sha,
                model_bytes=(stage / "model" / MODEL).stat().st_size, holdout=h.id,
                parent=parent, files=files, metrics=_clean(dict(new.metrics)),
                checks=_clean(list(new.checks)), data=_clean(dict(new.data)),
                data_profile=_clean(dict(new.data_profile)) if new.data_profile else None,
                environment=_clean(dict(new.environment)),
            )  # fmt: skip
            body = record.to_json()
            body["version"] = None  # MLflow numbers the version when it is registered
            raw = _json_bytes(body)
            (stage / "model" / RECORD).write_bytes(raw)
            run = self._call("create a run", self._client.create_run, experiment,
                             run_name=f"{name} candidate",
                             tags={"mlchecks.lineage": name})  # fmt: skip
            run_id = run.info.run_id
            self._call("upload the version's files", self._client.log_artifacts, run_id,
                       str(stage))  # fmt: skip
            self._call("finish the run", self._client.update_run, run_id, status="FINISHED")
            faults.point("mlflow:after-upload")
            tags = {T_RECORD: hashlib.sha256(raw).hexdigest(), T_MODEL: sha, T_JUDGED: key,
                    T_CREATED: created, T_HOLDOUT: h.id, T_DIGEST: digest,
                    T_HOLDOUT_RUN: owner.tags.get(T_HOLDOUT_RUN, owner.run_id) if owner
                    else run_id, **(extra or {})}  # fmt: skip
            source = f"{run.info.artifact_uri}/model"
            mv = self._call("register the model version", self._client.create_model_version,
                            name, source, run_id=run_id, tags=tags,
                            description=f"mlchecks: judged against {parent}")  # fmt: skip
            faults.point("mlflow:after-register")
            return _Version(validate_version(int(mv.version)), run_id, source, tags), record
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _tag(self, name: str, version: str, key: str, value: str) -> None:
        self._set_tag(lambda: self._call("tag a model version",
                                         self._client.set_model_version_tag, name,
                                         str(int(version)), key, value))  # fmt: skip

    @staticmethod
    def _set_tag(write: Callable[[], Any]) -> None:
        """The server's tag (and alias) upsert fails (UNIQUE constraint) when two clients write
        the same new key at once; what is written concurrently here carries the same value from
        every writer (two racing gates move the first champion alias to the same winner), so one
        retry after the other's commit settles it."""
        try:
            write()
        except RegistryUnavailable:
            raise
        except RegistryError:
            time.sleep(0.05)
            write()

    def _event(self, name: str, event: dict[str, Any], key: str | None = None) -> None:
        ns = time.time_ns()
        tag = T_EVENT + (key or f"{ns}.{uuid.uuid4().hex[:6]}")
        value = json.dumps({**event, "ns": ns}, sort_keys=True)
        self._set_tag(lambda: self._call("record a history event",
                                         self._client.set_registered_model_tag, name, tag,
                                         value))  # fmt: skip

    def _move_alias(self, name: str, version: str, tenure: str) -> None:
        self._tag(name, version, T_TENURE, tenure)
        faults.point("mlflow:after-tenure")
        self._set_tag(lambda: self._call("move the champion alias",
                                         self._client.set_registered_model_alias, name, ALIAS,
                                         str(int(version))))  # fmt: skip
        faults.point("mlflow:after-alias")

    @staticmethod
    def _successor(versions: list[_Version], key: str) -> _Version | None:
        cands = [v for v in versions if v.tags.get(T_JUDGED) == key
                 and T_RECORD in v.tags and not v.withdrawn]  # fmt: skip
        return cands[0] if cands else None

    @staticmethod
    def _descends(versions: list[_Version], current: str | None, ancestor: str) -> bool:
        """Whether ``current`` was judged against ``ancestor``, directly or through a chain."""
        by_version = {v.version: v for v in versions}
        for _ in range(len(versions)):
            found = by_version.get(current or "")
            if found is None:
                return False
            current = found.tags.get(T_JUDGED, FIRST).split(":", 1)[0]
            if current == ancestor:
                return True
        return False

    def _take_office(self, name: str, mv: _Version, key: str, expected: str | None) -> None:
        for _ in range(4):
            versions = self._versions(name)
            winner = self._successor(versions, key)
            current, tenure = self._alias(name, versions)
            judged = FIRST if current is None else f"{current}:{tenure}"
            if winner is not None and judged == key:
                # the alias still names what we were judged against: move it to the successor
                self._move_alias(name, winner.version, _tenure(key, winner.version))
                reason = "accepted by the gate"
                if winner.version != mv.version:  # a racer's gate died or is slower: roll it
                    reason += " (its promotion finished by a racing gate)"  # forward
                self._event(name, {"event": "promote", "version": winner.version,
                                   "from": expected, "time": winner.tags.get(T_CREATED),
                                   "reason": reason},
                            key=f"{winner.version}.promote")  # fmt: skip
                continue  # re-read: success, or withdraw below
            if (
                winner is not None
                and winner.version == mv.version
                and (current == mv.version or self._descends(versions, current, mv.version))
            ):
                return  # champion (and maybe already succeeded by a version judged against it)
            self._tag(
                name,
                mv.version,
                T_WITHDRAWN,
                f"judged against {key}; the champion became {current} meanwhile",
            )
            self._tag(name, mv.version, T_RETIRED, "true")
            raise self._changed(name, expected, current, kept=mv.version)
        raise self._changed(name, expected, self._alias(name)[0], kept=mv.version)

    def set_champion(self, name: str, version: str, reason: str = "manual") -> LineageState:
        version = validate_version(version)
        state = self.state(name)
        if state.entry(version) is None:
            known = [v.version for v in state.versions]
            raise RegistryError(f"lineage {name!r} has no version {version}; versions: {known}")
        self.model_path(name, version)  # never point at a damaged version
        self._tag(name, version, T_RETIRED, "false")
        self._move_alias(name, version, uuid.uuid4().hex[:16])
        self._event(name, {"event": "promote", "version": version, "from": state.champion,
                           "time": _now(), "reason": reason})  # fmt: skip
        return self.state(name)

    def rollback(self, name: str) -> LineageState:
        state = self.state(name)
        target = rollback_target(state, name, self.location)
        assert state.champion is not None  # rollback_target refuses a lineage with none
        self.model_path(name, target)  # never roll back onto a damaged version
        self._tag(name, state.champion, T_RETIRED, "true")
        self._move_alias(name, target, uuid.uuid4().hex[:16])
        self._event(name, {"event": "rollback", "version": target, "from": state.champion,
                           "time": _now(),
                           "reason": f"rolled back; {state.champion} retired"})  # fmt: skip
        return self.state(name)

    # ------------------------------------------------------------------ migration
    def import_lineage(self, source: Any, name: str) -> LineageState:
        """Copy lineage ``name`` of registry ``source`` (every version with its record,
        files, holdout, retired flag and history; the same champion) into this registry.

        Raises:
            RegistryError: the lineage already has versions here, or a source file fails
                its check.
        """
        name = validate_name(name)
        if self.state(name).versions:
            msg = (
                f"lineage {name!r} already has versions on {self.location}; copy into a "
                "lineage that does not exist there yet (mlchecks registry copy --name NAME)"
            )
            raise RegistryError(msg)
        src = source.state(name)
        owners: dict[str, _Version] = {}
        for entry in src.versions:
            record = source.record(name, entry.version)
            hold = source.holdout(name, record.holdout)
            new = NewVersion(source.model_path(name, entry.version), record.model_sha256,
                             hold, source.predictions(name, entry.version), record.metrics,
                             tuple(record.checks), record.data, record.data_profile,
                             record.environment)  # fmt: skip
            extra = {T_RETIRED: "true" if entry.retired else "false"}
            mv, _ = self._register(name, new, f"copied:{record.parent}", record.parent,
                                owners.get(record.holdout), created=record.created,
                                extra=extra)  # fmt: skip
            if mv.version != entry.version:
                msg = (
                    f"copying {name!r}: version {entry.version} became MLflow version "
                    f"{mv.version} (another writer registered meanwhile); delete registered "
                    f"model {name!r} on {self.location} and copy again"
                )
                raise RegistryError(msg)
            owners.setdefault(record.holdout, mv)
        for i, event in enumerate(src.history):
            self._event(name, dict(event), key=f"copied.{i:06d}")
        if src.champion is not None:
            self._move_alias(name, src.champion, uuid.uuid4().hex[:16])
        return self.state(name)
