"""``meeple perft``: totals, divide, progress and errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from meeple.cli import main
from meeple.commands import perft as perft_command

POSITION_3 = "8/2p5/3p4/KP5r/1R3p1k/8/4P1P1/8 w - - 0 1"


def perft(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["perft", *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


@pytest.mark.parametrize(("depth", "total"), [(0, 1), (1, 20), (2, 400), (3, 8902)])
def test_chess_totals(capsys: pytest.CaptureFixture[str], depth: int, total: int) -> None:
    status, lines, _ = perft(capsys, "--game", "chess", "--depth", str(depth))
    assert status == 0
    assert lines == [str(total)]


@pytest.mark.parametrize(("depth", "total"), [(1, 20), (2, 395), (3, 7800)])
def test_fourchess_totals(capsys: pytest.CaptureFixture[str], depth: int, total: int) -> None:
    status, lines, _ = perft(capsys, "--game", "fourchess", "--depth", str(depth))
    assert status == 0
    assert lines[-1] == str(total)


def test_divide_prints_each_first_move_then_the_total(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = perft(capsys, "--game", "chess", "--depth", "2", "--divide")
    assert status == 0
    assert lines[-1] == "400"
    body = dict(line.split(": ") for line in lines[:-1])
    assert len(body) == 20
    assert body["e2e4"] == "20"


def test_fen_and_progress(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(perft_command, "HEARTBEAT_SECONDS", 0.001)
    status, lines, err = perft(capsys, "--game", "chess", "--fen", POSITION_3, "--depth", "4")
    assert status == 0
    assert lines == ["43238"]
    progress = err.splitlines()
    assert progress[0].startswith("perft(4): counting, ")  # the count takes well over 1 ms
    assert progress[-1].startswith("perft(4) = 43238 in ")


def test_divide_agrees_with_the_game_at_depth_4(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--game", "chess", "--fen", POSITION_3, "--depth", "4", "--divide"]
    status, lines, err = perft(capsys, *args)
    assert status == 0
    assert lines[-1] == "43238"
    assert sum(int(line.split(": ")[1]) for line in lines[:-1]) == 43238
    assert len(lines) == 15
    assert "perft(4) = 43238" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--game", "go", "--depth", "1"], "no game named 'go'"),
        (["--game", "chess", "--fen", "8/8 w", "--depth", "1"], "bad FEN"),
        (["--game", "chess", "--option", "variant", "--depth", "1"], "KEY=VALUE"),
        (["--game", "chess", "--option", "variant=960", "--depth", "1"], "no options"),
        (["--game", "chess", "--depth", "-1"], "--depth"),
        (["--game", "chess", "--seats", "3", "--depth", "1"], "2 seats"),
    ],
)
def test_errors_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, lines, err = perft(capsys, *args)
    assert status == 2
    assert lines == []
    assert err.startswith("meeple perft: error: ")
    assert message in err


def test_the_meeple_command_runs_perft() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "meeple.cli", "perft", "--game", "chess", "--depth", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "400\n"
