"""The transcript, as data (StudentTranscript) and as a PDF (GenerateTranscript): current grades
while a term is open, the grades frozen by CloseTerm after; who may read it; its cost."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AuditEntry, Class, Enrollment, Term
from models.enums import EnrollmentStatus
from resolvers.ids import encode_id
from resolvers.reports.formatting import MISSING
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.reports.samples import pdf_pages
from tests.statements import metered_client, statements

TRANSCRIPT = contract_operation("StudentTranscript")
CLOSE = contract_operation("CloseTerm")
GENERATE = contract_operation("GenerateTranscript")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def student_id(school: SchoolData) -> dict[str, str]:
    return {"id": encode_id("Student", school.student.id)}


async def transcript_of(client: GraphQLClient, school: SchoolData) -> dict[str, Any]:
    found: dict[str, Any] = (await client.data(TRANSCRIPT, student_id(school)))["student"]["transcript"]
    return found


async def close(client: GraphQLClient, term_id: int) -> None:
    closed = (await client.data(CLOSE, {"input": {"termId": encode_id("Term", term_id)}}))["closeTerm"]
    assert closed["userErrors"] == []


async def last_term(factory: Factory, school: SchoolData) -> tuple[Term, Class, Class]:
    """Spring 2026 with Biology (4 credits, graded A) and Art (1 credit, graded F) for the student."""
    spring = await factory.term(school, "Spring 2026", date(2026, 2, 1), date(2026, 6, 30))
    biology = await factory.term_class(
        school,
        spring.id,
        "Biology 1",
        course=await factory.course(school, "BIO1", 4),
        students=[school.student],
    )
    art = await factory.term_class(
        school, spring.id, "Art 1", course=await factory.course(school, "ART1", 1), students=[school.student]
    )
    await factory.graded(biology.id, school.student, 9.5)
    await factory.graded(art.id, school.student, 2.0)
    return spring, biology, art


def entry(
    klass: Class, code: str, credits: float, percentage: float, letter: str, points: float, final: bool
) -> Any:
    return {
        "class": {"id": encode_id("Class", klass.id), "title": klass.title},
        "course": {"id": encode_id("Course", klass.course_id), "code": code, "title": f"Course {code}"},
        "credits": credits, "percentage": percentage, "letter": letter, "gradePoints": points, "final": final,
    }  # fmt: skip


async def test_current_grades_until_the_term_closes_then_the_frozen_final_ones(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    spring, biology, art = await last_term(factory, north)
    await close(staff, spring.id)
    await factory.graded(north.klass.id, north.student, 8.5)
    dropped = await factory.term_class(north, north.klass.term_id, "Chemistry", students=[north.student])
    async with session_factory.begin() as session:
        await session.execute(
            update(Enrollment)
            .where(Enrollment.class_id == dropped.id)
            .values(status=EnrollmentStatus.DROPPED)
        )
    student = gql.as_user(factory.token(north.student))
    record = await transcript_of(student, north)
    fall, spring_entries = record["terms"]
    assert fall["term"] == {"id": encode_id("Term", north.klass.term_id), "name": "Fall", "status": "OPEN"}
    algebra = {
        "class": {"id": encode_id("Class", north.klass.id), "title": "Algebra A"},
        "course": {"id": encode_id("Course", north.course.id), "code": "NOR101", "title": "Algebra"},
        "credits": 3.0, "percentage": 85.0, "letter": "B", "gradePoints": 3.0, "final": False,
    }  # fmt: skip
    assert fall["entries"] == [algebra], "the dropped class is not on the transcript"
    assert fall["termGpa"] is None
    assert spring_entries["term"]["status"] == "CLOSED"
    assert spring_entries["entries"] == [
        entry(art, "ART1", 1.0, 20.0, "F", 0.0, final=True),
        entry(biology, "BIO1", 4.0, 95.0, "A", 4.0, final=True),
    ]
    assert spring_entries["termGpa"] == 3.2  # (4 * 4.0 + 1 * 0.0) / 5
    assert (record["cumulativeGpa"], record["earnedCredits"]) == (3.2, 4.0)
    await factory.graded(north.klass.id, north.student, 10.0)  # after the close: not final yet
    await close(staff, north.klass.term_id)
    await factory.graded(north.klass.id, north.student, 0.0)  # after the close: the grade stays frozen
    closed = await transcript_of(student, north)
    assert closed["terms"][0]["term"]["status"] == "CLOSED"
    assert closed["terms"][0]["entries"] == [
        algebra | {"percentage": 92.5, "letter": "A-", "gradePoints": 3.7, "final": True}
    ]
    assert closed["terms"][0]["termGpa"] == 3.7
    assert closed["cumulativeGpa"] == round((16 + 0 + 3 * 3.7) / 8, 2)
    assert closed["earnedCredits"] == 7.0


async def test_the_pdf_shows_the_final_grade_once_the_term_is_closed(
    gql: GraphQLClient, http: httpx.AsyncClient, factory: Factory, north: SchoolData
) -> None:
    await factory.graded(north.klass.id, north.student, 8.5)
    guardian = gql.as_user(factory.token(north.guardian))

    async def pdf_text() -> str:
        link = await guardian.data(GENERATE, {"input": {"studentId": encode_id("Student", north.student.id)}})
        document = await http.get(link["generateTranscript"]["url"])
        assert document.content.startswith(b"%PDF-")
        return " ".join(pdf_pages(document.content))

    before = await pdf_text()
    assert (
        f"Fall (in progress) Code Course Credits Grade Points NOR101 Algebra 3 {MISSING} {MISSING}" in before
    )
    assert f"Cumulative GPA Earned credits {MISSING} 0" in before
    await close(gql.as_user(factory.token(north.admin)), north.klass.term_id)
    after = await pdf_text()
    assert "Fall Code Course Credits Grade Points NOR101 Algebra 3 B 3.00 Term credits 3 GPA 3.00" in after
    assert "Cumulative GPA Earned credits 3.00 3" in after


async def test_the_student_guardians_and_school_staff_read_it_and_nobody_else(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for user in (north.student, north.guardian, north.staff, north.admin):
        assert (await transcript_of(gql.as_user(factory.token(user)), north))["terms"][0]["term"][
            "name"
        ] == "Fall"
    for user in (north.teacher, north.mentor):
        refused = await gql.as_user(factory.token(user)).execute(TRANSCRIPT, student_id(north))
        assert refused["data"]["student"]["transcript"] is None
        [error] = refused["errors"]
        assert (error["path"], error["extensions"]["code"]) == (["student", "transcript"], "FORBIDDEN")
    stranger = await gql.as_user(factory.token(north.other_student)).execute(TRANSCRIPT, student_id(north))
    assert stranger["data"] == {"student": None}
    assert stranger["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    south = await factory.school("south")
    foreign = await gql.as_user(factory.token(south.admin)).execute(TRANSCRIPT, student_id(north))
    assert foreign["data"] == {"student": None}
    assert foreign["errors"][0]["message"] == "Not found, or not yours to see."
    async with session_factory() as session:
        readers = set(
            (
                await session.scalars(
                    select(AuditEntry.actor_id).where(
                        AuditEntry.action == "read",
                        AuditEntry.subject_type == "Student",
                        AuditEntry.subject_id == north.student.id,
                    )
                )
            ).all()
        )
    assert {north.guardian.id, north.staff.id, north.admin.id} <= readers
    assert north.student.id not in readers


async def test_a_transcript_costs_statements_flat_in_its_terms_and_classes(
    gql: GraphQLClient, settings: Settings, factory: Factory, north: SchoolData
) -> None:
    admin, staff = gql.as_user(factory.token(north.admin)), factory.token(north.staff)
    async with metered_client(settings) as http:
        spring, _, _ = await last_term(factory, north)
        await close(admin, spring.id)
        few = await statements(http, staff, TRANSCRIPT, student_id(north))
        for n in range(4):
            term = await factory.term(north, f"Year {2020 + n}", date(2020 + n, 1, 1), date(2020 + n, 6, 1))
            for section in range(3):
                klass = await factory.term_class(
                    north, term.id, f"Section {section}", students=[north.student]
                )
                await factory.graded(klass.id, north.student, 7.0)
            if n % 2:
                await close(admin, term.id)
        many = await statements(http, staff, TRANSCRIPT, student_id(north))
    assert many == few
