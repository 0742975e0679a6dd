"""EditorsChanged: announced at the start and at the end of a burst of changes, and only when
the editors (users and their focus) differ from the last ones announced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from models.base import utcnow
from subscriptions.bus import EventBus
from subscriptions.channels import gradebook_channel
from subscriptions.editors import EditorsAnnouncer
from subscriptions.events import (
    GRADEBOOK_EVENTS,
    EditorEntry,
    EditorsChanged,
    FinalGradesCalculated,
    GradebookEvent,
)
from subscriptions.presence import MemoryPresence

WAIT = 5.0


async def announced(events: AsyncIterator[GradebookEvent], bus: EventBus) -> list[list[str]]:
    """The editors' names in each EditorsChanged on the class channel since the last call."""
    await bus.publish(gradebook_channel(1), FinalGradesCalculated(class_id=1, at=utcnow()))  # a marker
    names = []
    while isinstance(event := await asyncio.wait_for(anext(events), WAIT), EditorsChanged):
        names.append([editor.name for editor in event.editors])
    assert isinstance(event, FinalGradesCalculated), event
    return names


async def test_a_burst_is_announced_at_its_start_and_end_and_a_non_change_not_at_all() -> None:
    bus, presence = EventBus(None), MemoryPresence()
    await bus.connect()
    # No second announcement can be due within the test: only close() gives the burst's end.
    announcer = EditorsAnnouncer(presence, bus, interval=600)
    try:
        async with bus.subscribe(gradebook_channel(1), GRADEBOOK_EVENTS) as events:
            everyone = [f"Editor {n:02}" for n in range(20)]
            for n, name in enumerate(everyone):
                await presence.join(1, f"connection {n}", n, name)
                announcer.changed(1)
                await asyncio.sleep(0)
            await announcer.close()
            first, last = await announced(events, bus)
            assert first == everyone[: len(first)]
            assert last == everyone

            await presence.join(1, "another tab", 0, everyone[0])  # the same editors
            joiners_view = asyncio.create_task(announcer.current(1))
            await asyncio.sleep(0)
            await announcer.close()
            assert await joiners_view == tuple(
                EditorEntry(user_id=n, name=name, focus=None) for n, name in enumerate(everyone)
            )
            assert await announced(events, bus) == []

            await presence.focus(1, 0, (5, 6))  # a cursor moved: news
            announcer.changed(1)
            await announcer.close()
            assert await announced(events, bus) == [everyone]
    finally:
        await announcer.close()
        await bus.disconnect()
