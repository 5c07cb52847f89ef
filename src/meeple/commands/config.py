"""``meeple config``: every setting, its environment variable, default and meaning.

``--markdown`` prints the table that docs/operations.md carries (a test keeps the
two in step); ``--effective`` prints the values this process would run with.
"""

from __future__ import annotations

import argparse
import sys

from meeple.settings import Settings, load

SECRET_FIELDS = frozenset({"signing_key", "signing_keys_previous", "database_url", "redis_url"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``meeple config``."""
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--effective", action="store_true", help="print the values from the environment"
    )


def markdown_table() -> str:
    """Every setting as a Markdown table row (variable, default, description)."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(none)" if default is None else f"`{default}`"
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `MEEPLE_{name.upper()}` | {shown} | {description} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print the settings."""
    if args.effective:
        settings = load()
        for name in Settings.model_fields:
            value = getattr(settings, name)
            if name in SECRET_FIELDS and value:
                value = "(set)"
            sys.stdout.write(f"MEEPLE_{name.upper()}={value}\n")
        return 0
    if args.markdown:
        sys.stdout.write(markdown_table() + "\n")
        return 0
    for name, field in Settings.model_fields.items():
        sys.stdout.write(f"MEEPLE_{name.upper()} (default {field.default!r})\n")
        sys.stdout.write(f"    {field.description}\n")
    return 0
