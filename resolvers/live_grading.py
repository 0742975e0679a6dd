"""Live grading: who is editing a class's gradebook (presence), cell locks, and the event
stream each editor subscribes to.

Locks and presence live in Redis (or memory, embedded) so that editors on different server
processes see each other; they coordinate people, while the grade versions kept by the
database are what guarantee that no change is lost (see `resolvers.grading`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from errors import Forbidden, Problem
from models.base import utcnow
from models.enums import Role
from resolvers import grading
from resolvers.ids import decode_id_of
from resolvers.policy import require_user
from subscriptions.bus import CONNECTION_ERRORS
from subscriptions.channels import gradebook_channel
from subscriptions.events import (
    GRADEBOOK_EVENTS,
    CellLocked,
    CellUnlocked,
    ClassTeachersChanged,
    ClientGradebookEvent,
    EditorsChanged,
    GradebookEvent,
)
from subscriptions.locks import CellLock

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

log = logging.getLogger(__name__)

T = TypeVar("T")
TAKEN_OFF = "You no longer teach this class: its gradebook is closed to you."


async def lock_cell(
    ctx: Context, student_global_id: str, assignment_global_id: str
) -> CellLock | list[Problem]:
    user = require_user(ctx)
    class_id, cell = await _cell(ctx, student_global_id, assignment_global_id)
    lock = await ctx.app.locks.acquire(class_id, cell, user.id, user.name)
    if lock.holder_id != user.id:
        return [Problem(f"{lock.holder_name} is editing this cell.", "CELL_LOCKED")]
    await ctx.bus.publish(gradebook_channel(class_id), CellLocked(lock=lock))
    return lock


async def unlock_cell(ctx: Context, student_global_id: str, assignment_global_id: str) -> bool:
    user = require_user(ctx)
    class_id, cell = await _cell(ctx, student_global_id, assignment_global_id)
    released = await ctx.app.locks.release(class_id, cell, user.id)
    if released:
        unlocked = CellUnlocked(student_id=cell[0], assignment_id=cell[1], at=utcnow())
        await ctx.bus.publish(gradebook_channel(class_id), unlocked)
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


class GradebookReader(Generic[T]):
    """What a gradebook subscription receives from the bus: a client's event as `convert` (the
    schema's) makes it, or ClassTeachersChanged as it is, which no client sees: the subscription
    checks it against its user (`gradebook_events`). The bus calls the reader once per event and
    process for every subscriber that shares it, so the schema makes one and passes it to all."""

    def __init__(self, convert: Callable[[ClientGradebookEvent], T]) -> None:
        self.convert = convert

    def __call__(self, event: GradebookEvent) -> T | ClassTeachersChanged:
        return event if isinstance(event, ClassTeachersChanged) else self.convert(event)


async def gradebook_events(
    ctx: Context, class_global_id: str, reader: GradebookReader[T]
) -> AsyncGenerator[T, None]:
    """The class's gradebook events while the caller is subscribed, from every process, each as
    `reader` makes it (once per event and process, see `EventBus.subscribe`); the first one is
    EditorsChanged with the current editors. Each event is resolved with fresh loaders: what it
    names (an assignment) is read as it is now, not as this connection first read it.

    A teacher taken off the class (ClassTeachersChanged without them) is refused at once: the
    subscription ends with FORBIDDEN. It subscribes to the bus before it checks access, so that
    a change committed after the check cannot go unseen.

    Subscribing makes the caller an editor (presence, renewed by a heartbeat); leaving, by
    unsubscribing or by the socket closing, removes them and releases their locks."""
    user = require_user(ctx)
    class_id = decode_id_of(class_global_id, "Class")
    presence = ctx.app.presence
    connection_id = uuid.uuid4().hex
    async with ctx.bus.subscribe(gradebook_channel(class_id), GRADEBOOK_EVENTS, reader) as events:
        ctx.fresh_loaders()  # the connection's loaders may predate a change of the class's teachers
        await grading.gradebook_access(ctx, class_id, edit=False)
        await presence.join(class_id, connection_id, user.id, user.name)
        ctx.app.presence_keeper.keep(class_id, connection_id)
        try:
            first = reader.convert(EditorsChanged(editors=await ctx.app.editors.current(class_id)))
            yield first
            # The editors as this subscriber last saw them: the announcement of its own join
            # (already sent as its first event) and any other repeat are not sent again.
            editors = first
            async for event in events:
                if isinstance(event, ClassTeachersChanged):
                    if not _still_reads(user, event):
                        raise Forbidden(TAKEN_OFF)
                    continue
                if type(event) is type(editors):
                    if event == editors:
                        continue
                    editors = event
                ctx.fresh_loaders()
                yield event
        finally:
            ctx.app.presence_keeper.drop(class_id, connection_id)
            await _leave(ctx, class_id, connection_id, user.id)


def _still_reads(user: CurrentUser, change: ClassTeachersChanged) -> bool:
    """`grading.gradebook_access` after a change of the class's teachers: its staff and admins
    read it whoever teaches it; a teacher only while among them."""
    return user.role != Role.TEACHER or user.id in change.teacher_ids


async def _leave(ctx: Context, class_id: int, connection_id: str, user_id: int) -> None:
    """Removes the editor and releases their locks; with Redis unreachable, their TTLs do it."""
    try:
        await ctx.app.presence.leave(class_id, connection_id)
        for lock in await ctx.app.locks.release_all(class_id, user_id):
            unlocked = CellUnlocked(student_id=lock.student_id, assignment_id=lock.assignment_id, at=utcnow())
            await ctx.bus.publish(gradebook_channel(class_id), unlocked)
    except CONNECTION_ERRORS as error:
        log.warning("leaving the gradebook of class %s: %s", class_id, type(error).__name__)
    ctx.app.editors.changed(class_id)
