"""A circuit breaker per microservice, so a service that keeps failing stops costing a timeout per call.

    CLOSED --(N consecutive failures)--> OPEN --(cool-down over)--> HALF_OPEN (one probe)
    HALF_OPEN --(probe succeeds)--> CLOSED      HALF_OPEN --(probe fails)--> OPEN

The state lives in the process: each server process learns on its own that a service is down
(after N failed calls of its own), which costs a few calls per process and needs no Redis.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Seconds from an arbitrary origin, like `time.monotonic` (the default); tests pass a fake one."""


class BreakerState(enum.Enum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitBreaker:
    """Decides whether a call may go out (`allow_request`) and learns from its outcome (`record_*`)."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 3,
        cool_down_seconds: float = 30.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.cool_down_seconds = cool_down_seconds
        self._clock = clock
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self.last_error: str | None = None
        self.last_latency_seconds: float | None = None

    @property
    def state(self) -> BreakerState:
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    def allow_request(self) -> bool:
        """True when a call may go out now; after the cool-down, True once (the probe)."""
        if self._state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if now - self._opened_at < self.cool_down_seconds:
            return False
        # Restarting the cool-down with the probe keeps everyone else waiting for its outcome,
        # and frees the slot for a new probe if this one never reports back (its caller was
        # cancelled) instead of leaving the breaker half-open for good.
        self._state = BreakerState.HALF_OPEN
        self._opened_at = now
        log.info("circuit of %s half-open: probing", self.name)
        return True

    def record_success(self, latency_seconds: float) -> None:
        self.last_latency_seconds = latency_seconds
        if self._state is BreakerState.OPEN:
            return  # a call that left before the circuit opened proves nothing about now
        if self._state is BreakerState.HALF_OPEN:
            log.info("circuit of %s closed: the probe succeeded", self.name)
        self._state = BreakerState.CLOSED
        self._consecutive_failures = 0

    def record_failure(self, error: str, latency_seconds: float) -> None:
        self.last_error = error
        self.last_latency_seconds = latency_seconds
        if self._state is BreakerState.OPEN:
            return  # late news from calls that left before it opened; keep the cool-down as it is
        self._consecutive_failures += 1
        if self._state is BreakerState.HALF_OPEN or self._consecutive_failures >= self.failure_threshold:
            self._state = BreakerState.OPEN
            self._opened_at = self._clock()
            log.warning(
                "circuit of %s open for %g s after %d failure(s): %s",
                self.name,
                self.cool_down_seconds,
                self._consecutive_failures,
                error,
            )
