"""Repository-level pytest configuration for mlchecks' own tests (tests/) and the suites."""

pytest_plugins = ["pytester"]
