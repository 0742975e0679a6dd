"""The authors' side through the contract: one announcement (everything for its author, the
class's teachers, staff and admins; what was sent for a recipient; nothing for anyone else), its
recipients with their deliveries, and sentAnnouncements."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Enrollment, GuardianLink, MessageTemplate
from models.enums import CommunicationChannel, NotificationCategory
from models.preferences import NotificationSwitch
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.factories import Factory, SchoolData
from tests.resolvers.announcements.helpers import (
    DETAIL,
    FEED,
    HISTORY,
    MARK_READ,
    RECIPIENTS,
    SENT,
    cancel,
    class_audience,
    created,
    error_codes,
    new_announcement,
    sent,
)
from tests.statements import statements

HIDDEN = ("recipientCount", "readCount", "deliverySummary")


def client(gql: GraphQLClient, factory: Factory, user: Any) -> GraphQLClient:
    return gql.as_user(factory.token(user))


async def test_who_sees_an_announcement_and_what_of_it(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        template = MessageTemplate(
            school_id=north.school.id, name="trip", category=NotificationCategory.ANNOUNCEMENTS,
            title="Trip", body="Bring a lunch.",
        )  # fmt: skip
        session.add(template)
    co_taught = await factory.section(
        north, "Biology", teachers=[north.teacher, north.other_teacher], students=[north.student]
    )
    input = {"audience": class_audience(co_taught.id, includeGuardians=True), "channels": ["IN_APP"]}
    announcement = await sent(
        client(gql, factory, north.teacher), input | {"templateId": encode_id("MessageTemplate", template.id)}
    )
    variables = {"id": announcement["id"]}
    for user in (north.teacher, north.other_teacher, north.staff, north.admin):
        detail = (await client(gql, factory, user).data(DETAIL, variables))["announcement"]
        assert (detail["recipientCount"], detail["readCount"]) == (2, 0)
        assert detail["deliverySummary"] == [{"channel": "IN_APP", "status": "DELIVERED", "count": 2}]
        assert detail["template"] == {"id": encode_id("MessageTemplate", template.id), "name": "trip"}
        assert detail["class"] == {"id": encode_id("Class", co_taught.id), "title": "Biology"}
        assert (detail["status"], detail["version"], detail["author"]["name"]) == (
            "SENT",
            2,
            north.teacher.name,
        )

    for user in (north.student, north.guardian):
        result = await client(gql, factory, user).execute(DETAIL, variables)
        detail = result["data"]["announcement"]
        assert (detail["title"], detail["body"], detail["status"]) == ("Trip", "Bring a lunch.", "SENT")
        assert [detail[name] for name in HIDDEN] == [None, None, None]
        assert sorted(tuple(error["path"]) for error in result["errors"]) == sorted(
            ("announcement", name) for name in HIDDEN
        )
        assert set(error_codes(result)) == {"FORBIDDEN"}

    south = await factory.school("south")
    draft = await created(client(gql, factory, north.staff), new_announcement({"scope": "SCHOOL"}))
    for user, announcement_id in (
        (north.mentor, announcement["id"]),
        (north.other_student, announcement["id"]),
        (north.student, draft["id"]),
        (south.staff, announcement["id"]),
        (south.admin, draft["id"]),
    ):
        result = await client(gql, factory, user).execute(DETAIL, {"id": announcement_id})
        assert result["data"] == {"announcement": None}
        assert [(e["extensions"]["code"], e["message"]) for e in result["errors"]] == [
            ("FORBIDDEN", "Not found, or not yours to see.")
        ]
    outsider = await factory.section(
        north, "Chemistry", teachers=[north.other_teacher], students=[north.student]
    )
    only_theirs = await sent(client(gql, factory, north.staff), new_announcement(class_audience(outsider.id)))
    result = await client(gql, factory, north.teacher).execute(DETAIL, {"id": only_theirs["id"]})
    assert error_codes(result) == ["FORBIDDEN"]


async def test_recipients_by_name_with_their_deliveries_and_filters(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        session.add(
            NotificationSwitch(
                user_id=north.guardian.id, category=NotificationCategory.ANNOUNCEMENTS,
                channel=CommunicationChannel.EMAIL, enabled=False,
            )
        )  # fmt: skip
    (zoe,) = await factory.students(north, ["Zoe Last"])
    klass = await factory.section(north, "Music", students=[north.student, zoe])
    teacher = client(gql, factory, north.teacher)
    audience = class_audience(klass.id, includeGuardians=True)
    announcement = await sent(teacher, new_announcement(audience, channels=["IN_APP", "EMAIL"]))
    student = client(gql, factory, north.student)
    student_copy = (await student.data(FEED))["announcements"]["nodes"][0]["id"]
    await student.data(MARK_READ, {"input": {"ids": [student_copy]}})

    async def recipients(**filters: Any) -> dict[str, Any]:
        answer = await teacher.data(RECIPIENTS, {"id": announcement["id"]} | filters)
        page: dict[str, Any] = answer["announcement"]["recipients"]
        return page

    everyone = await recipients()
    assert [n["recipient"]["name"] for n in everyone["nodes"]] == [
        north.guardian.name,
        north.student.name,
        "Zoe Last",
    ]
    guardian_copy = everyone["nodes"][0]
    assert guardian_copy["recipient"] | {"id": None} == {
        "id": None, "name": north.guardian.name, "email": "guardian@north.test", "role": "GUARDIAN",
    }  # fmt: skip
    assert guardian_copy["student"] == {
        "id": encode_id("Student", north.student.id),
        "name": north.student.name,
    }
    by_channel = {d["channel"]: d for d in guardian_copy["deliveries"]}
    assert (by_channel["EMAIL"]["status"], by_channel["EMAIL"]["skipReason"]) == ("SKIPPED", "PREFERENCE_OFF")
    assert by_channel["IN_APP"]["status"] == "DELIVERED"

    assert [n["recipient"]["name"] for n in (await recipients(status="READ"))["nodes"]] == [
        north.student.name
    ]
    assert (await recipients(status="UNREAD"))["totalCount"] == 2
    skipped = await recipients(deliveryStatus="SKIPPED", channel="EMAIL")
    assert [n["recipient"]["name"] for n in skipped["nodes"]] == [north.guardian.name]
    assert (await recipients(deliveryStatus="SKIPPED", channel="IN_APP"))["totalCount"] == 0
    assert (await recipients(channel="SMS"))["totalCount"] == 0
    first = await recipients(first=2)
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await recipients(first=2, after=first["pageInfo"]["endCursor"])
    assert [n["recipient"]["name"] for n in rest["nodes"]] == ["Zoe Last"]
    counts = (await teacher.data(RECIPIENTS, {"id": announcement["id"]}))["announcement"]
    assert (counts["recipientCount"], counts["readCount"]) == (3, 1)

    refused = await student.execute(RECIPIENTS, {"id": announcement["id"]})
    assert refused["data"]["announcement"]["recipients"] is None
    assert set(error_codes(refused)) == {"FORBIDDEN"}


async def test_sent_announcements_are_the_teachers_own_and_the_whole_schools_for_staff(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    teacher, other_teacher, staff = (
        client(gql, factory, u) for u in (north.teacher, north.other_teacher, north.staff)
    )
    co_taught = await factory.section(north, "Biology", teachers=[north.teacher, north.other_teacher])
    mine = await sent(teacher, new_announcement(class_audience(north.klass.id), title="Mine"))
    draft = await created(teacher, new_announcement(class_audience(co_taught.id), title="My draft"))
    await created(other_teacher, new_announcement(class_audience(co_taught.id), title="Co-teacher's"))
    school = await created(staff, new_announcement({"scope": "SCHOOL"}, title="School"))
    await cancel(staff, school["id"])
    south = await factory.school("south")
    await created(client(gql, factory, south.staff), new_announcement({"scope": "SCHOOL"}, title="Elsewhere"))

    async def titles(caller: GraphQLClient, **filter: Any) -> list[str]:
        page = (await caller.data(SENT, {"filter": filter} if filter else {}))["sentAnnouncements"]
        return [node["title"] for node in page["nodes"]]

    assert await titles(teacher) == ["My draft", "Mine"]
    assert await titles(teacher, authorId=encode_id("User", north.other_teacher.id)) == []
    assert await titles(staff) == ["School", "Co-teacher's", "My draft", "Mine"]
    assert await titles(staff, authorId=encode_id("User", north.teacher.id)) == ["My draft", "Mine"]
    assert await titles(staff, status=["SENT", "CANCELLED"]) == ["School", "Mine"]
    assert await titles(staff, scope=["SCHOOL"]) == ["School"]
    assert await titles(staff, classId=encode_id("Class", co_taught.id)) == ["Co-teacher's", "My draft"]
    page = (await teacher.data(SENT))["sentAnnouncements"]
    newest_sent = page["nodes"][1]
    assert (newest_sent["id"], newest_sent["recipientCount"], newest_sent["readCount"]) == (mine["id"], 1, 0)
    assert page["nodes"][0]["id"] == draft["id"]
    assert page["nodes"][0]["recipientCount"] is None

    for user in (north.student, north.guardian, north.mentor):
        assert error_codes(await client(gql, factory, user).execute(SENT)) == ["FORBIDDEN"]


async def test_lists_cost_the_same_statements_however_long_they_are(
    metered: httpx.AsyncClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    teacher_token, staff_token = factory.token(north.teacher), factory.token(north.staff)
    guardian_token = factory.token(north.guardian)
    audience = class_audience(north.klass.id, includeGuardians=True)
    operations = [
        (guardian_token, FEED, {}),
        (teacher_token, SENT, {}),
        (staff_token, HISTORY, {}),
    ]

    async def costs(announcement_id: str) -> list[int]:
        listed = [
            *operations,
            (teacher_token, RECIPIENTS, {"id": announcement_id}),
            (teacher_token, DETAIL, {"id": announcement_id}),
        ]
        return [await statements(metered, token, query, variables) for token, query, variables in listed]

    teacher = GraphQLClient(metered, teacher_token)
    first = await sent(teacher, new_announcement(audience, channels=["IN_APP", "EMAIL"]))
    few = await costs(first["id"])
    students = await factory.students(north, [f"Student {n}" for n in range(6)])
    async with session_factory.begin() as session:
        session.add_all(Enrollment(class_id=north.klass.id, student_id=s.id) for s in students)
        session.add_all(GuardianLink(guardian_id=north.guardian.id, student_id=s.id) for s in students)
    per_student = {
        "title": "Again",
        "body": "For {{student.firstName}}",
        "channels": ["IN_APP", "EMAIL", "SMS"],
    }
    many = None
    for _ in range(3):
        many = await sent(teacher, new_announcement(audience, **per_student))
    assert many is not None
    assert await costs(many["id"]) == few
