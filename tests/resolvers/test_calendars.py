"""Calendar feeds through the contract's operations: the URL, its rotation, the events, and the
iCalendar document the URL serves (parsed back with `icalendar`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Assignment, AuditEntry, CalendarFeed, Class, Enrollment, GuardianLink, School, User
from models.enums import AssignmentCategory, EnrollmentStatus, SessionStatus, UserStatus
from resolvers.calendars import FeedToken, sign_token
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData, book_session
from tests.statements import statements

FEED_URL = contract_operation("CalendarFeedUrl")
EVENTS = contract_operation("CalendarEvents")
ROTATE = contract_operation("RotateCalendarFeed")
ZONE = "America/New_York"
PROJECT = AssignmentCategory.PROJECT
FALL_ENDS = date(2027, 1, 31)  # the factory's Fall term (current on 2026-12-02)
WEEK = {"from": "2026-12-07T00:00:00-05:00", "to": "2026-12-14T00:00:00-05:00"}  # Mon to Mon


@dataclass
class CalendarSchool:
    data: SchoolData
    chemistry: Class  # Fall, co-taught by teacher and other_teacher, student ACTIVE in it
    spring: Class  # the next term, student ACTIVE
    old: Class  # a past term: never in a feed
    later: Class  # the term after next: never in a feed
    dropped: Class  # Fall, student DROPPED


async def calendar_school(
    factory: Factory, session_factory: async_sessionmaker[AsyncSession], slug: str
) -> CalendarSchool:
    """A school in New York time with the factory's people and a term each side of Fall."""
    data = await factory.school(slug)
    async with session_factory.begin() as session:
        await session.execute(update(School).where(School.id == data.school.id).values(timezone=ZONE))
    spring = await factory.term(data, "Spring", date(2027, 2, 1), date(2027, 6, 15))
    old = await factory.term(data, "Old", date(2026, 1, 10), date(2026, 6, 1))
    later = await factory.term(data, "Later", date(2027, 9, 1), date(2028, 1, 31))
    monday_wednesday = [(0, time(9), time(9, 50)), (2, time(13), time(14, 15))]
    student = [data.student]
    made = CalendarSchool(
        data=data,
        chemistry=await factory.section(data, "Chemistry", room="Lab 2", meetings=monday_wednesday,
                                        teachers=[data.other_teacher, data.teacher], students=student),
        spring=await factory.section(data, "Biology", term_id=spring.id, room="B1",
                                     meetings=[(4, time(10), time(11))], students=student),
        old=await factory.section(data, "Old Latin", term_id=old.id, room="L1",
                                  meetings=[(1, time(8), time(9))], students=student),
        later=await factory.section(data, "Later Physics", term_id=later.id, room="P1",
                                    meetings=[(1, time(8), time(9))], students=student),
        dropped=await factory.section(data, "Dropped Art", room="A1",
                                      meetings=[(3, time(8), time(9))], students=student),
    )  # fmt: skip
    async with session_factory.begin() as session:
        await session.execute(
            update(Enrollment)
            .where(Enrollment.class_id == made.dropped.id)
            .values(status=EnrollmentStatus.DROPPED)
        )
        session.add_all(
            [
                Assignment(class_id=made.chemistry.id, title="Lab report", category=PROJECT, max_score=10,
                           due_at=datetime(2026, 12, 9, 22, tzinfo=UTC), description="Two pages"),
                Assignment(class_id=made.chemistry.id, title="Draft", category=PROJECT,
                           max_score=10, due_at=datetime(2026, 12, 9, 22, tzinfo=UTC), published=False),
                Assignment(class_id=made.chemistry.id, title="Gone", category=PROJECT,
                           max_score=10, due_at=datetime(2026, 12, 9, 22, tzinfo=UTC),
                           archived_at=datetime(2026, 12, 1, tzinfo=UTC)),
                Assignment(class_id=made.dropped.id, title="Sketch", category=PROJECT,
                           max_score=10, due_at=datetime(2026, 12, 9, 22, tzinfo=UTC)),
            ]
        )  # fmt: skip
    await book_session(session_factory, data, datetime(2026, 12, 10, 20, tzinfo=UTC), room="T9")
    await book_session(session_factory, data, datetime(2026, 12, 11, 20, tzinfo=UTC),
                       status=SessionStatus.CANCELLED)  # fmt: skip
    return made


@pytest.fixture
async def north(factory: Factory, session_factory: async_sessionmaker[AsyncSession]) -> CalendarSchool:
    return await calendar_school(factory, session_factory, "north")


async def feed_url(client: GraphQLClient) -> str:
    url: str = (await client.data(FEED_URL))["calendarFeedUrl"]
    return url


async def events(client: GraphQLClient, window: dict[str, Any] = WEEK) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await client.data(EVENTS, window))["calendarEvents"]
    return found


async def fetch(http: httpx.AsyncClient, url: str) -> httpx.Response:
    return await http.get(url.removeprefix("http://campus.test"))


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(ZONE))


@dataclass(frozen=True)
class FeedEvent:
    """A VEVENT as read back by `icalendar`; `weekly`: its RRULE's (FREQ, UNTIL), if any."""

    uid: str
    summary: str
    location: str | None
    starts: datetime
    ends: datetime | None
    tzid: str | None
    weekly: tuple[str, datetime] | None


def feed_events(document: bytes) -> list[FeedEvent]:
    """The VEVENTs of a feed, parsed back (the document must parse as RFC 5545)."""
    found = []
    for event in icalendar.Calendar.from_ical(document).walk("VEVENT"):
        fields: Any = event
        rule = fields.get("RRULE")
        found.append(
            FeedEvent(
                uid=str(fields["UID"]),
                summary=str(fields["SUMMARY"]),
                location=str(fields["LOCATION"]) if "LOCATION" in fields else None,
                starts=fields.decoded("DTSTART"),
                ends=fields.decoded("DTEND") if "DTEND" in fields else None,
                tzid=fields["DTSTART"].params.get("TZID"),
                weekly=(rule["FREQ"][0], rule["UNTIL"][0]) if rule else None,
            )
        )
    return found


def meeting_rows(found: list[FeedEvent], zone: str = ZONE) -> list[tuple[Any, ...]]:
    """The weekly events: summary, location, first start and end, FREQ and UNTIL's local day."""
    return sorted(
        (e.summary, e.location, e.starts, e.ends, e.weekly[0], e.weekly[1].astimezone(ZoneInfo(zone)).date())
        for e in found
        if e.weekly
    )


MEETINGS = [
    ("Biology", "B1", local(2027, 2, 5, 10), local(2027, 2, 5, 11), "WEEKLY", date(2027, 6, 15)),
    ("Chemistry", "Lab 2", local(2026, 9, 2, 13), local(2026, 9, 2, 14, 15), "WEEKLY", FALL_ENDS),
    ("Chemistry", "Lab 2", local(2026, 9, 7, 9), local(2026, 9, 7, 9, 50), "WEEKLY", FALL_ENDS),
]


async def test_the_feed_is_rfc_5545_with_the_weekly_class_meetings_of_the_current_and_next_terms(
    gql: GraphQLClient, http: httpx.AsyncClient, factory: Factory, north: CalendarSchool
) -> None:
    url = await feed_url(gql.as_user(factory.token(north.data.student)))
    assert url.startswith("http://campus.test/calendar/")
    assert url.endswith(".ics")
    response = await fetch(http, url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    lines = response.content.split(b"\r\n")
    assert len(lines) > 20
    assert max(len(line) for line in lines) <= 75
    calendar: Any = icalendar.Calendar.from_ical(response.content)
    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    assert calendar["X-WR-CALNAME"] == "CampusGraph: Student of north"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [ZONE]
    found = feed_events(response.content)
    assert meeting_rows(found) == MEETINGS
    assert {e.tzid for e in found if e.weekly} == {ZONE}
    others = {e.summary: e for e in found if not e.weekly}
    assert set(others) == {"Due: Lab report (Chemistry)", "Tutoring with Teacher of north"}
    tutoring = others["Tutoring with Teacher of north"]
    assert (tutoring.starts, tutoring.location) == (datetime(2026, 12, 10, 20, tzinfo=UTC), "T9")
    assert others["Due: Lab report (Chemistry)"].ends is None  # an instant
    uids = [e.uid for e in found]
    assert len(set(uids)) == len(uids)
    assert uids == [e.uid for e in feed_events((await fetch(http, url)).content)]


async def test_the_url_stays_the_same_and_concurrent_first_asks_make_one_feed(
    gql: GraphQLClient,
    factory: Factory,
    north: CalendarSchool,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = gql.as_user(factory.token(north.data.teacher))
    urls = await asyncio.gather(*(feed_url(client) for _ in range(5)))
    assert len(set(urls)) == 1
    assert await feed_url(client) == urls[0]
    async with session_factory() as session:
        feeds = (await session.scalars(select(CalendarFeed))).all()
    assert [(feed.user_id, feed.version) for feed in feeds] == [(north.data.teacher.id, 1)]


async def test_rotating_ends_the_old_url_and_is_audited(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    factory: Factory,
    north: CalendarSchool,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = gql.as_user(factory.token(north.data.student))
    old = await feed_url(client)
    payload = (await client.data(ROTATE, {"input": {"reason": "shared by mistake"}}))["rotateCalendarFeed"]
    assert payload["userErrors"] == []
    assert payload["url"] != old
    assert await feed_url(client) == payload["url"]
    assert (await fetch(http, old)).status_code == 404
    assert (await fetch(http, payload["url"])).status_code == 200
    async with session_factory() as session:
        entries = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar_feed.rotate"))
        ).all()
    assert [(e.actor_id, e.subject_id, e.detail) for e in entries] == [
        (north.data.student.id, north.data.student.id, {"version": 2, "reason": "shared by mistake"})
    ]


async def test_a_too_long_reason_is_a_user_error_and_rotates_nothing(
    gql: GraphQLClient, http: httpx.AsyncClient, factory: Factory, north: CalendarSchool
) -> None:
    client = gql.as_user(factory.token(north.data.student))
    url = await feed_url(client)
    payload = (await client.data(ROTATE, {"input": {"reason": "x" * 501}}))["rotateCalendarFeed"]
    assert payload["url"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", "reason"], "INVALID")]
    assert (await fetch(http, url)).status_code == 200


async def test_tampered_unknown_and_deactivated_tokens_answer_404(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    factory: Factory,
    north: CalendarSchool,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    url = await feed_url(gql.as_user(factory.token(north.data.student)))
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    payload, signature = token.split(".")
    tampered = f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    other_user = sign_token(factory.settings, FeedToken(north.data.other_student.id, 1))  # never asked
    future = sign_token(factory.settings, FeedToken(north.data.student.id, 2))
    for bad in (tampered, other_user, future, "nonsense"):
        response = await http.get(f"/calendar/{bad}.ics")
        assert response.status_code == 404, bad
    assert (await fetch(http, url)).status_code == 200
    async with session_factory.begin() as session:
        await session.execute(
            update(User).where(User.id == north.data.student.id).values(status=UserStatus.DEACTIVATED)
        )
    assert (await fetch(http, url)).status_code == 404


async def test_events_of_a_week_expand_the_meetings_by_start(
    gql: GraphQLClient, factory: Factory, north: CalendarSchool
) -> None:
    found = await events(gql.as_user(factory.token(north.data.student)))
    assert [(e["kind"], e["title"], e["startsAt"], e["endsAt"], e["location"]) for e in found] == [
        ("CLASS_MEETING", "Chemistry", "2026-12-07T14:00:00+00:00", "2026-12-07T14:50:00+00:00", "Lab 2"),
        ("CLASS_MEETING", "Chemistry", "2026-12-09T18:00:00+00:00", "2026-12-09T19:15:00+00:00", "Lab 2"),
        ("ASSIGNMENT_DUE", "Due: Lab report (Chemistry)", "2026-12-09T22:00:00+00:00",
         "2026-12-09T22:00:00+00:00", None),
        ("TUTORING_SESSION", "Tutoring with Teacher of north", "2026-12-10T20:00:00+00:00",
         "2026-12-10T21:00:00+00:00", "T9"),
    ]  # fmt: skip
    assert found[0]["uid"] != found[1]["uid"]  # Monday's and Wednesday's meetings
    fortnight = await events(
        gql.as_user(factory.token(north.data.student)), {**WEEK, "to": "2026-12-21T00:00:00Z"}
    )
    meetings = [e["uid"] for e in fortnight if e["kind"] == "CLASS_MEETING"]
    assert len(meetings) == 4
    assert {meetings.count(uid) for uid in meetings} == {2}  # a meeting's occurrences share its uid
    assert found[0]["class"]["title"] == "Chemistry"
    assert found[3]["class"] is None
    assert {e["allDay"] for e in found} == {False}
    only = await events(gql.as_user(factory.token(north.data.student)), {**WEEK, "kinds": ["ASSIGNMENT_DUE"]})
    assert [e["title"] for e in only] == ["Due: Lab report (Chemistry)"]
    assert (
        await events(gql.as_user(factory.token(north.data.student)), {**WEEK, "kinds": ["LESSON_PLAN"]}) == []
    )


async def test_whose_classes_each_role_sees(
    gql: GraphQLClient,
    factory: Factory,
    north: CalendarSchool,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    south = await calendar_school(factory, session_factory, "south")
    async with session_factory.begin() as session:  # a guardian's link across schools gives nothing
        session.add(GuardianLink(guardian_id=north.data.guardian.id, student_id=south.data.student.id))

    async def titles(user: User) -> set[str]:
        return {e["title"] for e in await events(gql.as_user(factory.token(user)))}

    data = north.data
    assert await titles(data.teacher) == {  # they teach Dropped Art, which the student dropped
        "Chemistry",
        "Due: Lab report (Chemistry)",
        "Dropped Art",
        "Due: Sketch (Dropped Art)",
        "Tutoring of Student of north",
    }
    assert await titles(data.other_teacher) == {"Chemistry", "Due: Lab report (Chemistry)"}  # co-taught
    assert await titles(data.guardian) == {"Chemistry", "Due: Lab report (Chemistry)"}
    for nobody in (data.staff, data.admin, data.mentor, data.other_student):
        assert await titles(nobody) == set(), nobody.name
    assert "Chemistry" in await titles(south.data.student)


async def test_window_rules_and_sign_in_are_enforced(
    gql: GraphQLClient, factory: Factory, north: CalendarSchool
) -> None:
    client = gql.as_user(factory.token(north.data.student))
    for window in (
        {"from": "2026-12-01T00:00:00Z", "to": "2027-03-15T00:00:00Z"},  # 104 days
        {"from": "2026-12-14T00:00:00Z", "to": "2026-12-07T00:00:00Z"},
    ):
        result = await client.execute(EVENTS, window)
        assert result["data"] is None
        assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for operation, variables in ((FEED_URL, {}), (EVENTS, WEEK), (ROTATE, {"input": {}})):
        result = await gql.execute(operation, variables)
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_statements_do_not_grow_with_the_classes(
    metered: httpx.AsyncClient, factory: Factory, north: CalendarSchool
) -> None:
    student = north.data.student
    token = factory.token(student)
    window = {"from": "2026-11-01T00:00:00Z", "to": "2027-01-31T00:00:00Z"}
    few = await statements(metered, token, EVENTS, window)
    for n in range(4):
        await factory.section(north.data, f"Extra {n}", room=f"E{n}", students=[student],
                              meetings=[(n, time(15), time(16))])  # fmt: skip
    assert await statements(metered, token, EVENTS, window) == few <= 8
    found = await events(GraphQLClient(metered, token), window)
    assert len({e["title"] for e in found if e["title"].startswith("Extra")}) == 4
