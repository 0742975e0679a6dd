"""communicationHistory through the contract: staff and admins only, every kind of message, the
filters (a student and their guardians, a guardian, channel, status, category, time), another
school's people answered as missing, and reads of a student's messages audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AuditEntry, GuardianLink
from models.base import utcnow
from models.enums import CommunicationChannel, NotificationCategory
from models.preferences import NotificationSwitch
from resolvers.copies import NewCopy, make_copies
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.factories import Factory, SchoolData
from tests.resolvers.announcements.helpers import HISTORY, class_audience, error_codes, new_announcement, sent


def student_id(user: Any) -> str:
    return encode_id("Student", user.id)


async def history(client: GraphQLClient, **filter: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await client.data(HISTORY, {"filter": filter}))["communicationHistory"]
    return page


def rows(page: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(title, recipient's name, the student's name) of each message, newest first."""
    return [
        (node["title"], node["recipient"]["name"], node["student"]["name"] if node["student"] else None)
        for node in page["nodes"]
    ]


async def test_staff_see_what_the_school_sent_to_a_student_and_their_guardians(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as session:
        session.add(GuardianLink(guardian_id=north.guardian.id, student_id=north.other_student.id))
        session.add(
            NotificationSwitch(
                user_id=north.guardian.id, category=NotificationCategory.ANNOUNCEMENTS,
                channel=CommunicationChannel.EMAIL, enabled=False,
            )
        )  # fmt: skip
    art = await factory.section(north, "Art", students=[north.other_student])
    teacher = gql.as_user(factory.token(north.teacher))
    await sent(
        teacher,
        new_announcement(
            class_audience(north.klass.id, includeGuardians=True),
            title="Algebra",
            channels=["IN_APP", "EMAIL"],
        ),
    )
    await sent(teacher, new_announcement(class_audience(art.id, includeGuardians=True), title="Art"))
    async with session_factory.begin() as session:
        notice = NewCopy(
            school_id=north.school.id, recipient_id=north.student.id, kind="notice",
            category=NotificationCategory.GRADES, title="Grade posted", body="Quiz 1: 9/10", language="en",
            channels=(CommunicationChannel.IN_APP,),
        )  # fmt: skip
        await make_copies(session, settings, [notice])

    staff = gql.as_user(factory.token(north.staff))
    everything = await history(staff)
    assert everything["totalCount"] == 5
    assert rows(everything)[0] == ("Grade posted", north.student.name, None)
    notice_node = everything["nodes"][0]
    shown = tuple(notice_node[name] for name in ("kind", "category", "sender", "announcement"))
    assert shown == ("notice", "GRADES", None, None)

    about_student = await history(staff, studentId=student_id(north.student))
    assert rows(about_student) == [
        ("Grade posted", north.student.name, None),
        ("Algebra", north.student.name, None),
        ("Algebra", north.guardian.name, north.student.name),
    ]
    guardian = encode_id("User", north.guardian.id)
    assert rows(await history(staff, guardianId=guardian)) == [
        ("Art", north.guardian.name, north.other_student.name),
        ("Algebra", north.guardian.name, north.student.name),
    ]
    both = await history(staff, guardianId=guardian, studentId=student_id(north.other_student))
    assert rows(both) == [("Art", north.guardian.name, north.other_student.name)]
    skipped = await history(staff, channel="EMAIL", deliveryStatus=["SKIPPED"])
    assert rows(skipped) == [("Algebra", north.guardian.name, north.student.name)]
    assert (await history(staff, channel="SMS"))["totalCount"] == 0
    assert [n["title"] for n in (await history(staff, category="GRADES"))["nodes"]] == ["Grade posted"]
    later = (utcnow() + timedelta(minutes=5)).isoformat()
    assert (await history(staff, **{"from": later}))["totalCount"] == 0
    assert (await history(staff, to=later))["totalCount"] == 5
    email = next(d for d in about_student["nodes"][2]["deliveries"] if d["channel"] == "EMAIL")
    assert (email["status"], email["skipReason"], email["address"]) == ("SKIPPED", "PREFERENCE_OFF", None)

    admin = gql.as_user(factory.token(north.admin))
    assert (await history(admin, studentId=student_id(north.student)))["totalCount"] == 3
    async with session_factory() as session:
        reads = (
            await session.execute(
                select(AuditEntry.actor_id, AuditEntry.subject_id)
                .where(AuditEntry.action == "read", AuditEntry.subject_type == "Student")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert (north.staff.id, north.student.id) in reads
    assert (north.admin.id, north.student.id) in reads
    assert (north.staff.id, north.other_student.id) in reads


async def test_only_the_schools_staff_and_admins_see_its_history(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    await sent(gql.as_user(factory.token(north.teacher)), new_announcement(class_audience(north.klass.id)))
    for role in ("teacher", "other_teacher", "mentor", "guardian", "student"):
        result = await gql.as_user(factory.token(north.users[role])).execute(HISTORY)
        assert error_codes(result) == ["FORBIDDEN"], role
        assert result["data"] is None
    assert error_codes(await gql.execute(HISTORY)) == ["UNAUTHENTICATED"]

    south = await factory.school("south")
    south_staff = gql.as_user(factory.token(south.staff))
    assert (await history(south_staff))["totalCount"] == 0, "another school's messages are not theirs"
    for filter in (
        {"studentId": student_id(north.student)},
        {"guardianId": encode_id("User", north.guardian.id)},
        {"studentId": student_id(south.teacher)},
        {"guardianId": encode_id("User", south.student.id)},
    ):
        result = await south_staff.execute(HISTORY, {"filter": filter})
        assert [(e["extensions"]["code"], e["message"]) for e in result["errors"]] == [
            ("FORBIDDEN", "Not found, or not yours to see.")
        ], filter
