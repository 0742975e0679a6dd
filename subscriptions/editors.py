"""Who is editing a class's gradebook, announced to its subscribers (EditorsChanged)."""

from __future__ import annotations

import asyncio
import logging

from subscriptions.bus import CONNECTION_ERRORS, EventBus
from subscriptions.channels import gradebook_channel
from subscriptions.events import EditorEntry, EditorsChanged
from subscriptions.presence import Editor, Presence

log = logging.getLogger(__name__)

Editors = tuple[EditorEntry, ...]


def editor_entries(editors: list[Editor]) -> Editors:
    """One entry per user (a user may have several tabs open), in the order of `editors`; the
    focus is that of the user's first connection that has one."""
    by_user: dict[int, EditorEntry] = {}
    for editor in editors:
        entry = by_user.get(editor.user_id)
        if entry is None or (entry.focus is None and editor.focus is not None):
            by_user[editor.user_id] = EditorEntry(
                user_id=editor.user_id, name=editor.name, focus=editor.focus
            )
    return tuple(by_user.values())


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
        self._waiting: dict[int, list[asyncio.Future[Editors]]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._last_read: dict[int, float] = {}

    def changed(self, class_id: int) -> None:
        self._changed.add(class_id)
        if class_id not in self._tasks:
            self._tasks[class_id] = asyncio.create_task(self._run(class_id), name=f"editors-of-{class_id}")

    async def current(self, class_id: int) -> Editors:
        """The editors as read after this call (so with a join just made), announced if new."""
        read: asyncio.Future[Editors] = asyncio.get_running_loop().create_future()
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
            editors = editor_entries(await self._presence.editors(class_id))
        except CONNECTION_ERRORS as error:
            log.warning("presence of class %s unreadable: %s", class_id, type(error).__name__)
            editors = ()
        except BaseException:  # cancelled (shutdown) or a bug: the subscribers waiting must not hang
            for read in waiting:
                read.cancel()
            raise
        for read in waiting:
            if not read.done():
                read.set_result(editors)
        event = EditorsChanged(editors=editors)
        try:
            new = await self._presence.announce(class_id, event.model_dump_json().encode())
        except CONNECTION_ERRORS:
            new = True
        if new:
            await self._bus.publish(gradebook_channel(class_id), event)
