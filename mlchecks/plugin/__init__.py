"""pytest glue only: options, settings, the run's state in the stash, terminal summary.

Importing this module must not import keras, tensorflow or great_expectations: it is loaded by
every pytest run on a machine where mlchecks is installed (``pytest --help`` included).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mlchecks.config import options
from mlchecks.errors import MlchecksError

if TYPE_CHECKING:
    from mlchecks.config import Settings
    from mlchecks.run.gate import Gate
    from mlchecks.run.session import Session

# The fixtures and the suites switch live beside this module; one pytest11 entry point
# loads all three.
pytest_plugins = ["mlchecks.plugin.fixtures", "mlchecks.plugin.suites"]

SESSION_KEY = pytest.StashKey["Session"]()
GATE_CONTEXT = "is_mlchecks_gate_context"
MODEL_PARAM = "mlchecks_model_spec"
PROMOTE_OPTION = "--mlchecks-promote"
PROMOTE_KEY = pytest.StashKey[list[str]]()
GATE_KEY: pytest.StashKey[Gate] = pytest.StashKey()
# bad input found once the tests began (a label beyond a saved model's head): the exit status
INPUT_ERROR_KEY = pytest.StashKey[MlchecksError]()


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
        PROMOTE_OPTION,
        dest="mlchecks_promote",
        action="store_true",
        default=False,
        help="promote the judged model(s) into the registry when every test passed; the exit "
        "status is then the gate's (0 accepted, 1 rejected, 2 bad input, 3 internal error)",
    )
    group.addoption(
        "--mlchecks-config",
        dest="mlchecks_config",
        default=None,
        help="config file (default: nearest mlchecks.toml or pyproject.toml [tool.mlchecks])",
    )


SPEED_MARKER = "mlchecks_speed"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mlchecks: a quality check recorded by mlchecks")
    config.addinivalue_line("markers", f"{SPEED_MARKER}: a speed check of the shipped suites")
    for plugin in config.pluginmanager.get_plugins():
        if getattr(plugin, GATE_CONTEXT, False):  # `mlchecks gate` prepared everything
            config.stash[SESSION_KEY] = plugin.session
            from mlchecks.plugin.fixtures import DeprecatedAliases

            config.pluginmanager.register(DeprecatedAliases(), "mlchecks-deprecated-fixtures")
            return
    # Settings are validated now (cheap, no keras) so a bad [tool.mlchecks] is one usage error,
    # not an error in every test; the dataset and models stay lazy inside the Session.
    lazy = _LazySession(config)
    holder: Session | _LazySession = lazy
    if not getattr(config.option, "help", False):
        lazy.settings()
        opts = config.option
        if getattr(opts, "mlchecks_candidate", None) or getattr(opts, "mlchecks_promote", False):
            holder = lazy.get()  # the candidate's bytes are copied now, before any test runs
    config.stash[SESSION_KEY] = holder  # type: ignore[assignment,misc]
    if lazy.enabled():
        from mlchecks._util import quiet
        from mlchecks.plugin.fixtures import DeprecatedAliases

        quiet.install()  # TensorFlow's import-time lines and log level (where the user set none)

        config.pluginmanager.register(DeprecatedAliases(), "mlchecks-deprecated-fixtures")
    # The HTML report of the session (not under `mlchecks gate`: the CLI writes that one).
    config.pluginmanager.register(_ReportHooks(config), "mlchecks-report")


def session_of(config: pytest.Config) -> Session:
    """The run's :class:`~mlchecks.run.session.Session` (built on first use)."""
    holder = config.stash[SESSION_KEY]
    if isinstance(holder, _LazySession):
        holder = holder.get()
        config.stash[SESSION_KEY] = holder
    return holder


class _LazySession:
    """Builds the session on first use, so non-mlchecks test runs pay nothing."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._settings: Settings | None = None

    def get(self) -> Session:
        from mlchecks.run.gate import Gate

        opts = self.config.option
        try:
            # The one Gate owns the run: a candidate is judged (and promoted) from a private
            # copy of its bytes.
            gate = Gate.for_settings(
                self.settings(),
                candidate=getattr(opts, "mlchecks_candidate", None),
                promote=bool(getattr(opts, "mlchecks_promote", False)),
            )
        except MlchecksError as exc:
            raise pytest.UsageError(f"mlchecks: {exc}") from None
        self.config.stash[GATE_KEY] = gate
        return gate.session

    def enabled(self) -> bool:
        """Whether this project enables mlchecks: a config file, ``--mlchecks-config`` or a
        candidate on the command line."""
        from mlchecks.config import find_config

        opts = self.config.option
        if getattr(opts, "mlchecks_config", None) or getattr(opts, "mlchecks_candidate", None):
            return True
        return find_config(Path(self.config.rootpath)) is not None

    def settings(self) -> Settings:
        """The run's settings, validated once (no numpy, keras or data loaded)."""
        if self._settings is not None:
            return self._settings
        from mlchecks.config import load_settings

        opts = self.config.option
        overrides = options.overrides(vars(opts), prefix="mlchecks-")
        config_file = getattr(opts, "mlchecks_config", None)
        try:
            settings = load_settings(
                Path(self.config.rootpath),
                overrides,
                config_file=Path(config_file) if config_file else None,
            )
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
        self._settings = settings
        return settings


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if MODEL_PARAM in metafunc.fixturenames:
        session = session_of(metafunc.config)
        specs = session.settings.models
        metafunc.parametrize(
            MODEL_PARAM, specs, ids=[s.name for s in specs], indirect=True, scope="session"
        )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """A table of the mlchecks checks of this run. Never raises (a summary hook must not)."""
    checks = _run_checks(config)
    if not checks:
        _promotion_summary(terminalreporter, config)
        return
    try:
        failed = [c for c in checks if c.blocking]
        terminalreporter.section("mlchecks")
        for c in checks:
            terminalreporter.write_line(f"{c.label:5} {c.id:28} {c.message}")
        not_judged = sum(1 for c in checks if c.status == "not_judged")
        counts = f"mlchecks: {len(checks)} checks, {len(failed)} failed"
        terminalreporter.write_line(counts + (f", {not_judged} not judged" if not_judged else ""))
        if any(c.category == "speed" for c in checks):
            from mlchecks import measure as bench

            holder: Session | _LazySession = config.stash[SESSION_KEY]
            # an xdist controller holds the lazy session: settings only
            settings = holder.settings() if isinstance(holder, _LazySession) else holder.settings
            speed = bench.backend_table(settings.resolve(settings.cache_dir) / bench.BACKENDS_FILE)
            if speed:
                terminalreporter.write_line("mlchecks: training speed per backend on this machine")
                for line in speed.splitlines():
                    terminalreporter.write_line(line)
    except Exception as exc:  # pragma: no cover - defensive: never break pytest's exit
        terminalreporter.write_line(f"mlchecks: summary unavailable ({exc!r})")
    _promotion_summary(terminalreporter, config)


def _run_checks(config: pytest.Config) -> list[Any]:
    """The checks of this run: this process's, and under pytest-xdist those the workers sent."""
    holder = config.stash.get(SESSION_KEY, None)
    local = [] if holder is None or isinstance(holder, _LazySession) else list(holder.checks)
    hooks = config.pluginmanager.get_plugin("mlchecks-report")
    return local + (hooks.worker_checks() if isinstance(hooks, _ReportHooks) else [])


# --- promotion (--mlchecks-promote): the gate's last step, in a normal pytest session ------


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``--mlchecks-promote``: promote when every test passed; set the gate's exit status.

    Never raises: a registry problem becomes exit status 2 (3 for a bug) and a summary line.
    Unlike ``mlchecks gate``, no lineage lock is held while the tests run: if another process
    promoted meanwhile, nothing is written and the status is 2 (rerun against the new champion).
    """
    config = session.config
    if not config.getoption("mlchecks_promote", False) or hasattr(config, "workerinput"):
        return
    lines: list[str] = []
    config.stash[PROMOTE_KEY] = lines
    try:
        code = _promote(config, int(exitstatus), lines)
    except MlchecksError as exc:
        lines.append(f"mlchecks: error: {' '.join(str(exc).split())}")
        code = int(exc.exit_code)
    except Exception as exc:  # a bug: say so, never a traceback from a session hook
        lines.append(f"mlchecks: internal error while promoting: {type(exc).__name__}: {exc}")
        code = 3
    session.exitstatus = code


def _promote(config: pytest.Config, exitstatus: int, lines: list[str]) -> int:
    """The pytest door of the one Gate: pytest ran the checks; conclude (decide, promote)."""
    from mlchecks.errors import ConfigError, GateExit

    if config.getoption("dist", "no") not in ("no", None):
        msg = (
            f"{PROMOTE_OPTION} does not work under pytest-xdist (the workers hold the models); "
            "run without -n"
        )
        raise ConfigError(msg)
    holder = config.stash.get(SESSION_KEY, None)
    gate = config.stash.get(GATE_KEY, None)
    checks = [] if holder is None or isinstance(holder, _LazySession) else holder.checks
    if exitstatus not in (0, 1):
        lines.append(f"mlchecks: nothing promoted: the session ended with status {exitstatus}")
        return exitstatus
    bad_input = config.stash.get(INPUT_ERROR_KEY, None)
    if bad_input is not None:  # the gate's exit 2, not a rejection of the model
        lines.append(f"mlchecks: error: {' '.join(str(bad_input).split())}")
        lines.append("mlchecks: nothing promoted: bad input; the registry is unchanged")
        return int(bad_input.exit_code)
    if not checks or gate is None:
        lines.append("mlchecks: nothing promoted: no mlchecks check ran in this session")
        return int(GateExit.REJECTED)
    with gate.locked():
        gate.prepare()
        decision = gate.conclude(failed_outside="a test failed" if exitstatus else None)
    for outcome in decision.lineages:
        lines.append(f"mlchecks: {outcome.note}")
    if not decision.accepted:
        lines.append("mlchecks: REJECTED: a test failed; the registry is unchanged")
    return int(decision.exit_code)


def pytest_unconfigure(config: pytest.Config) -> None:
    gate = config.stash.get(GATE_KEY, None)
    if gate is not None:
        gate.close()


def _promotion_summary(terminalreporter: Any, config: pytest.Config) -> None:
    try:
        for line in config.stash.get(PROMOTE_KEY, []):
            terminalreporter.write_line(line)
    except Exception:  # pragma: no cover - never break pytest's exit
        pass


# --- HTML report: a page per session, pytest-html extras, checks from xdist workers ---------

RUN_ID_INPUT = "mlchecks_run_id"


class _ReportHooks:
    """Writes the session's mlchecks report and adds pytest-html extras to mlchecks tests.

    The page goes to ``<--mlchecks-report, default reports/>/<run-id>/index.html`` (plus the
    history page ``index.html`` beside the runs) whenever the session recorded a check;
    ``--mlchecks-report none`` turns it off. Only the controller writes: under pytest-xdist each
    worker attaches the checks a test recorded to that test's report (``mlchecks_checks``, JSON,
    which xdist sends over), so the controller's page holds every worker's checks. Pages built
    that way have the check table and what check details carry, not the worker-side
    evaluations.
    """

    def __init__(self, config: pytest.Config) -> None:
        from mlchecks.report.data import new_run_id

        self.config = config
        workerinput = getattr(config, "workerinput", None)
        self.worker = workerinput is not None
        given = workerinput.get(RUN_ID_INPUT) if workerinput is not None else None
        self.run_id: str = given or new_run_id(Path(config.rootpath).name, "pytest")
        self.from_workers: list[dict[str, Any]] = []
        self.page: Path | None = None
        self.error: str | None = None
        self._seen = 0  # session checks already attributed to a test report

    def _session(self) -> Session | None:
        holder = self.config.stash.get(SESSION_KEY, None)
        return None if holder is None or isinstance(holder, _LazySession) else holder

    def _page_path(self, session: Session) -> Path | None:
        from mlchecks.report import report_folder

        folder = report_folder(session.settings)
        return None if folder is None else folder / self.run_id / "index.html"

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: workers link their pytest-html extras to the controller's page."""
        node.workerinput[RUN_ID_INPUT] = self.run_id

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: Any) -> Any:
        report = yield
        session = self._session()
        if session is None or len(session.checks) <= self._seen:
            return report
        new = session.checks[self._seen :]
        self._seen = len(session.checks)
        try:
            if self.worker:
                from mlchecks.report.data import jsonable

                report.mlchecks_checks = [jsonable(c.to_json()) for c in new]
            if self.config.pluginmanager.hasplugin("html"):
                report.extras = [*getattr(report, "extras", []), *self._html_extras(session, new)]
        except Exception:  # pragma: no cover - extras are a courtesy; never fail a test on them
            pass
        return report

    def _html_extras(self, session: Session, checks: list[Any]) -> list[dict[str, Any]]:
        import html
        import os

        from pytest_html import extras

        rows = []
        for c in checks:
            mark = c.label
            value = "" if c.value is None else f" = {c.value:.4g}"
            limit = "" if c.threshold is None else f" (threshold {c.threshold:.4g})"
            rows.append(
                f"<li><b>{mark}</b> <code>{html.escape(c.id)}</code>{value}{limit}: "
                f"{html.escape(c.message)}</li>"
            )
        out = [extras.html(f'<div class="mlchecks-extra"><ul>{"".join(rows)}</ul></div>')]
        page = self._page_path(session)
        if page is not None:
            html_path = getattr(self.config.option, "htmlpath", None)
            if html_path:
                start = Path(html_path).resolve().parent
                link = Path(os.path.relpath(page.resolve(), start)).as_posix()
            else:
                link = page.resolve().as_uri()
            out.append(extras.url(link, name="mlchecks report"))
        return out

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.worker:
            self.from_workers.extend(getattr(report, "mlchecks_checks", None) or [])

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.worker:
            return
        try:
            self.page = self._write()
        except Exception as exc:  # the page is a by-product: never change the run's outcome
            self.error = f"{type(exc).__name__}: {exc}"

    def worker_checks(self) -> list[Any]:
        """The checks pytest-xdist workers recorded (none outside xdist)."""
        if not self.from_workers:
            return []
        from mlchecks.report.data import checks_from_json

        return list(checks_from_json(self.from_workers))

    def _write(self) -> Path | None:
        from mlchecks.report import write_session_report

        local = self._session()
        checks = list(local.checks) if local is not None else []
        checks += self.worker_checks()
        if not checks:
            return None
        # Under xdist the controller's session holds only settings: building it loads nothing.
        holder = local if local is not None else session_of(self.config)
        return write_session_report(holder, source="pytest", run_id=self.run_id, checks=checks)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.page is not None:
            terminalreporter.write_line(f"mlchecks: report {self.page}")
        elif self.error is not None:
            terminalreporter.write_line(f"mlchecks: report not written ({self.error})")
