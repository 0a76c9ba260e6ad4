"""pytest glue only: options, settings, the run's state in the stash, terminal summary.

Importing this module must not import keras, tensorflow or great_expectations: it is loaded by
every pytest run on a machine where mlchecks is installed (``pytest --help`` included).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlchecks import options
from mlchecks.errors import MlchecksError

if TYPE_CHECKING:
    from mlchecks.session import Session

SESSION_KEY = pytest.StashKey["Session"]()
GATE_CONTEXT = "is_mlchecks_gate_context"
MODEL_PARAM = "mlchecks_model_spec"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlchecks", "mlchecks: Keras model quality gate")
    options.add_options(group.addoption, prefix="mlchecks-")
    group.addoption(
        "--mlchecks-model",
        dest="mlchecks_model",
        action="append",
        default=None,
        help="only the configured model(s) with this name (repeatable)",
    )
    group.addoption(
        "--mlchecks-candidate",
        dest="mlchecks_candidate",
        default=None,
        help="a saved .keras model to judge instead of the configured models",
    )
    group.addoption(
        "--mlchecks-config",
        dest="mlchecks_config",
        default=None,
        help="config file (default: nearest mlchecks.toml or pyproject.toml [tool.mlchecks])",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mlchecks: a quality check recorded by mlchecks")
    for plugin in config.pluginmanager.get_plugins():
        if getattr(plugin, GATE_CONTEXT, False):  # `mlchecks gate` prepared everything
            config.stash[SESSION_KEY] = plugin.session
            return
    config.stash[SESSION_KEY] = _LazySession(config)  # type: ignore[assignment]


def session_of(config: pytest.Config) -> Session:
    """The run's :class:`~mlchecks.session.Session` (built on first use)."""
    holder = config.stash[SESSION_KEY]
    if isinstance(holder, _LazySession):
        holder = holder.get()
        config.stash[SESSION_KEY] = holder
    return holder


class _LazySession:
    """Builds the session on first use, so non-mlchecks test runs pay nothing."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def get(self) -> Session:
        from mlchecks.config import ModelSpec, load_settings
        from mlchecks.session import Session

        opts = self.config.option
        overrides = options.overrides(vars(opts), prefix="mlchecks-")
        config_file = getattr(opts, "mlchecks_config", None)
        try:
            settings = load_settings(
                Path(self.config.rootpath),
                overrides,
                config_file=Path(config_file) if config_file else None,
            )
            candidate = getattr(opts, "mlchecks_candidate", None)
            if candidate:
                spec = ModelSpec(name=settings.name, path=str(Path(candidate).resolve()))
                settings = settings.replace(models=(spec,))
            wanted = getattr(opts, "mlchecks_model", None)
            if wanted:
                unknown = set(wanted) - {s.name for s in settings.models}
                if unknown:
                    msg = (
                        f"--mlchecks-model {sorted(unknown)} is not configured; configured "
                        f"models: {[s.name for s in settings.models]}"
                    )
                    raise pytest.UsageError(msg)
                settings = settings.replace(
                    models=tuple(s for s in settings.models if s.name in wanted)
                )
        except MlchecksError as exc:
            raise pytest.UsageError(f"mlchecks: {exc}") from None
        return Session(settings)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if MODEL_PARAM in metafunc.fixturenames:
        session = session_of(metafunc.config)
        specs = session.settings.models
        metafunc.parametrize(
            MODEL_PARAM, specs, ids=[s.name for s in specs], indirect=True, scope="session"
        )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """A table of the mlchecks checks of this run. Never raises (a summary hook must not)."""
    holder = config.stash.get(SESSION_KEY, None)
    if holder is None or isinstance(holder, _LazySession) or not holder.checks:
        return
    try:
        checks = holder.checks
        failed = [c for c in checks if c.blocking]
        terminalreporter.section("mlchecks")
        for c in checks:
            mark = "PASS" if c.passed else ("FAIL" if c.severity == "error" else c.severity.upper())
            terminalreporter.write_line(f"{mark:5} {c.id:28} {c.message}")
        terminalreporter.write_line(f"mlchecks: {len(checks)} checks, {len(failed)} failed")
    except Exception as exc:  # pragma: no cover - defensive: never break pytest's exit
        terminalreporter.write_line(f"mlchecks: summary unavailable ({exc!r})")
