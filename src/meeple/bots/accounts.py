"""Bot accounts: ``bot-<n>``, with passwords derived from one secret kept on disk.

The secret lives in ``meeple-bots.json`` (mode 0600) in the data dir when
``MEEPLE_DATA_DIR`` is set, else in ``~/.cache``. Each bot's password is an HMAC
of its username under that secret, so the file never grows and the same machine
logs the same bots in again after a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

FILE_NAME = "meeple-bots.json"


def default_path() -> Path:
    """Where the bots' secret is kept by default."""
    data_dir = os.environ.get("MEEPLE_DATA_DIR")
    base = Path(data_dir) if data_dir else Path.home() / ".cache"
    return base / FILE_NAME


def bot_name(n: int, prefix: str = "bot") -> str:
    """The username of bot number ``n`` (from 1)."""
    return f"{prefix}-{n}"


class BotAccounts:
    """The bots' credentials: a secret read from (or created in) ``path``."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._secret = self._load()

    def _load(self) -> bytes:
        try:
            body = json.loads(self.path.read_text())
            return bytes.fromhex(str(body["secret"]))
        except FileNotFoundError:
            pass
        self.path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_bytes(32)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"secret": secret.hex()}, f)
        try:
            os.link(tmp, self.path)  # fails if another process won the race: use its secret
        except FileExistsError:
            return bytes.fromhex(str(json.loads(self.path.read_text())["secret"]))
        finally:
            tmp.unlink()
        return secret

    def password(self, username: str) -> str:
        """The bot's password: 32 characters mixing upper case, lower case and digits."""
        digest = hmac.new(self._secret, username.encode(), hashlib.sha256).hexdigest()
        return "Bot" + digest[:29]
