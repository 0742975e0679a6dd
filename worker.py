"""Background loops (dashboard refresh, notification outbox), each supervised.

A loop that raises something unexpected (a Redis MISCONF or OOM error, a bug) used to end for
good, unlogged, while /readyz said all was well. Here each loop runs under `supervise`: an
unexpected error is logged with its traceback, the loop starts again after a backoff that grows
while it keeps failing, and its `LoopHealth` says so to /readyz until the loop gets through an
iteration again (the loop calls `health.ok()` after each one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from context import AppState
from resolvers.dashboards import refresh_forever
from resolvers.notifications import deliver_forever

log = logging.getLogger("campusgraph.worker")

# Consecutive failures after which /readyz reports the loop.
FAILING_AFTER = 3


@dataclass
class LoopHealth:
    """How one loop is doing: consecutive failures and the last error, cleared by `ok()`."""

    name: str
    failures: int = 0
    last_error: str | None = None
    last_failure_at: float | None = field(default=None, repr=False)

    def ok(self) -> None:
        self.failures, self.last_error = 0, None

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        self.last_error = f"{type(error).__name__}: {error}"[:200]
        self.last_failure_at = time.time()

    @property
    def failing(self) -> bool:
        return self.failures >= FAILING_AFTER


Loop = Callable[[AppState, asyncio.Event, LoopHealth], Awaitable[None]]


async def supervise(
    name: str,
    loop: Loop,
    state: AppState,
    stop: asyncio.Event,
    health: LoopHealth,
    *,
    first_backoff: float = 0.5,
    max_backoff: float = 30.0,
) -> None:
    """Runs `loop` until `stop` is set, starting it again after any unexpected error: at once
    `first_backoff`, doubling with each failure in a row (a loop that got through an iteration
    since its last failure starts again from `first_backoff`), at most `max_backoff`."""
    while not stop.is_set():
        try:
            await loop(state, stop, health)
            return  # it ended because `stop` was set
        except Exception as error:
            health.failed(error)
            log.exception("background loop %s failed (%d in a row); restarting", name, health.failures)
        backoff = min(first_backoff * 2 ** (health.failures - 1), max_backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), backoff)


async def _refresh(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    await refresh_forever(state, stop=stop, health=health.ok)


async def _deliver(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    await deliver_forever(state, stop, health=health.ok)


LOOPS: dict[str, Loop] = {"dashboard-refresh": _refresh, "notification-outbox": _deliver}


class BackgroundWork:
    """The loops of one process (every `serve` process runs them; `server.py worker` runs only them)."""

    def __init__(self, state: AppState, loops: dict[str, Loop] | None = None) -> None:
        self.state = state
        self.loops = LOOPS if loops is None else loops
        self.health = {name: LoopHealth(name) for name in self.loops}
        self.stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(supervise(name, loop, self.state, self.stop, self.health[name]), name=name)
            for name, loop in self.loops.items()
        ]

    async def run(self) -> None:
        """Until cancelled (the worker command)."""
        self.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.close()

    async def close(self) -> None:
        """Lets each loop finish the job it is on (no database work cut off half-way)."""
        self.stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def readiness(self) -> str:
        """ "ok", or which loops keep failing and why (for /readyz)."""
        failing = [f"{h.name} ({h.failures}x: {h.last_error})" for h in self.health.values() if h.failing]
        return "failing: " + "; ".join(failing) if failing else "ok"
