"""The ``meeple`` command: one package, one entry point, the role is a subcommand.

Each subcommand lives in ``meeple.commands.<module>`` with two functions,
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status), and is
imported only when it is run, so ``meeple perft`` does not pay for FastAPI.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module under meeple.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("serve", "run every tier in one process (embedded defaults)"),
    "api": ("api", "run the api tier (REST: accounts, wallet, history)"),
    "gateway": ("gateway", "run a gateway (the WebSocket edge, /ws)"),
    "engine": ("engine", "run an engine and a matchmaker (games; HTTP only for probes)"),
    "perft": ("perft", "count legal move sequences (the rules' truth)"),
    "ledger": ("ledger", "ledger tools: `meeple ledger check` verifies the books"),
    "migrate": ("migrate", "create or upgrade the store's schema"),
    "bots": ("bots", "bots that queue and play random legal moves"),
    "config": ("config", "list every setting (MEEPLE_* variables) with its default"),
    "accounts": ("accounts", "operator accounts: `create-operator USERNAME`, `promote USERNAME`"),
    "keys": ("keys", "signing keys: `new` prints a fresh key, `show` the configured key ids"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meeple", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def _version() -> str:
    from meeple import __version__

    return f"meeple {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meeple`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    # Parse the command name first, then let its module define its own arguments.
    known, _ = parser.parse_known_args(argv[:1] or argv)
    module_name, help_text = COMMANDS[known.command]
    module = importlib.import_module(f"meeple.commands.{module_name}")
    sub = argparse.ArgumentParser(prog=f"meeple {known.command}", description=help_text)
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    status: int = module.run(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
