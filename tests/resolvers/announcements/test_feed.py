"""The recipients' side through the contract: the feed (pages, unread, category, a guardian's
ward), markAnnouncementsRead (with the in-app notifications) and announcementPublished."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.identity import CurrentUser
from context import AppState, Context
from models import Communication, GuardianLink, Notification, User
from models.base import utcnow
from models.enums import CommunicationChannel, NotificationCategory
from models.preferences import NotificationSwitch
from resolvers.announcements.publishing import send_due
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.announcements.helpers import (
    FEED,
    MARK_READ,
    PUBLISHED,
    audit_actions,
    class_audience,
    created,
    error_codes,
    new_announcement,
    publish,
    sent,
)
from web.graphql import GraphQLApp

WAIT = 5.0
MARK_NOTIFICATIONS_READ = contract_operation("MarkNotificationsRead")


async def feed(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await client.data(FEED, variables))["announcements"]
    return page


async def mark_read(client: GraphQLClient, **input: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(MARK_READ, {"input": input}))["markAnnouncementsRead"]
    return payload


async def test_the_feed_shows_the_callers_copies_newest_first_as_delivered_to_them(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    staff = gql.as_user(factory.token(north.staff))
    first = await sent(
        teacher, new_announcement(class_audience(north.klass.id), body="Hi {{recipient.firstName}}")
    )
    second = await sent(staff, new_announcement({"scope": "SCHOOL"}, title="Drill", category="SAFETY"))
    await sent(staff, new_announcement({"scope": "SCHOOL", "includeStudents": False, "includeStaff": True}))

    student = gql.as_user(factory.token(north.student))
    page = await feed(student)
    assert (page["totalCount"], page["unreadCount"]) == (2, 2)
    assert [node["announcement"]["id"] for node in page["nodes"]] == [second["id"], first["id"]]
    newest, oldest = page["nodes"]
    assert (newest["kind"], newest["category"], newest["title"]) == ("announcement", "SAFETY", "Drill")
    assert newest["announcement"]["class"] is None
    assert oldest["body"] == "Hi Student"
    assert (oldest["language"], oldest["translated"], oldest["readAt"], oldest["student"]) == (
        "en",
        False,
        None,
        None,
    )
    assert oldest["sender"] == {"id": encode_id("User", north.teacher.id), "name": north.teacher.name}
    assert oldest["announcement"]["class"] == {"id": encode_id("Class", north.klass.id), "title": "Algebra A"}

    one = await feed(student, first=1)
    assert one["pageInfo"]["hasNextPage"] is True
    rest = await feed(student, first=1, after=one["pageInfo"]["endCursor"])
    assert [n["id"] for n in one["nodes"] + rest["nodes"]] == [n["id"] for n in page["nodes"]]
    assert rest["pageInfo"]["hasNextPage"] is False
    safety = await feed(student, category="SAFETY")
    assert ([n["title"] for n in safety["nodes"]], safety["unreadCount"]) == (["Drill"], 1)

    other = await feed(gql.as_user(factory.token(north.other_student)))
    assert [n["title"] for n in other["nodes"]] == ["Drill"], "not the class's announcement"
    mentor = await feed(gql.as_user(factory.token(north.mentor)))
    assert [n["title"] for n in mentor["nodes"]] == ["Field trip"]
    south = await factory.school("south")
    assert (await feed(gql.as_user(factory.token(south.student))))["totalCount"] == 0


async def test_a_guardian_narrows_to_one_ward_and_to_no_one_elses(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        session.add(GuardianLink(guardian_id=north.guardian.id, student_id=north.other_student.id))
    other_class = await factory.section(north, "Art", students=[north.other_student])
    teacher = gql.as_user(factory.token(north.teacher))
    for klass in (north.klass, other_class):
        await sent(
            teacher, new_announcement(class_audience(klass.id, includeGuardians=True), title=klass.title)
        )
    guardian = gql.as_user(factory.token(north.guardian))
    assert (await feed(guardian))["totalCount"] == 2
    for ward, title in ((north.student, "Algebra A"), (north.other_student, "Art")):
        page = await feed(guardian, studentId=encode_id("Student", ward.id))
        assert [(n["title"], n["student"]["id"]) for n in page["nodes"]] == [
            (title, encode_id("Student", ward.id))
        ]
        assert page["unreadCount"] == 1
    (stranger,) = await factory.students(north, ["Stranger"])
    refused = await guardian.execute(FEED, {"studentId": encode_id("Student", stranger.id)})
    assert error_codes(refused) == ["FORBIDDEN"]
    student = gql.as_user(factory.token(north.student))
    refused = await student.execute(FEED, {"studentId": encode_id("Student", north.student.id)})
    assert error_codes(refused) == ["FORBIDDEN"]


async def test_marking_copies_read_marks_their_notifications_and_refuses_others_copies(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    for title in ("One", "Two", "Three"):
        await sent(
            teacher, new_announcement(class_audience(north.klass.id, includeGuardians=True), title=title)
        )
    student = gql.as_user(factory.token(north.student))
    guardian = gql.as_user(factory.token(north.guardian))
    mine = [n["id"] for n in (await feed(student))["nodes"]]
    theirs = (await feed(guardian))["nodes"][0]["id"]

    refused = await mark_read(student, ids=[mine[0], theirs, encode_id("Communication", 9999)])
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "ids", "1"], "NOT_FOUND"),
        (["input", "ids", "2"], "NOT_FOUND"),
    ]
    assert refused["unreadCount"] == 3, "nothing changed"
    assert (await mark_read(student))["userErrors"][0]["code"] == "INVALID"

    marked = await mark_read(student, ids=[mine[0]])
    assert marked == {"unreadCount": 2, "userErrors": []}
    page = await feed(student)
    assert [n["readAt"] is not None for n in page["nodes"]] == [True, False, False]
    assert [n["title"] for n in (await feed(student, unreadOnly=True))["nodes"]] == ["Two", "One"]
    async with session_factory() as session:
        notes = (
            await session.execute(
                select(Notification.title, Notification.read_at.is_not(None))
                .where(Notification.user_id == north.student.id)
                .order_by(Notification.id)
            )
        ).all()
    assert notes == [("One", False), ("Two", False), ("Three", True)]

    assert await mark_read(student, all=True) == {"unreadCount": 0, "userErrors": []}
    async with session_factory() as session:
        unread_notes = await session.scalars(
            select(Notification.id).where(
                Notification.user_id == north.student.id, Notification.read_at.is_(None)
            )
        )
        assert list(unread_notes) == []
        guardian_unread = await session.scalars(
            select(Communication.id).where(
                Communication.recipient_id == north.guardian.id, Communication.read_at.is_(None)
            )
        )
        assert len(list(guardian_unread)) == 3, "another's copies stay unread"
    assert await audit_actions(session_factory, "User") == ["announcements.read", "announcements.read"]


async def test_reading_the_notification_reads_the_copy(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    """The bell's "mark all read" (markNotificationsRead) also reads the announcements it showed."""
    teacher = gql.as_user(factory.token(north.teacher))
    await sent(teacher, new_announcement(class_audience(north.klass.id), title="Picture day"))
    student = gql.as_user(factory.token(north.student))
    assert (await feed(student))["unreadCount"] == 1
    marked = await student.data(MARK_NOTIFICATIONS_READ, {"input": {"all": True}})
    assert marked["markNotificationsRead"] == {"unreadCount": 0, "userErrors": []}
    page = await feed(student)
    assert page["unreadCount"] == 0
    assert page["nodes"][0]["readAt"] is not None


async def start_subscription(app: GraphQLApp, user: User) -> Any:
    context = Context(app=app.state, request=None, response=None, user=CurrentUser.from_model(user))
    results = await app.schema.subscribe(PUBLISHED, context_value=context)
    assert not isinstance(results, Exception)
    return results


async def test_new_copies_are_pushed_to_their_recipients_unless_in_app_is_off(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    state: AppState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        session.add(
            NotificationSwitch(
                user_id=north.guardian.id, category=NotificationCategory.ANNOUNCEMENTS,
                channel=CommunicationChannel.IN_APP, enabled=False,
            )
        )  # fmt: skip
    teacher = gql.as_user(factory.token(north.teacher))
    draft = await created(teacher, new_announcement(class_audience(north.klass.id, includeGuardians=True)))
    at = utcnow() + timedelta(hours=1)
    assert (await publish(teacher, draft["id"], scheduledAt=at.isoformat()))["userErrors"] == []

    app = GraphQLApp(state)
    subscribers: dict[str, Any] = {}
    waiting: dict[str, asyncio.Future[Any]] = {}
    for name in ("student", "guardian", "other_student"):
        # One after the other: the Redis bus's first SUBSCRIBEs, when concurrent, may each open a
        # connection of their own, and all but one are never read (reported to the lead).
        subscribers[name] = await start_subscription(app, north.users[name])
        waiting[name] = asyncio.ensure_future(anext(subscribers[name]))
        await asyncio.sleep(0.3)  # the subscription is on the bus
    assert await send_due(state, now=at) == 1
    result = await asyncio.wait_for(waiting["student"], WAIT)
    assert result.errors is None
    pushed = result.data["announcementPublished"]
    assert (pushed["title"], pushed["category"], pushed["translated"]) == (
        "Field trip",
        "ANNOUNCEMENTS",
        False,
    )
    assert pushed["announcement"] == {
        "id": draft["id"],
        "class": {"id": encode_id("Class", north.klass.id), "title": "Algebra A"},
        "attachments": [],
    }
    assert pushed["sender"]["id"] == encode_id("User", north.teacher.id)
    await asyncio.sleep(0.3)
    assert not waiting["guardian"].done(), "the guardian turned in-app off"
    assert not waiting["other_student"].done(), "not in the class"
    for name, future in waiting.items():
        future.cancel()
        await asyncio.gather(future, return_exceptions=True)
        await subscribers[name].aclose()


async def test_signed_out_callers_have_no_feed(gql: GraphQLClient) -> None:
    assert error_codes(await gql.execute(FEED)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql.execute(MARK_READ, {"input": {"all": True}})) == ["UNAUTHENTICATED"]
