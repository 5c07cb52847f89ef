"""Clock arithmetic: charging, increments, flags (pure values)."""

from meeple.engine.clocks import Clock


def test_only_running_seats_are_charged() -> None:
    clock = Clock.new(2, 60_000, now_ms=1_000).run((0,), 1_000)
    assert clock.read(11_000) == (50_000, 60_000)
    stopped = clock.stop(11_000)
    assert stopped.remaining == (50_000, 60_000) and stopped.running == ()
    assert stopped.read(99_000) == (50_000, 60_000)


def test_increment_and_flag() -> None:
    clock = Clock.new(2, 5_000, now_ms=0).run((1,), 0).stop(2_000).add(1, 1_000)
    assert clock.remaining == (5_000, 4_000)
    running = clock.run((1,), 3_000)
    assert running.flag() == (7_000, 1)
    assert running.read(8_000) == (5_000, 0)  # never below zero
    assert Clock.new(2, 5_000, 0).flag() is None
