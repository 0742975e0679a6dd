"""Live grading: who is editing a class's gradebook (presence), cell locks, and the event
stream each editor subscribes to.

Locks and presence live in Redis (or memory, embedded) so that editors on different server
processes see each other; they coordinate people, while the grade versions kept by the
database are what guarantee that no change is lost (see `resolvers.grading`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from models.base import utcnow
from resolvers import grading
from resolvers.ids import decode_id_of
from resolvers.policy import require_user
from resolvers.problems import Problem
from subscriptions.bus import CONNECTION_ERRORS, EventBus
from subscriptions.channels import gradebook_channel
from subscriptions.locks import CellLock
from subscriptions.presence import Editor, Presence

if TYPE_CHECKING:
    from context import Context

log = logging.getLogger(__name__)

T = TypeVar("T")


async def lock_cell(
    ctx: Context, student_global_id: str, assignment_global_id: str
) -> CellLock | list[Problem]:
    user = require_user(ctx)
    class_id, cell = await _cell(ctx, student_global_id, assignment_global_id)
    lock = await ctx.app.locks.acquire(class_id, cell, user.id, user.name)
    if lock.holder_id != user.id:
        return [Problem(f"{lock.holder_name} is editing this cell.", "CELL_LOCKED")]
    await ctx.bus.publish(gradebook_channel(class_id), lock_event("CellLocked", lock))
    return lock


async def unlock_cell(ctx: Context, student_global_id: str, assignment_global_id: str) -> bool:
    user = require_user(ctx)
    class_id, cell = await _cell(ctx, student_global_id, assignment_global_id)
    released = await ctx.app.locks.release(class_id, cell, user.id)
    if released:
        await ctx.bus.publish(
            gradebook_channel(class_id),
            {
                "type": "CellUnlocked",
                "studentId": cell[0],
                "assignmentId": cell[1],
                "at": utcnow().isoformat(),
            },
        )
    return released


async def focus_cell(ctx: Context, student_global_id: str, assignment_global_id: str) -> list[Problem]:
    user = require_user(ctx)
    class_id, cell = await _cell(ctx, student_global_id, assignment_global_id, edit=False)
    if not await ctx.app.presence.focus(class_id, user.id, cell):
        return [
            Problem("Open the gradebook (subscribe to its events) before moving the cursor.", "NOT_EDITING")
        ]
    ctx.app.editors.changed(class_id)
    return []


async def _cell(
    ctx: Context, student_global_id: str, assignment_global_id: str, *, edit: bool = True
) -> tuple[int, tuple[int, int]]:
    student_id = decode_id_of(student_global_id, "Student")
    assignment = await grading.assignment_of(ctx, decode_id_of(assignment_global_id, "Assignment"))
    await grading.gradebook_access(ctx, assignment.class_id, edit=edit)
    return assignment.class_id, (student_id, assignment.id)


def lock_event(kind: str, lock: CellLock) -> dict[str, Any]:
    return {
        "type": kind,
        "studentId": lock.student_id,
        "assignmentId": lock.assignment_id,
        "holder": {"id": lock.holder_id, "name": lock.holder_name},
        "expiresAt": lock.expires_at.isoformat(),
    }


def editors_payload(editors: list[Editor]) -> list[dict[str, Any]]:
    """One entry per user (a user may have several tabs open), in name order."""
    by_user: dict[int, dict[str, Any]] = {}
    for editor in editors:
        entry = by_user.setdefault(editor.user_id, {"id": editor.user_id, "name": editor.name, "focus": None})
        entry["focus"] = entry["focus"] or (list(editor.focus) if editor.focus else None)
    return list(by_user.values())


class EditorsAnnouncer:
    """Tells a class's subscribers who is editing it (EditorsChanged), without a join storm.

    Announcing after every join, leave and cursor move cost N^2/2 deliveries for N joins. Here
    those only mark the class as changed; then, in each process, one task per class reads the
    presence at most once per `interval` (and always after the last change of a burst) and
    publishes EditorsChanged only when the editors (users and their focus) differ from the last
    ones any process announced. A subscriber gets the editors of the first read after its join
    directly, as its first event (`current`), so N tabs of one user announce nothing new.
    """

    def __init__(self, presence: Presence, bus: EventBus, interval: float) -> None:
        self._presence = presence
        self._bus = bus
        self._interval = interval
        self._changed: set[int] = set()
        self._waiting: dict[int, list[asyncio.Future[list[dict[str, Any]]]]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._last_read: dict[int, float] = {}

    def changed(self, class_id: int) -> None:
        self._changed.add(class_id)
        if class_id not in self._tasks:
            self._tasks[class_id] = asyncio.create_task(self._run(class_id), name=f"editors-of-{class_id}")

    async def current(self, class_id: int) -> list[dict[str, Any]]:
        """The editors as read after this call (so with a join just made), announced if new."""
        read: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(class_id, []).append(read)
        self.changed(class_id)
        return await read

    async def close(self) -> None:
        """Announces the changes still waiting for their interval (the leaves of a shutdown)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for class_id in list(self._changed):
            await self._announce(class_id)

    async def _run(self, class_id: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            while class_id in self._changed:
                wait = self._last_read.get(class_id, -self._interval) + self._interval - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._last_read[class_id] = loop.time()
                await self._announce(class_id)
        finally:
            del self._tasks[class_id]

    async def _announce(self, class_id: int) -> None:
        self._changed.discard(class_id)
        waiting = self._waiting.pop(class_id, [])
        try:
            editors = editors_payload(await self._presence.editors(class_id))
        except CONNECTION_ERRORS as error:
            log.warning("presence of class %s unreadable: %s", class_id, type(error).__name__)
            editors = []
        except BaseException:  # cancelled (shutdown) or a bug: the subscribers waiting must not hang
            for read in waiting:
                read.cancel()
            raise
        for read in waiting:
            if not read.done():
                read.set_result(editors)
        try:
            new = await self._presence.announce(class_id, orjson.dumps(editors))
        except CONNECTION_ERRORS:
            new = True
        if new:
            await self._bus.publish(
                gradebook_channel(class_id), {"type": "EditorsChanged", "editors": editors}
            )


async def gradebook_events(
    ctx: Context, class_global_id: str, convert: Callable[[dict[str, Any]], T | None]
) -> AsyncIterator[T]:
    """The class's gradebook events while the caller is subscribed, from every process, each as
    `convert` makes it (once per event and process, see `EventBus.subscribe`); the first one is
    EditorsChanged with the current editors.

    Subscribing makes the caller an editor (presence, renewed by a heartbeat); leaving, by
    unsubscribing or by the socket closing, removes them and releases their locks."""
    user = require_user(ctx)
    class_id = decode_id_of(class_global_id, "Class")
    await grading.gradebook_access(ctx, class_id, edit=False)
    presence = ctx.app.presence
    connection_id = uuid.uuid4().hex
    async with ctx.bus.subscribe(gradebook_channel(class_id), convert) as events:
        await presence.join(class_id, connection_id, user.id, user.name)
        ctx.app.presence_keeper.keep(class_id, connection_id)
        try:
            first = convert({"type": "EditorsChanged", "editors": await ctx.app.editors.current(class_id)})
            if first is not None:
                yield first
            # The editors as this subscriber last saw them: the announcement of its own join
            # (already sent as its first event) and any other repeat are not sent again.
            editors = first
            async for event in events:
                if editors is not None and type(event) is type(editors):
                    if event == editors:
                        continue
                    editors = event
                yield event
        finally:
            ctx.app.presence_keeper.drop(class_id, connection_id)
            await _leave(ctx, class_id, connection_id, user.id)


async def _leave(ctx: Context, class_id: int, connection_id: str, user_id: int) -> None:
    """Removes the editor and releases their locks; with Redis unreachable, their TTLs do it."""
    try:
        await ctx.app.presence.leave(class_id, connection_id)
        for lock in await ctx.app.locks.release_all(class_id, user_id):
            unlocked = {
                "type": "CellUnlocked",
                "studentId": lock.student_id,
                "assignmentId": lock.assignment_id,
                "at": utcnow().isoformat(),
            }
            await ctx.bus.publish(gradebook_channel(class_id), unlocked)
    except CONNECTION_ERRORS as error:
        log.warning("leaving the gradebook of class %s: %s", class_id, type(error).__name__)
    ctx.app.editors.changed(class_id)
