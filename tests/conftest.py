"""Session-wide test setup: the real servers of tests/services.py."""

pytest_plugins = ["tests.services"]
