"""``meeple keys`` and the secrets of ``meeple config --effective``, run in this process."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from meeple.auth.keys import key_id
from meeple.cli import main

OLD = "old-signing-key-of-the-command-tests-0123456789abc"
NEW = "new-signing-key-of-the-command-tests-0123456789abc"
OTHER = "third-signing-key-of-the-command-tests-0123456789"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MEEPLE_SIGNING_KEY", "MEEPLE_SIGNING_KEYS_PREVIOUS", "MEEPLE_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def meeple(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_keys_new_prints_a_fresh_key_each_time() -> None:
    status, first, _ = meeple("keys", "new")
    _, second, _ = meeple("keys", "new")
    assert status == 0
    assert len(first.strip()) == 64 and first != second


def test_keys_show_prints_ids_never_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, err = meeple("keys", "show", "--data-dir", str(tmp_path))
    assert status == 1 and "no signing key" in err and out == ""
    assert not (tmp_path / "signing.key").exists()  # show never creates one
    (tmp_path / "signing.key").write_text(OTHER + "\n")  # as `meeple serve` generates
    status, out, _ = meeple("keys", "show", "--data-dir", str(tmp_path))
    assert (status, out) == (0, f"current {key_id(OTHER)}\n")
    monkeypatch.setenv("MEEPLE_SIGNING_KEY", NEW)
    monkeypatch.setenv("MEEPLE_SIGNING_KEYS_PREVIOUS", f"{OLD}, {OTHER}")
    status, out, _ = meeple("keys", "show", "--data-dir", str(tmp_path))
    assert status == 0 and NEW not in out
    assert out == f"current {key_id(NEW)}\nprevious {key_id(OLD)}\nprevious {key_id(OTHER)}\n"


def test_keys_show_refuses_two_keys_with_one_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEEPLE_SIGNING_KEY", "clash-41620")
    monkeypatch.setenv("MEEPLE_SIGNING_KEYS_PREVIOUS", "clash-66956")
    status, out, err = meeple("keys", "show")
    assert (status, out) == (1, "") and "share the key id" in err


def test_config_effective_hides_every_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    status, out, _ = meeple("config", "--effective")
    assert status == 0 and "MEEPLE_SIGNING_KEYS_PREVIOUS=\n" in out
    monkeypatch.setenv("MEEPLE_SIGNING_KEY", NEW)
    monkeypatch.setenv("MEEPLE_SIGNING_KEYS_PREVIOUS", OLD)
    status, out, _ = meeple("config", "--effective")
    assert status == 0 and NEW not in out and OLD not in out
    assert "MEEPLE_SIGNING_KEY=(set)\n" in out and "MEEPLE_SIGNING_KEYS_PREVIOUS=(set)\n" in out
