"""Subcommands of the ``meeple`` command line (see :mod:`meeple.cli`)."""
