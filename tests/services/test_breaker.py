from __future__ import annotations

import pytest

from services.breaker import BreakerState, CircuitBreaker
from tests.services.conftest import FakeClock


def opened(clock: FakeClock, threshold: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker("missions", failure_threshold=threshold, cool_down_seconds=30, clock=clock)
    for _ in range(threshold):
        assert breaker.allow_request()
        breaker.record_failure("HTTP 500", 0.01)
    assert breaker.state is BreakerState.OPEN
    return breaker


def test_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker("missions", clock=FakeClock())
    breaker.record_failure("HTTP 500", 0.01)
    breaker.record_failure("HTTP 500", 0.01)
    breaker.record_success(0.01)  # resets the count
    breaker.record_failure("HTTP 500", 0.01)
    breaker.record_failure("HTTP 500", 0.01)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 2
    assert breaker.allow_request()
    breaker.record_failure("HTTP 503", 0.02)
    assert breaker.state is BreakerState.OPEN


def test_open_refuses_until_the_cool_down_is_over(clock: FakeClock) -> None:
    breaker = opened(clock)
    clock.advance(29.9)
    assert not breaker.allow_request()
    assert breaker.state is BreakerState.OPEN


def test_half_open_lets_exactly_one_probe_through(clock: FakeClock) -> None:
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow_request()
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allow_request()
    assert not breaker.allow_request()


def test_a_successful_probe_closes(clock: FakeClock) -> None:
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow_request()
    breaker.record_success(0.05)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.consecutive_failures == 0
    assert breaker.allow_request()


def test_a_failed_probe_reopens_for_a_whole_cool_down(clock: FakeClock) -> None:
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow_request()
    breaker.record_failure("no answer within 0.8 s", 0.8)
    assert breaker.state is BreakerState.OPEN
    clock.advance(29)
    assert not breaker.allow_request()
    clock.advance(1)
    assert breaker.allow_request()


def test_a_probe_that_never_reports_back_is_replaced_after_a_cool_down(clock: FakeClock) -> None:
    breaker = opened(clock)
    clock.advance(30)
    assert breaker.allow_request()  # its caller is cancelled: no outcome is ever recorded
    clock.advance(30)
    assert breaker.allow_request()


def test_late_outcomes_of_calls_sent_before_it_opened_change_nothing(clock: FakeClock) -> None:
    breaker = opened(clock)
    clock.advance(20)
    breaker.record_success(0.01)
    breaker.record_failure("HTTP 502", 0.01)
    assert breaker.state is BreakerState.OPEN
    clock.advance(10)  # the cool-down still counts from the opening
    assert breaker.allow_request()


def test_records_the_last_error_and_latency(clock: FakeClock) -> None:
    breaker = CircuitBreaker("cohort", clock=clock)
    assert (breaker.last_error, breaker.last_latency_seconds) == (None, None)
    breaker.record_failure("HTTP 500", 0.25)
    assert (breaker.last_error, breaker.last_latency_seconds) == ("HTTP 500", 0.25)
    breaker.record_success(0.125)
    assert (breaker.last_error, breaker.last_latency_seconds) == ("HTTP 500", 0.125)


def test_threshold_of_one_opens_on_the_first_failure(clock: FakeClock) -> None:
    opened(clock, threshold=1)


def test_rejects_a_threshold_below_one() -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker("cohort", failure_threshold=0)
