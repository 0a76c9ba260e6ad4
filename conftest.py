"""Repository-level pytest configuration for mlchecks' own tests (tests/) and the suites.

The ``backend`` marker: tests whose outcome depends on what the Keras backend computes, i.e.
that build, train, save, load or predict with a Keras model, in this process, in a pytester
run or in a subprocess they start. ``KERAS_BACKEND=jax python -m pytest -m backend`` runs them
on another backend (``.ci/backends jax``). A test is marked when it uses one of
``KERAS_FIXTURES`` (directly or through another fixture) or is listed in ``KERAS_TESTS``.
Tests that use a trained model only as a file to copy, corrupt or promote (registry, disk-full,
concurrency faults) are not marked: what they judge does not depend on the backend.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

#: Fixtures that train (or load from the model cache) and predict with a Keras model.
KERAS_FIXTURES = frozenset({
    "trained_mlp", "trained_cnn", "model_cache",  # tests/conftest.py
    "mlchecks_trained_model", "mlchecks_evaluation", "mlchecks_champion",  # the plugin's
    "trained_model", "evaluation", "champion",  # their deprecated aliases
})  # fmt: skip

#: Tests that reach Keras without those fixtures: a whole module (None) or the tests named.
KERAS_TESTS: dict[str, frozenset[str] | None] = {
    "tests/test_backend_marker.py": None,  # checks this selection in every backend run
    "suites/test_behaviour.py": None,  # predicts with the configured models
    "suites/test_setup.py": None,  # builds them to lint their architecture
    "tests/test_zoo.py": None,  # builds the reference models
    "tests/test_training.py": None,
    "tests/test_behaviour.py": None,
    "tests/test_lint.py": None,  # builds the article's broken models
    "tests/test_bench.py": None,  # FLOPs, calibration, timing of real models
    "tests/test_speed_ab.py": None,
    "tests/test_plugin.py": None,  # pytester runs that train tiny models
    "tests/test_gate.py": None,
    "tests/test_new_project.py": None,  # trains the project's model in its pytest run
    "tests/test_evolve.py": None,
    "tests/run/test_gate_inputs.py": None,
    "tests/run/test_one_gate.py": None,
    "tests/reliability/test_bad_models.py": None,  # loading (or refusing) model files
    "tests/reliability/test_cache_faults.py": None,
    "tests/reliability/test_bombs.py": frozenset(
        {
            "test_the_parameter_estimate_is_exact_on_real_architectures",
            "test_a_config_bomb_is_refused_before_keras_builds_it",
            "test_a_config_bomb_through_the_gate",
            "test_max_parameters_is_configurable",
            "test_a_real_gate_runs_under_the_same_limit",  # the backend's memory under RLIMIT_AS
            "test_a_diluted_zip_bomb_is_judged_member_by_member",  # trains its candidate
            "test_a_member_with_a_broken_crc_leaves_no_extraction_behind",  # Keras extracts
        }
    ),
    "tests/reliability/test_integrity.py": frozenset(
        {
            "test_editing_a_builder_never_reuses_the_model_of_its_older_code",
        }
    ),
    "tests/test_checks.py": frozenset(
        {
            "test_suites_record_every_check_with_junit_properties",
            "test_gate_rejects_a_near_chance_first_version_on_the_default_bar",
        }
    ),
    "tests/test_report.py": frozenset({"test_gate_puts_the_report_path_into_the_decision"}),
    "tests/test_messages.py": frozenset({"test_behaviour_messages_are_short"}),
    "tests/cli/test_progress.py": frozenset({"test_gate_progress_is_a_live_line_on_a_terminal"}),
    "tests/test_quiet_backend.py": frozenset({"test_a_user_project_sees_no_backend_noise"}),
    "tests/report/test_report_from_producers.py": frozenset(
        {"test_every_category_comes_from_a_real_producer"}  # calibration, timing, FLOPs
    ),
    "tests/test_class_incremental.py": frozenset(  # train and gate class-incremental lineages
        {
            "test_split_mnist_finetuning_rejected_replay_promoted_as_recomputed",
            "test_the_domain_rule_rejects_replay_and_says_why",
            "test_a_shrinking_head_or_labels_beyond_the_head_are_bad_input",
            "test_drift_is_not_judged_against_a_profile_of_other_classes",
            "test_evolve_class_scenario_rejects_naive_promotes_rehearsal",
        }
    ),
    "tests/test_plugin_class_incremental.py": None,
    "tests/checks/test_default_bar_on_a_class_subset.py": None,
    "tests/report/test_continual_section.py": frozenset(
        {"test_a_class_incremental_lineage_on_digits_renders_its_matrix"}
    ),
}


#: nodeid -> marked, for every test collected (before -m/-k deselect: this hook runs first).
COLLECTED: dict[str, bool] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _mark_backend_tests(items)
    _slow_modules_first(items)


def _slow_modules_first(items: list[pytest.Item]) -> None:
    """Modules with ``slow`` tests run first, each module's tests together and in order: the
    long gates start early and the run ends on short tests (a 60 s test started last kept one
    core idle for a minute). Under the README's ``pytest -n 2 --dist loadfile`` the modules are
    then handed out by their measured seconds (``tests/xdist_order.py``); this order breaks
    ties and orders a module never measured. Whole modules, not
    tests, go to a worker so that a module's fixtures are built once: ``worksteal`` split
    modules between the workers, and the new-project module's chain of console-script runs was
    built on both (91.6 against 22 CPU-s)."""
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::", 1)[0]

    slow = {module(i) for i in items if i.get_closest_marker("slow")}
    first = {}  # module -> where its first test was
    for index, item in enumerate(items):
        first.setdefault(module(item), index)
    items.sort(key=lambda i: (module(i) not in slow, first[module(i)]))


def _mark_backend_tests(items: list[pytest.Item]) -> None:
    checked: set[str] = set()
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        names = KERAS_TESTS.get(module, frozenset())
        if names and module not in checked:  # a listed test renamed would leave the subset
            checked.add(module)
            missing = sorted(n for n in names if not hasattr(getattr(item, "module", None), n))
            if missing:
                raise pytest.UsageError(f"conftest.py KERAS_TESTS: no {missing} in {module}")
        listed = module in KERAS_TESTS and (names is None or item.originalname in names)  # type: ignore[attr-defined]
        if listed or KERAS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.backend)
        COLLECTED[item.nodeid] = item.get_closest_marker("backend") is not None
