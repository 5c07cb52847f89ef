"""``meeple accounts``: operator management from the command line.

- ``meeple accounts create-operator USERNAME`` reads the password from stdin (first line)
  and creates an account with the operator role (same rules as registration);
- ``meeple accounts promote USERNAME`` gives an existing player the operator role.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from meeple.settings import Settings, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The two actions and the store to act on."""
    parser.add_argument(
        "--data-dir", type=Path, help="SQLite store and signing key (MEEPLE_DATA_DIR, ./data)"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create-operator", help="create an operator account; the password is read from stdin"
    )
    create.add_argument("username")
    promote = actions.add_parser("promote", help="give an existing player the operator role")
    promote.add_argument("username")


def run(args: argparse.Namespace) -> int:
    """Perform the action; 0 on success, 1 with a message on stderr otherwise."""
    from meeple.auth.errors import AuthError

    settings = load(data_dir=args.data_dir)
    try:
        if args.action == "create-operator":
            password = sys.stdin.readline().rstrip("\r\n")
            asyncio.run(_create_operator(settings, args.username, password))
            sys.stdout.write(f"created operator {args.username}\n")
        else:
            asyncio.run(_promote(settings, args.username))
            sys.stdout.write(f"{args.username} is now an operator\n")
    except AuthError as exc:
        sys.stderr.write(f"meeple accounts: {exc.message} ({exc.code})\n")
        return 1
    return 0


async def _create_operator(settings: Settings, username: str, password: str) -> None:
    from meeple.auth.accounts import create_player
    from meeple.auth.passwords import PasswordHasher
    from meeple.store.database import Store

    store = await Store.open(settings.effective_database_url)
    try:
        hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
        )
        await create_player(store, hasher, username, password, role="operator")
    finally:
        await store.close()


async def _promote(settings: Settings, username: str) -> None:
    from meeple.auth.accounts import set_role
    from meeple.store.database import Store

    store = await Store.open(settings.effective_database_url)
    try:
        await set_role(store, username, "operator")
    finally:
        await store.close()
