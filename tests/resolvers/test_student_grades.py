"""A student's grades in one class (`Student.grades`) through the StudentGrades operation: who
sees them, published assignments only for students and guardians, dropped and never-enrolled
classes, the frozen final grade of a closed term, and statement counts flat in the list sizes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Assignment, Class, Enrollment, FinalGrade, Grade, StudentProfile, Term, User
from models.enums import AssignmentCategory, EnrollmentStatus, GradeStatus, Role, TermStatus, Tier
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD_HASH, Factory, SchoolData
from tests.statements import metered_client, statements

GRADES = contract_operation("StudentGrades")
ROSTER_GRADES = """
query RosterGrades($id: ID!, $classId: ID!) {
  class(id: $id) {
    students(first: 100) {
      nodes {
        id
        grades(classId: $classId) {
          enrollmentStatus
          items { assignment { id title gradingPeriod { id } } score adjustedScore status gradedAt }
          currentGrade { percentage }
          finalGrade { percentage }
        }
      }
    }
    assignments(first: 100) { totalCount nodes { id gradingPeriod { id } } }
  }
}
"""


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def graded_class(
    session_factory: async_sessionmaker[AsyncSession], school: SchoolData
) -> dict[str, int]:
    """Quiz 0 (published, 8/10, past due), Quiz 1 (published, MISSING), Draft (unpublished, 10/10),
    Later (published, not due, ungraded) and Old (archived, 0/10)."""
    now = datetime.now(UTC)
    rows = {
        "Quiz 0": Assignment(max_score=10.0, due_at=now - timedelta(days=3)),
        "Quiz 1": Assignment(max_score=10.0, due_at=now - timedelta(days=2)),
        "Draft": Assignment(max_score=10.0, due_at=now - timedelta(days=1), published=False),
        "Later": Assignment(max_score=10.0, due_at=now + timedelta(days=5)),
        "Old": Assignment(max_score=10.0, due_at=now - timedelta(days=4), archived_at=now),
    }
    async with session_factory.begin() as session:
        for title, row in rows.items():
            row.class_id, row.title, row.category = school.klass.id, title, AssignmentCategory.QUIZ
        session.add_all(rows.values())
        await session.flush()
        for title, score, status in [
            ("Quiz 0", 8.0, GradeStatus.NONE),
            ("Quiz 1", None, GradeStatus.MISSING),
            ("Draft", 10.0, GradeStatus.NONE),
            ("Old", 0.0, GradeStatus.NONE),
        ]:
            session.add(
                Grade(
                    assignment_id=rows[title].id, student_id=school.student.id, score=score, status=status,
                    comment="Late start" if title == "Quiz 0" else None, updated_by_id=school.teacher.id,
                )
            )  # fmt: skip
    return {title: row.id for title, row in rows.items()}


def variables(school: SchoolData, student: User | None = None) -> dict[str, str]:
    return {
        "studentId": encode_id("Student", (student or school.student).id),
        "classId": encode_id("Class", school.klass.id),
    }


async def test_the_student_sees_their_published_grades_and_the_grades_by_the_rule(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ids = await graded_class(session_factory, north)
    student = (await gql.as_user(factory.token(north.student)).data(GRADES, variables(north)))["student"]
    grades = student["grades"]
    assert grades["class"]["id"] == encode_id("Class", north.klass.id)
    assert grades["class"]["term"]["status"] == "OPEN"
    assert grades["enrollmentStatus"] == "ACTIVE"
    items = {item["assignment"]["title"]: item for item in grades["items"]}
    assert list(items) == ["Quiz 0", "Quiz 1", "Later"], "published, not archived, by due date"
    quiz = items["Quiz 0"]
    assert (quiz["score"], quiz["adjustedScore"], quiz["letter"], quiz["status"], quiz["comment"]) == (
        8.0,
        8.0,
        "B-",
        "NONE",
        "Late start",
    )
    assert quiz["gradedAt"] is not None
    assert quiz["assignment"]["id"] == encode_id("Assignment", ids["Quiz 0"])
    assert (items["Quiz 1"]["status"], items["Quiz 1"]["adjustedScore"], items["Quiz 1"]["letter"]) == (
        "MISSING",
        0.0,
        "F",
    )
    assert (items["Later"]["status"], items["Later"]["score"], items["Later"]["gradedAt"]) == (
        "NONE",
        None,
        None,
    )
    # Every assignment of the gradebook counts (the draft too); the archived one does not:
    # 8 + 0 (missing) + 10 (draft) of 30 = 60%, "Later" is not due yet.
    assert grades["currentGrade"] == {"percentage": 60.0, "letter": "D"}
    assert grades["finalGrade"] == {"percentage": 60.0, "letter": "D", "gradePoints": 1.0}


@pytest.mark.parametrize(
    ("role", "items"),
    [
        ("student", 3),
        ("guardian", 3),
        ("teacher", 4),
        ("staff", 4),
        ("admin", 4),
    ],
)
async def test_who_sees_which_assignments(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    role: str,
    items: int,
) -> None:
    await graded_class(session_factory, north)
    answer = await gql.as_user(factory.token(north.users[role])).data(GRADES, variables(north))
    assert len(answer["student"]["grades"]["items"]) == items


async def test_others_are_refused(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await graded_class(session_factory, north)
    mentor = await gql.as_user(factory.token(north.mentor)).execute(GRADES, variables(north))
    assert mentor["data"]["student"]["grades"] is None
    assert mentor["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for role in ("other_student", "other_teacher"):
        answer = await gql.as_user(factory.token(north.users[role])).execute(GRADES, variables(north))
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
        assert not (answer["data"]["student"] or {}).get("grades"), role
    south = await factory.school("south")
    foreign = await gql.as_user(factory.token(south.admin)).execute(GRADES, variables(north))
    assert foreign["data"]["student"] is None
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_class_never_taken_is_answered_like_a_missing_one(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        other = Class(
            school_id=north.school.id, course_id=north.course.id, term_id=north.klass.term_id, title="B"
        )
        session.add(other)
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    for class_id in (encode_id("Class", other.id), encode_id("Class", south.klass.id)):
        answer = await staff.execute(GRADES, variables(north) | {"classId": class_id})
        assert answer["data"]["student"]["grades"] is None
        assert answer["errors"][0]["message"] == "Not found, or not yours to see."


async def test_a_dropped_class_keeps_its_grades(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await graded_class(session_factory, north)
    async with session_factory.begin() as session:
        await session.execute(
            update(Enrollment)
            .where(Enrollment.class_id == north.klass.id)
            .values(status=EnrollmentStatus.DROPPED)
        )
    grades = (await gql.as_user(factory.token(north.guardian)).data(GRADES, variables(north)))["student"][
        "grades"
    ]
    assert grades["enrollmentStatus"] == "DROPPED"
    assert [item["score"] for item in grades["items"]] == [8.0, None, None]


async def test_a_closed_term_shows_the_frozen_final_grade(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await graded_class(session_factory, north)
    async with session_factory.begin() as session:
        session.add(
            FinalGrade(
                class_id=north.klass.id,
                student_id=north.student.id,
                percentage=71.5,
                letter="C-",
                grade_points=1.7,
            )
        )
    student = gql.as_user(factory.token(north.student))
    open_term = (await student.data(GRADES, variables(north)))["student"]["grades"]
    assert open_term["finalGrade"]["percentage"] == 60.0, "calculated while the term is open"
    async with session_factory.begin() as session:
        await session.execute(
            update(Term).where(Term.id == north.klass.term_id).values(status=TermStatus.CLOSED)
        )
    closed = (await student.data(GRADES, variables(north)))["student"]["grades"]
    assert closed["finalGrade"] == {"percentage": 71.5, "letter": "C-", "gradePoints": 1.7}
    assert closed["class"]["term"]["status"] == "CLOSED"


async def add_students(session_factory: async_sessionmaker[AsyncSession], school: SchoolData, n: int) -> None:
    """`n` more students in the class, each graded on each of `n` assignments."""
    slug = school.school.slug
    users = [
        {"school_id": school.school.id, "email": f"s{k}@{slug}.test", "name": f"Student {k:03d}",
         "password_hash": PASSWORD_HASH, "role": Role.STUDENT, "tier": Tier.FREE}
        for k in range(n)
    ]  # fmt: skip
    work = [
        {"class_id": school.klass.id, "title": f"W{k}", "category": AssignmentCategory.HOMEWORK,
         "max_score": 10.0, "due_at": datetime.now(UTC) - timedelta(days=k)}
        for k in range(n)
    ]  # fmt: skip
    async with session_factory.begin() as session:
        ids = list(await session.scalars(insert(User).returning(User.id), users))
        profiles = [
            {"user_id": pk, "school_id": school.school.id, "student_number": f"{slug}-{pk}",
             "grade_level": 10, "cohort_year": 2028}
            for pk in ids
        ]  # fmt: skip
        await session.execute(insert(StudentProfile), profiles)
        await session.execute(
            insert(Enrollment), [{"class_id": school.klass.id, "student_id": pk} for pk in ids]
        )
        assignment_ids = list(await session.scalars(insert(Assignment).returning(Assignment.id), work))
        grades = [
            {
                "assignment_id": a,
                "student_id": s,
                "score": float((a + s) % 10),
                "updated_by_id": school.teacher.id,
            }
            for a in assignment_ids
            for s in ids
        ]
        await session.execute(insert(Grade), grades)


async def test_statement_counts_do_not_grow_with_students_or_assignments(
    factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    small, large = await factory.school("small"), await factory.school("large")
    await add_students(session_factory, small, 2)
    await add_students(session_factory, large, 12)
    counts = []
    for school in (small, large):
        values = {"id": encode_id("Class", school.klass.id), "classId": encode_id("Class", school.klass.id)}
        async with metered_client(settings) as http:
            counts.append(await statements(http, factory.token(school.staff), ROSTER_GRADES, values))
    assert counts[0] == counts[1], counts
