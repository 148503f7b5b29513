"""Backoff strategies compute the delays the seeds ask for."""

from __future__ import annotations

import pytest

from queue_system import ConfigError, Custom, Exponential, Fixed, Linear
from queue_system.backoff import as_backoff


def test_seed_certificate_policy_doubles_from_two_seconds() -> None:
    policy = Exponential(2)
    assert [policy.delay(t) for t in (1, 2, 3)] == [2, 4, 8]


def test_seed_email_policy_doubles_from_three_seconds() -> None:
    policy = Exponential(3)
    assert [policy.delay(t) for t in (1, 2, 3, 4, 5)] == [3, 6, 12, 24, 48]


def test_exponential_factor_and_cap() -> None:
    policy = Exponential(1, factor=3, max_delay=10)
    assert [policy.delay(t) for t in (1, 2, 3, 4)] == [1, 3, 9, 10]


def test_fixed_and_linear() -> None:
    assert [Fixed(5).delay(t) for t in (1, 2, 3)] == [5, 5, 5]
    assert [Linear(5).delay(t) for t in (1, 2, 3)] == [5, 10, 15]
    assert [Linear(5, max_delay=12).delay(t) for t in (1, 2, 3)] == [5, 10, 12]


def test_custom_callable() -> None:
    assert Custom(lambda t: t * t).delay(3) == 9
    assert as_backoff(lambda t: 7.0).delay(1) == 7.0


def test_jitter_stays_within_its_fraction() -> None:
    policy = Fixed(10, jitter=0.2)
    delays = {policy.delay(1) for _ in range(200)}
    assert all(8 <= d <= 12 for d in delays)
    assert len(delays) > 50  # it really varies


def test_numbers_become_fixed_delays() -> None:
    assert as_backoff(4).delay(3) == 4


@pytest.mark.parametrize(
    "make",
    [lambda: Fixed(1, jitter=1.5), lambda: Exponential(1, factor=0.5), lambda: as_backoff("soon")],
)
def test_invalid_strategies_are_refused(make: object) -> None:
    with pytest.raises(ConfigError):
        make()  # type: ignore[operator]
