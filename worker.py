"""Background loops (dashboard refresh, notification outbox, roster imports and exports, payment
reminders), each supervised.

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
from models.db import is_database_unavailable
from resolvers.announcements.publishing import DUE_BATCH, send_due
from resolvers.delivery.outbox import SEND_BATCH, deliver_due
from resolvers.finance.reminders import remind_every_school
from resolvers.notifications import DELIVERY_BATCH, deliver_pending
from resolvers.oneroster.claims import claim_next
from resolvers.oneroster.exporter import SWEEP_BATCH, delete_expired_exports
from resolvers.oneroster.importer import Interrupted, run_import
from resolvers.oneroster.progress import LeaseLost
from resolvers.student_dashboard import refresh
from subscriptions.bus import CONNECTION_ERRORS

log = logging.getLogger("campusgraph.worker")

# Consecutive failures after which /readyz reports the loop.
FAILING_AFTER = 3
REFRESH_BATCH = 50  # dashboards assembled together (the services take up to 100 students a call)
EXPORT_SWEEP_SECONDS = 60.0  # expired roster exports' files are deleted this often
REMINDER_SECONDS = 3600.0  # payment reminders are run this often


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


async def refresh_forever(
    app: AppState,
    *,
    stop: asyncio.Event | None = None,
    stale_every: float = 30.0,
    health: Callable[[], None] | None = None,
) -> None:
    """The student dashboards' refresh loop: takes queued dashboards in batches
    (resolvers.student_dashboard.refresh); every `stale_every` seconds it puts back the jobs of
    dead workers (expired leases) and queues the stale dashboards (so hot ones stay warm). While
    Redis is unreachable it waits and tries again; any other error ends it (`supervise` logs it
    and starts it again). `health` is called after each iteration that went through. Setting
    `stop` ends it between jobs, so that no database work is cut off half-way at shutdown."""
    stop = stop or asyncio.Event()
    last_sweep = -stale_every
    while not stop.is_set():
        try:
            if time.monotonic() - last_sweep >= stale_every:
                last_sweep = time.monotonic()
                await app.refresh_queue.recover()
                await app.refresh_queue.enqueue(await app.dashboards.stale_ids(limit=500))
            student_id = await _take_unless_stopped(app, stop)
            if student_id is not None:
                batch = [student_id, *await app.refresh_queue.take_more(REFRESH_BATCH - 1)]
                await refresh(app, batch)
                await app.refresh_queue.done(batch)
        except CONNECTION_ERRORS as error:
            log.warning("dashboard refresh paused, Redis unreachable: %s", type(error).__name__)
            await asyncio.sleep(1.0)
            continue
        if health is not None:
            health()


async def _take_unless_stopped(app: AppState, stop: asyncio.Event) -> int | None:
    """The next queued student, or None after a second or when `stop` is set."""
    take = asyncio.ensure_future(app.refresh_queue.take(wait_seconds=1))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({take, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not take.done():
        take.cancel()
        await asyncio.gather(take, return_exceptions=True)
        return None
    return take.result()


async def deliver_forever(
    app_state: AppState, stop: asyncio.Event, *, health: Callable[[], None] | None = None
) -> None:
    """The outbox loop of every serving process and of `server.py worker`: at once again while
    there is more, otherwise every second, until `stop` is set (see `_in_rounds`)."""
    await _in_rounds(
        lambda: deliver_pending(app_state, app_state.services), DELIVERY_BATCH, "notification delivery",
        stop, health, every=1.0,
    )  # fmt: skip


async def _in_rounds(
    work: Callable[[], Awaitable[int]],
    full: int,
    what: str,
    stop: asyncio.Event,
    health: Callable[[], None] | None,
    *,
    every: float,
) -> None:
    """Runs `work` (which says how many things it did) round after round until `stop` is set: at
    once again after a full round (`full`), otherwise after `every` seconds. A database outage
    pauses it (one line a round, not a traceback; /readyz reports the database); any other error
    ends it, for worker.py's supervisor to log and restart. `health` is called after each round
    that went through."""
    while not stop.is_set():
        try:
            done = await work()
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            log.warning("%s paused: the database is unavailable", what)
            done = 0
        else:
            if health is not None:
                health()
        if done < full:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)


async def import_rosters_forever(
    app_state: AppState,
    stop: asyncio.Event,
    *,
    health: Callable[[], None] | None = None,
    idle_seconds: float = 1.0,
) -> None:
    """The queued OneRoster imports, and those whose run died (resolvers/oneroster/claims.py), one
    at a time: each claimed with a conditional UPDATE, so an import runs in exactly one of the
    processes polling. Setting `stop` puts a running import back in the queue at its next batch
    (another process runs it again; imports are idempotent); a run that another worker took over
    (LeaseLost) just ends. A database outage pauses the loop, as the outbox's."""
    while not stop.is_set():
        try:
            import_id = await claim_next(app_state)
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            log.warning("roster imports paused: the database is unavailable")
            import_id = None
        if import_id is not None:
            with contextlib.suppress(Interrupted, LeaseLost):
                await run_import(app_state, import_id, stop=stop)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), idle_seconds)
        if health is not None:
            health()


async def sweep_exports_forever(
    app_state: AppState,
    stop: asyncio.Event,
    *,
    health: Callable[[], None] | None = None,
    every: float = EXPORT_SWEEP_SECONDS,
) -> None:
    """Deletes the roster exports whose links have expired (resolvers/oneroster/exporter.py):
    at once again while there are more than a sweep takes, otherwise every `every` seconds, until
    `stop` is set (see `_in_rounds`)."""
    await _in_rounds(
        lambda: delete_expired_exports(app_state),
        SWEEP_BATCH,
        "roster export sweep",
        stop,
        health,
        every=every,
    )


async def remind_payments_forever(
    app_state: AppState,
    stop: asyncio.Event,
    *,
    health: Callable[[], None] | None = None,
    every: float = REMINDER_SECONDS,
) -> None:
    """Runs the payment reminder rules of every school as of now (resolvers/finance/reminders.py),
    at once and then every `every` seconds, until `stop` is set (see `_in_rounds`). Every process
    runs it: a reminder is sent once however many runs find it due."""

    async def every_school() -> int:
        await remind_every_school(app_state)
        return 0  # a round does every school: the next one is `every` seconds away

    await _in_rounds(every_school, 1, "payment reminders", stop, health, every=every)


async def _refresh(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    await refresh_forever(state, stop=stop, health=health.ok)


async def _deliver(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    await deliver_forever(state, stop, health=health.ok)


async def _send_deliveries(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    """The e-mail/SMS outbox (resolvers/delivery/outbox.py), in rounds like the notification outbox."""
    await _in_rounds(
        lambda: deliver_due(state), SEND_BATCH, "e-mail and SMS delivery", stop, health.ok, every=1.0
    )


async def _send_scheduled(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    """Scheduled announcements whose time came (resolvers/announcements/publishing.py), every 5 s."""
    await _in_rounds(
        lambda: send_due(state), DUE_BATCH, "scheduled announcements", stop, health.ok, every=5.0
    )


async def _remind_payments(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    await remind_payments_forever(state, stop, health=health.ok)


async def _import_rosters(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    await import_rosters_forever(state, stop, health=health.ok)


async def _sweep_exports(state: AppState, stop: asyncio.Event, health: LoopHealth) -> None:
    await sweep_exports_forever(state, stop, health=health.ok)


LOOPS: dict[str, Loop] = {
    "dashboard-refresh": _refresh,
    "notification-outbox": _deliver,
    "deliveries": _send_deliveries,
    "scheduled-announcements": _send_scheduled,
    "roster-imports": _import_rosters,
    "roster-export-sweep": _sweep_exports,
    "payment-reminders": _remind_payments,
}


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
