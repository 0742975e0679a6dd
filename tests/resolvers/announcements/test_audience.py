"""Who an announcement reaches, resolved when it is sent: a class's active students, a grade
level's, the whole school's; their guardians (one copy per student when the text uses
{{student.*}}, else one); staff; never a deactivated account nor anyone of another school."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from context import AppState
from models import Enrollment, GuardianLink, StudentProfile, User
from models.base import utcnow
from models.enums import EnrollmentStatus, StudentStatus, UserStatus
from resolvers.announcements.publishing import send_due
from resolvers.ids import decode_id_of
from tests.clients import GraphQLClient
from tests.factories import Factory, SchoolData
from tests.resolvers.announcements.helpers import (
    class_audience,
    copies_of,
    created,
    new_announcement,
    publish,
    sent,
)

WHOLE_SCHOOL = {"scope": "SCHOOL", "includeGuardians": True, "includeStaff": True}


async def recipients(
    session_factory: async_sessionmaker[AsyncSession], announcement: dict[str, object]
) -> list[tuple[int, int | None]]:
    """(recipient, student the copy is about) of each copy of a sent announcement."""
    copies = await copies_of(session_factory, decode_id_of(str(announcement["id"]), "Announcement"))
    return [(copy.recipient_id, copy.student_id) for copy in copies]


async def test_a_class_reaches_its_active_students_their_guardians_and_its_teachers(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    dropped, gone, second = await factory.students(north, ["Dana Dropped", "Gus Gone", "Sam Second"])
    co_taught = await factory.section(
        north, "Biology", teachers=[north.teacher, north.other_teacher], students=[north.student, second]
    )
    await factory.section(north, "Elsewhere", students=[dropped, gone])
    async with session_factory.begin() as session:
        session.add_all([Enrollment(class_id=co_taught.id, student_id=s.id) for s in (dropped, gone)])
        session.add(GuardianLink(guardian_id=north.guardian.id, student_id=second.id))
        await session.flush()
        await session.execute(
            update(Enrollment)
            .where(Enrollment.class_id == co_taught.id, Enrollment.student_id == dropped.id)
            .values(status=EnrollmentStatus.DROPPED)
        )
        await session.execute(update(User).where(User.id == gone.id).values(status=UserStatus.DEACTIVATED))
    teacher = gql.as_user(factory.token(north.teacher))
    everyone = class_audience(co_taught.id, includeGuardians=True, includeStaff=True)

    announcement = await sent(teacher, new_announcement(everyone))
    assert announcement["recipientCount"] == 5
    assert await recipients(session_factory, announcement) == sorted(
        [
            (north.teacher.id, None),
            (north.other_teacher.id, None),
            (north.guardian.id, None),  # one copy about both wards: the text names no student
            (north.student.id, None),
            (second.id, None),
        ]
    )

    per_student = new_announcement(
        class_audience(co_taught.id, includeGuardians=True), body="{{student.firstName}} has a test."
    )
    announcement = await sent(teacher, per_student)
    assert await recipients(session_factory, announcement) == sorted(
        [
            (north.guardian.id, north.student.id),
            (north.guardian.id, second.id),
            (north.student.id, None),
            (second.id, None),
        ]
    )
    copies = await copies_of(session_factory, decode_id_of(announcement["id"], "Announcement"))
    assert sorted(copy.body for copy in copies) == sorted(
        ["Student has a test.", "Sam has a test.", "Student has a test.", "Sam has a test."]
    )

    guardians_only = class_audience(north.klass.id, includeStudents=False, includeGuardians=True)
    announcement = await sent(teacher, new_announcement(guardians_only))
    assert await recipients(session_factory, announcement) == [(north.guardian.id, north.student.id)]


async def test_grade_levels_and_the_whole_school_reach_enrolled_students_never_another_school(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    ninth, withdrawn = await factory.students(north, ["Nina Ninth", "Walt Withdrawn"])
    async with session_factory.begin() as session:
        await session.execute(
            update(StudentProfile).where(StudentProfile.user_id == ninth.id).values(grade_level=9)
        )
        await session.execute(
            update(StudentProfile)
            .where(StudentProfile.user_id == withdrawn.id)
            .values(status=StudentStatus.WITHDRAWN)
        )
    staff = gql.as_user(factory.token(north.staff))

    whole = await sent(staff, new_announcement(WHOLE_SCHOOL))
    employees = [north.admin, north.staff, north.teacher, north.other_teacher, north.mentor]
    students = [north.student, north.other_student, ninth]
    assert await recipients(session_factory, whole) == sorted(
        [(user.id, None) for user in employees + students] + [(north.guardian.id, north.student.id)]
    )
    assert not {user.id for user in south.users.values()} & {
        recipient for recipient, _ in await recipients(session_factory, whole)
    }

    grade_nine = {"scope": "GRADE_LEVELS", "gradeLevels": [9], "includeStaff": True}
    # Nina is in no class: staff are the school's staff and admins only.
    assert await recipients(session_factory, await sent(staff, new_announcement(grade_nine))) == sorted(
        [(ninth.id, None), (north.admin.id, None), (north.staff.id, None)]
    )
    grade_ten = grade_nine | {"gradeLevels": [10], "includeGuardians": True}
    # The teacher of Algebra A teaches a tenth grader; the other teacher teaches no one.
    assert await recipients(session_factory, await sent(staff, new_announcement(grade_ten))) == sorted(
        [
            (north.student.id, None),
            (north.other_student.id, None),
            (north.guardian.id, north.student.id),
            (north.admin.id, None),
            (north.staff.id, None),
            (north.teacher.id, None),
        ]
    )


async def test_recipients_are_resolved_when_a_scheduled_announcement_is_sent(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    state: AppState,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    draft = await created(teacher, new_announcement(class_audience(north.klass.id)))
    at = utcnow() + timedelta(hours=1)
    assert (await publish(teacher, draft["id"], scheduledAt=at.isoformat()))["userErrors"] == []
    (newcomer,) = await factory.students(north, ["Nora Newcomer"])
    async with session_factory.begin() as session:
        session.add(Enrollment(class_id=north.klass.id, student_id=newcomer.id))
    assert await send_due(state) == 0, "not yet due"
    assert await send_due(state, now=at) == 1
    assert await recipients(session_factory, draft) == sorted([(north.student.id, None), (newcomer.id, None)])
