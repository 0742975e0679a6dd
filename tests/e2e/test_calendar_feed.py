"""Calendar feeds from a real `server.py serve` process: the URL fetched without a bearer token,
as a calendar app does, parsed back with `icalendar`; rotation and tampering answer 404."""

from __future__ import annotations

from datetime import time
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.clients import post_graphql
from tests.contract.documents import contract_operation
from tests.factories import Factory
from tests.resolvers.test_calendars import MEETINGS, calendar_school, feed_events, meeting_rows

FEED_URL = contract_operation("CalendarFeedUrl")
ROTATE = contract_operation("RotateCalendarFeed")


async def test_a_real_server_serves_the_feed_and_rotation_ends_the_old_url(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await calendar_school(factory, session_factory, "north")
    server = start_server()
    student = factory.token(north.data.student)
    url = (await post_graphql(server.base_url, student, FEED_URL, {}))["calendarFeedUrl"]
    assert url.startswith(f"{server.base_url}/calendar/")  # the request's own origin: no PUBLIC_URL
    async with httpx.AsyncClient(timeout=10) as http:  # no Authorization header, ever
        response = await http.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/calendar")
        found = feed_events(response.content)
        assert meeting_rows(found) == MEETINGS  # one VEVENT per weekly meeting time, UNTIL the term's end
        assert len([e for e in found if e.weekly]) == 3

        token = url.rsplit("/", 1)[1].removesuffix(".ics")
        tampered = url.replace(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
        assert (await http.get(tampered)).status_code == 404

        rotated = await post_graphql(server.base_url, student, ROTATE, {"input": {"reason": "leaked"}})
        new_url = rotated["rotateCalendarFeed"]["url"]
        assert new_url != url
        assert (await http.get(url)).status_code == 404
        renewed = await http.get(new_url)
        assert renewed.status_code == 200
        assert meeting_rows(feed_events(renewed.content)) == MEETINGS


async def test_another_users_feed_never_holds_classes_they_do_not_have(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await calendar_school(factory, session_factory, "north")
    await factory.section(
        north.data,
        "History",
        room="H1",
        teachers=[north.data.admin],
        students=[north.data.other_student],
        meetings=[(1, time(11), time(12))],
    )
    server = start_server(PUBLIC_URL="https://api.campus.example/")
    token = factory.token(north.data.other_student)
    url = (await post_graphql(server.base_url, token, FEED_URL, {}))["calendarFeedUrl"]
    assert url.startswith("https://api.campus.example/calendar/")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        response = await http.get(url.removeprefix("https://api.campus.example"))
    assert response.status_code == 200
    summaries = {event.summary for event in feed_events(response.content)}
    assert summaries.isdisjoint({"Chemistry", "Biology", "Dropped Art", "Due: Lab report (Chemistry)"})
    assert summaries == {"History"}
