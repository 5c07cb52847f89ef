"""The client and the bots against a real ``meeple serve`` process (the whole platform)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from meeple.bots import BotAccounts, BotPlan, run_fleet
from meeple.client import Api, Client, HttpError, ws_url
from meeple.protocol import messages as m
from tests.services import free_port

ENV = {
    "MEEPLE_LOG_LEVEL": "WARNING",
    "MEEPLE_PASSWORD_HASH_TIME_COST": "1",
    "MEEPLE_PASSWORD_HASH_MEMORY_KIB": "8192",
    "MEEPLE_API_RATE_LIMIT_PER_S": "0",
    "MEEPLE_MATCH_TICK_MS": "50",
    "MEEPLE_WS_RATE_PER_S": "1000",
    "MEEPLE_WS_RATE_BURST": "1000",
    "MEEPLE_DRAIN_TIMEOUT_S": "1",
}
WITHIN = 20.0


class Serve:
    """``meeple serve`` on a fixed port and data dir; stop and start it again."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        with (self.data_dir / "serve.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "meeple.cli", *args],
                env={**os.environ, **ENV},
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, (self.data_dir / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "meeple serve did not get ready"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """One server for the module (starting one costs seconds); tests leave it running."""
    data_dir = tmp_path_factory.mktemp("serve")
    server = Serve(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_four_bots_play_a_whole_fourchess_game(serve: Serve, tmp_path: Path) -> None:
    stats = await run_fleet(
        serve.base_url,
        4,
        BotPlan(game="fourchess", time_control="3+2", games=1),
        accounts=BotAccounts(tmp_path / "bots.json"),
        seed=11,
    )
    assert [s.games for s in stats] == [1, 1, 1, 1]
    assert sorted(p for s in stats for p in s.placings) in ([1, 2, 3, 4], [1, 2, 3, 3])
    assert sum(s.moves for s in stats) > 20
    assert sum(s.errors for s in stats) == 0
    async with Api(serve.base_url) as api:
        tokens = await api.login("bot-1", BotAccounts(tmp_path / "bots.json").password("bot-1"))
        wallet = await api.wallet(tokens.access_token)
        assert "balance" in wallet
        renewed = await api.refresh(tokens.refresh_token)
        assert renewed.access_token != tokens.access_token
        with pytest.raises(HttpError) as info:
            await api.login("bot-1", "not the password 1")
        assert info.value.status == 401 and info.value.code


async def test_clients_resume_a_game_across_a_server_restart(serve: Serve) -> None:
    async with Api(serve.base_url) as api:
        tokens = [await api.register_or_login(f"p-{n}", "Passw0rd-long") for n in range(4)]
    clients = [
        await Client.connect(ws_url(serve.base_url), t.access_token, reconnect_for_s=60)
        for t in tokens
    ]
    try:
        for client in clients:
            await client.join_queue("fourchess", "3+2")
        seats: dict[int, Client] = {}
        for client in clients:
            frame = await client.next_frame(WITHIN)
            while not isinstance(frame, m.Matched):
                frame = await client.next_frame(WITHIN)
            seats[frame.seat] = client
            game_id = frame.game_id
        for client in clients:
            await client.subscribe(game_id)
        rng = random.Random(5)

        async def play(plies: int) -> None:
            for _ in range(plies):
                view = clients[0].views[game_id]
                await clients[0].wait_until(lambda v=view: bool(v.to_act), WITHIN)
                mover = seats[view.to_act[0]]
                mine = mover.views[game_id]
                await mover.wait_until(lambda v=mine: v.my_turn, WITHIN)
                ack = await mover.move(game_id, rng.choice(mine.legal_moves()))
                for c in clients:
                    await c.wait_until(
                        lambda c=c, s=ack.seq: c.last_seq(game_id) >= (s or 0), WITHIN
                    )

        await play(8)
        serve.stop()
        serve.start()
        for client in clients:
            await client.wait_until(lambda c=client: c.reconnects >= 1, WITHIN)
        await play(8)
        last = clients[0].last_seq(game_id)
        assert last >= 17  # start + 16 moves, none lost or repeated
        positions = set()
        for client in clients:
            view = client.views[game_id]
            assert client.last_seq(game_id) == last and not view.stale
            assert view.rules is not None and view.state is not None
            positions.add(view.rules.position_to_text(view.state))
        assert len(positions) == 1
    finally:
        for client in clients:
            await client.close()


OPERATOR = ("ops1", "Operator-pass-1")


@pytest.fixture(scope="module")
def operator(serve: Serve) -> tuple[str, str]:
    """An operator account, made with ``meeple accounts create-operator`` (password on stdin)."""
    created = subprocess.run(
        [
            sys.executable,
            "-m",
            "meeple.cli",
            "accounts",
            "--data-dir",
            str(serve.data_dir),
            "create-operator",
            OPERATOR[0],
        ],
        input=OPERATOR[1] + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        check=False,
    )
    assert created.returncode == 0, created.stderr
    return OPERATOR


async def test_staked_bots_are_funded_by_the_operator_and_paid_out(
    serve: Serve, operator: tuple[str, str], tmp_path: Path
) -> None:
    accounts = BotAccounts(tmp_path / "bots.json")
    stats = await run_fleet(
        serve.base_url,
        4,
        BotPlan(game="fourchess", time_control="3+2", stake=100, games=1),
        accounts=accounts,
        first=21,
        seed=4,
        operator=operator,
    )
    assert [s.games for s in stats] == [1, 1, 1, 1]
    balances = []
    async with Api(serve.base_url) as api:
        for n in range(21, 25):
            tokens = await api.login(f"bot-{n}", accounts.password(f"bot-{n}"))
            balances.append(int((await api.wallet(tokens.access_token))["balance"]))
    top_up = 100 * 20  # TOP_UP_STAKES stakes each
    rake = 400 * 500 // 10_000  # 5% of the pot (default rake_bps)
    assert sum(balances) == 4 * top_up - rake
    assert max(balances) > top_up > min(balances)
