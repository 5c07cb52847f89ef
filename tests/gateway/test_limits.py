"""The sans-I/O limits: token bucket, per-address counter, frame size."""

from __future__ import annotations

from meeple.gateway.limits import AddressLimiter, TokenBucket, frame_too_large


def test_bucket_allows_the_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=3)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.strikes == 1
    assert 1 <= bucket.retry_after_ms() <= 101
    assert not bucket.take(0.05)  # half a token so far
    assert bucket.take(0.1)  # a whole one at 10/s


def test_bucket_never_saves_more_than_the_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=2)
    bucket.take(0.0)
    taken = [bucket.take(100.0) for _ in range(3)]
    assert taken == [True, True, False]


def test_strikes_pile_up_in_a_flood_and_fade_when_it_stops() -> None:
    bucket = TokenBucket(rate=1.0, burst=1, strike_decay_per_s=1.0)
    assert bucket.take(0.0)
    for n in range(1, 6):
        assert not bucket.take(0.0)
        assert bucket.strikes == n
    # A flood at twice the rate: every other frame is refused, and strikes grow.
    bucket = TokenBucket(rate=10.0, burst=1, strike_decay_per_s=1.0)
    now = 0.0
    for _ in range(40):
        now += 0.05
        bucket.take(now)
    assert bucket.strikes > 15
    # Backing off lets them fade.
    assert bucket.take(now + 60.0)
    assert bucket.strikes == 0


def test_address_limit() -> None:
    limiter = AddressLimiter(2)
    assert limiter.acquire("a") and limiter.acquire("a")
    assert not limiter.acquire("a")
    assert limiter.acquire("b")
    limiter.release("a")
    assert limiter.count("a") == 1
    assert limiter.acquire("a")


def test_frame_size_counts_utf8_bytes() -> None:
    assert not frame_too_large("x" * 16, 16)
    assert frame_too_large("x" * 17, 16)
    assert frame_too_large("é" * 9, 16)  # 18 bytes in 9 characters
    assert frame_too_large(b"x" * 17, 16)
