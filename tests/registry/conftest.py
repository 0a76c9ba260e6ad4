"""A real MLflow tracking + registry server for the registry tests, one per session.

``mlflow server`` with a SQLite backend store and a local artifact destination (served
through the server, as a team would run it), on 127.0.0.1 and a free port. Started at the first
test that needs it, stopped at the end of the session; a test that SIGKILLs it calls
:meth:`MlflowServer.start` again (same database, same port).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = root / "server.log"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def uri(self) -> str:
        """The --registry value."""
        return f"mlflow+{self.http}"

    def start(self, timeout: float = 180.0) -> None:
        exe = Path(sys.executable).with_name("mlflow")
        cmd = [str(exe), "server", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
               "--artifacts-destination", str(self.root / "artifacts"), "--host", "127.0.0.1",
               "--port", str(self.port), "--workers", "1"]  # fmt: skip
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True, cwd=self.root)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.http}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer in {timeout}s: {self.log}")

    def kill(self) -> None:
        """SIGKILL the server and its workers (its own process group)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture(scope="session")
def _mlflow_server(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mlflow_server(_mlflow_server) -> MlflowServer:
    """The session's server, running (restarted if a test killed it)."""
    if not _mlflow_server.alive:
        _mlflow_server.start()
    return _mlflow_server


@pytest.fixture(autouse=True)
def _mlflow_downloads_stay_in_the_test_session(tmp_path_factory, monkeypatch):
    """The MLflow backend keeps downloaded versions under ``$XDG_CACHE_HOME/mlchecks/mlflow``:
    one folder for the whole test session (and the gates it starts), not the user's ~/.cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
