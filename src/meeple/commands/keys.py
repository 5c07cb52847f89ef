"""``meeple keys``: signing keys for access tokens (docs/operations.md, rotation).

- ``meeple keys new`` prints a fresh random key (for ``MEEPLE_SIGNING_KEY``);
- ``meeple keys show`` prints the key ids (``kid``) this environment configures: the
  current key's, then each previous key's; never a key. It creates no key file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from meeple.auth.keys import KEY_FILE, configured_key_ring, new_key
from meeple.settings import load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The two actions."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("new", help="print a fresh random signing key")
    show = actions.add_parser(
        "show", help="print the ids of the current and previous signing keys (never the keys)"
    )
    show.add_argument(
        "--data-dir", type=Path, help="where a generated signing.key lives (MEEPLE_DATA_DIR)"
    )


def run(args: argparse.Namespace) -> int:
    """Perform the action; 0 on success, 1 with a message on stderr otherwise."""
    if args.action == "new":
        sys.stdout.write(new_key() + "\n")
        return 0
    settings = load(data_dir=args.data_dir)
    try:
        ring = configured_key_ring(settings)
    except (ValueError, RuntimeError) as exc:
        sys.stderr.write(f"meeple keys: {exc}\n")
        return 1
    if ring is None:
        path = settings.data_dir / KEY_FILE
        sys.stderr.write(f"meeple keys: no signing key (MEEPLE_SIGNING_KEY unset, no {path})\n")
        return 1
    sys.stdout.write(f"current {ring.current_id}\n")
    for kid in ring.previous_ids:
        sys.stdout.write(f"previous {kid}\n")
    return 0
