"""Builders of test data, and access tokens for it. Each call commits what it builds."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.passwords import hash_password
from auth.tokens import AccessClaims, issue_access_token, new_session_id
from config import Settings
from models import (
    Assignment,
    AttendanceRecord,
    Class,
    ClassTeacher,
    Course,
    Enrollment,
    Grade,
    GuardianLink,
    MeetingTime,
    MentorLink,
    School,
    StudentProfile,
    TeacherProfile,
    Term,
    TutoringSession,
    User,
)
from models.enums import AssignmentCategory, AttendanceStatus, Role, SessionStatus, StudentStatus, Tier
from resolvers.analytics import refresh_student_risk

PASSWORD = "correct horse battery"
PASSWORD_HASH = hash_password(PASSWORD)
_numbers = itertools.count(1)


@dataclass
class SchoolData:
    school: School
    admin: User
    staff: User
    teacher: User
    other_teacher: User
    mentor: User
    guardian: User
    student: User
    other_student: User
    klass: Class
    course: Course
    users: dict[str, User] = field(default_factory=dict)


class Factory:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.session_factory = session_factory
        self.settings = settings

    def token(self, user: User, *, minutes: int = 15, session_id: str | None = None) -> str:
        now = datetime.now(UTC)
        claims = AccessClaims(
            user.id,
            user.school_id,
            user.role,
            user.tier,
            session_id or new_session_id(),
            now,
            now + timedelta(minutes=minutes),
        )
        return issue_access_token(claims, self.settings.secret_key)

    async def school(self, slug: str, *, invitation_code: str | None = None) -> SchoolData:
        """A school with one of each role; `student` is in `teacher`'s class, `other_student` is not."""
        async with self.session_factory.begin() as session:
            school = School(name=f"{slug.title()} School", slug=slug, invitation_code=invitation_code)
            session.add(school)
            await session.flush()
            term = Term(
                school_id=school.id, name="Fall", starts_on=date(2026, 9, 1), ends_on=date(2027, 1, 31)
            )
            course = Course(
                school_id=school.id, code=f"{slug[:3].upper()}101", title="Algebra", credits=Decimal(3)
            )
            session.add_all([term, course])
            await session.flush()
            people = {
                name: self._user(session, school, name, role)
                for name, role in [
                    ("admin", Role.ADMIN),
                    ("staff", Role.STAFF),
                    ("teacher", Role.TEACHER),
                    ("other_teacher", Role.TEACHER),
                    ("mentor", Role.MENTOR),
                    ("guardian", Role.GUARDIAN),
                    ("student", Role.STUDENT),
                    ("other_student", Role.STUDENT),
                ]
            }
            await session.flush()
            for name in ("teacher", "other_teacher"):
                session.add(
                    TeacherProfile(user_id=people[name].id, school_id=school.id, session_rate_cents=4500)
                )
            for name in ("student", "other_student"):
                session.add(self._profile(school, people[name]))
            klass = Class(
                school_id=school.id, course_id=course.id, term_id=term.id, title="Algebra A", room="101"
            )
            session.add(klass)
            await session.flush()
            session.add_all(
                [
                    ClassTeacher(class_id=klass.id, teacher_id=people["teacher"].id, is_primary=True),
                    Enrollment(class_id=klass.id, student_id=people["student"].id),
                    MentorLink(mentor_id=people["mentor"].id, student_id=people["student"].id),
                    GuardianLink(guardian_id=people["guardian"].id, student_id=people["student"].id),
                ]
            )
            await session.flush()
            student_ids = [people["student"].id, people["other_student"].id]
            await refresh_student_risk(session, student_ids, datetime.now(UTC))
        return SchoolData(school=school, klass=klass, course=course, users=people, **people)

    def _user(self, session: AsyncSession, school: School, name: str, role: Role) -> User:
        user = User(
            school_id=school.id,
            email=f"{name}@{school.slug}.test",
            name=f"{name.replace('_', ' ').title()} of {school.slug}",
            password_hash=PASSWORD_HASH,
            role=role,
            tier=Tier.FREE,
        )
        session.add(user)
        return user

    @staticmethod
    def _profile(school: School, user: User) -> StudentProfile:
        return StudentProfile(
            user_id=user.id,
            school_id=school.id,
            student_number=f"T-{next(_numbers):06d}",
            grade_level=10,
            cohort_year=2028,
        )

    async def term(self, school: SchoolData, name: str, starts_on: date, ends_on: date) -> Term:
        """An OPEN term of the school, without classes."""
        async with self.session_factory.begin() as session:
            term = Term(school_id=school.school.id, name=name, starts_on=starts_on, ends_on=ends_on)
            session.add(term)
        return term

    async def course(self, school: SchoolData, code: str, credits: float) -> Course:
        async with self.session_factory.begin() as session:
            course = Course(
                school_id=school.school.id, code=code, title=f"Course {code}", credits=Decimal(credits)
            )
            session.add(course)
        return course

    async def term_class(
        self,
        school: SchoolData,
        term_id: int,
        title: str,
        *,
        course: Course | None = None,
        students: Sequence[User] = (),
    ) -> Class:
        """A class of the term (of `school.course` by default) taught by `school.teacher`, with
        `students` ACTIVE in it."""
        async with self.session_factory.begin() as session:
            klass = Class(
                school_id=school.school.id,
                course_id=(course or school.course).id,
                term_id=term_id,
                title=title,
            )
            session.add(klass)
            await session.flush()
            session.add(ClassTeacher(class_id=klass.id, teacher_id=school.teacher.id, is_primary=True))
            session.add_all(Enrollment(class_id=klass.id, student_id=student.id) for student in students)
        return klass

    async def graded(self, class_id: int, student: User, score: float, *, max_score: float = 10.0) -> int:
        """A quiz of the class, due yesterday, and the student's score on it; the quiz's id."""
        async with self.session_factory.begin() as session:
            quiz = Assignment(
                class_id=class_id, title=f"Quiz {next(_numbers)}", category=AssignmentCategory.QUIZ,
                max_score=max_score, due_at=datetime.now(UTC) - timedelta(days=1),
            )  # fmt: skip
            session.add(quiz)
            await session.flush()
            session.add(Grade(assignment_id=quiz.id, student_id=student.id, score=score))
        return quiz.id

    async def students(self, school: SchoolData, names: Sequence[str]) -> list[User]:
        """New students of the school (with student records), one per name."""
        async with self.session_factory.begin() as session:
            users = [
                self._user(session, school.school, f"pupil{next(_numbers)}", Role.STUDENT) for _ in names
            ]
            for user, name in zip(users, names, strict=True):
                user.name = name
            await session.flush()
            session.add_all(self._profile(school.school, user) for user in users)
        return users

    async def section(
        self,
        school: SchoolData,
        title: str,
        *,
        term_id: int | None = None,
        course: Course | None = None,
        room: str | None = None,
        capacity: int | None = None,
        teachers: Sequence[User] | None = None,
        students: Sequence[User] = (),
        meetings: Sequence[tuple[int, time, time]] = (),
    ) -> Class:
        """A class (of `school.course`, in `school.klass`'s term, taught by `school.teacher` by
        default) with its teachers (the first primary), ACTIVE students and weekly meetings."""
        async with self.session_factory.begin() as session:
            klass = Class(
                school_id=school.school.id,
                course_id=(course or school.course).id,
                term_id=term_id or school.klass.term_id,
                title=title,
                room=room,
                capacity=capacity,
            )
            session.add(klass)
            await session.flush()
            for index, teacher in enumerate(teachers if teachers is not None else [school.teacher]):
                session.add(ClassTeacher(class_id=klass.id, teacher_id=teacher.id, is_primary=index == 0))
            session.add_all(Enrollment(class_id=klass.id, student_id=student.id) for student in students)
            session.add_all(
                MeetingTime(class_id=klass.id, weekday=day, starts_at=start, ends_at=end)
                for day, start, end in meetings
            )
        return klass

    async def empty_school(self, slug: str) -> tuple[School, User]:
        """A school with nothing in it but one staff account (who may import into it)."""
        async with self.session_factory.begin() as session:
            school = School(name=f"{slug.title()} School", slug=slug)
            session.add(school)
            await session.flush()
            staff = self._user(session, school, "staff", Role.STAFF)
        return school, staff


@dataclass
class Roster:
    """Many students in one class of a school, with graded work and attendance."""

    student_ids: list[int]
    assignment_ids: list[int]


async def populate(
    session_factory: async_sessionmaker[AsyncSession],
    data: SchoolData,
    students: int,
    *,
    assignments: int = 4,
    names: Sequence[str] | None = None,
) -> Roster:
    """Adds `students` students to `data.klass` (graded, with attendance) and refreshes their risk."""
    school = data.school
    now = datetime.now(UTC)
    async with session_factory.begin() as session:
        user_rows = [
            {
                "school_id": school.id,
                "email": f"pupil{next(_numbers)}@{school.slug}.test",
                "name": names[n] if names else f"Pupil {n:04d} {school.slug.title()}",
                "password_hash": PASSWORD_HASH,
                "role": Role.STUDENT,
                "tier": Tier.FREE,
                "created_at": now,
            }
            for n in range(students)
        ]
        ids = [row.id for row in (await session.execute(insert(User).returning(User.id), user_rows)).all()]
        await session.execute(
            insert(StudentProfile),
            [
                {
                    "user_id": user_id,
                    "school_id": school.id,
                    "student_number": f"P-{next(_numbers):06d}",
                    "grade_level": 9 + n % 4,
                    "cohort_year": 2025 + n % 2,
                    "status": StudentStatus.ENROLLED if n % 7 else StudentStatus.ON_LEAVE,
                }
                for n, user_id in enumerate(ids)
            ],
        )
        await session.execute(
            insert(Enrollment), [{"class_id": data.klass.id, "student_id": user_id} for user_id in ids]
        )
        work = [
            {
                "class_id": data.klass.id,
                "title": f"Quiz {n}",
                "category": AssignmentCategory.QUIZ,
                "max_score": 10.0,
                "due_at": now - timedelta(days=30 - n),
            }
            for n in range(assignments)
        ]
        assignment_ids = [
            row.id for row in (await session.execute(insert(Assignment).returning(Assignment.id), work)).all()
        ]
        await session.execute(
            insert(Grade),
            [
                {
                    "assignment_id": a,
                    "student_id": s,
                    "score": float((s + a) % 11),
                    "updated_by_id": data.teacher.id,
                }
                for s in ids
                for a in assignment_ids
            ],
        )
        await session.execute(
            insert(AttendanceRecord),
            [
                {
                    "class_id": data.klass.id,
                    "student_id": s,
                    "date": (now - timedelta(days=day)).date(),
                    "status": AttendanceStatus.ABSENT if (s + day) % 5 == 0 else AttendanceStatus.PRESENT,
                    "recorded_by_id": data.teacher.id,
                }
                for s in ids
                for day in range(1, 6)
            ],
        )
        await refresh_student_risk(session, ids, now)
    return Roster(student_ids=ids, assignment_ids=assignment_ids)


async def teaching_load(
    session_factory: async_sessionmaker[AsyncSession],
    data: SchoolData,
    classes: int,
    students: int,
    *,
    assignments: int = 8,
) -> list[int]:
    """Adds `classes` classes taught by `data.teacher`, each with `students` new students, graded
    work (the newest assignment past due and ungraded), attendance, risk snapshots and tutoring
    sessions (completed, missed and upcoming). Returns the new classes' ids."""
    school = data.school
    now = datetime.now(UTC)
    async with session_factory.begin() as session:
        class_rows = [
            {"school_id": school.id, "course_id": data.course.id, "term_id": data.klass.term_id,
             "title": f"Section {n:02d}", "room": f"R{n:02d}"}
            for n in range(classes)
        ]  # fmt: skip
        class_ids = [
            row.id for row in (await session.execute(insert(Class).returning(Class.id), class_rows)).all()
        ]
        await session.execute(
            insert(ClassTeacher),
            [{"class_id": c, "teacher_id": data.teacher.id, "is_primary": True} for c in class_ids],
        )
        user_rows = [
            {"school_id": school.id, "email": f"load{next(_numbers)}@{school.slug}.test",
             "name": f"Learner {n:04d}", "password_hash": PASSWORD_HASH, "role": Role.STUDENT,
             "tier": Tier.FREE, "created_at": now}
            for n in range(classes * students)
        ]  # fmt: skip
        ids = [row.id for row in (await session.execute(insert(User).returning(User.id), user_rows)).all()]
        await session.execute(
            insert(StudentProfile),
            [
                {"user_id": s, "school_id": school.id, "student_number": f"L-{next(_numbers):06d}",
                 "grade_level": 10, "cohort_year": 2027}
                for s in ids
            ],
        )  # fmt: skip
        roster = {c: ids[n * students : (n + 1) * students] for n, c in enumerate(class_ids)}
        await session.execute(
            insert(Enrollment),
            [{"class_id": c, "student_id": s} for c, members in roster.items() for s in members],
        )
        work = [
            {"class_id": c, "title": f"Work {n}", "category": AssignmentCategory.HOMEWORK, "max_score": 10.0,
             "due_at": now - timedelta(days=2 * (assignments - n))}
            for c in class_ids
            for n in range(assignments)
        ]  # fmt: skip
        assignment_rows = (
            await session.execute(insert(Assignment).returning(Assignment.id, Assignment.class_id), work)
        ).all()
        graded = {a for a, _ in assignment_rows} - {
            max(a for a, c in assignment_rows if c == k) for k in class_ids
        }
        await session.execute(
            insert(Grade),
            [
                {
                    "assignment_id": a,
                    "student_id": s,
                    "score": float((s * 7 + a) % 11),
                    "updated_by_id": data.teacher.id,
                }
                for a, c in assignment_rows
                if a in graded
                for s in roster[c]
            ],
        )
        await session.execute(
            insert(AttendanceRecord),
            [
                {"class_id": c, "student_id": s, "date": (now - timedelta(days=day)).date(),
                 "status": AttendanceStatus.ABSENT if (s + day) % 3 == 0 else AttendanceStatus.PRESENT,
                 "recorded_by_id": data.teacher.id}
                for c, members in roster.items()
                for s in members
                for day in range(1, 6)
            ],
        )  # fmt: skip
        sessions = []
        for n, (c, members) in enumerate(roster.items()):
            for offset, status in (
                (-20, SessionStatus.COMPLETED),
                (-10, SessionStatus.NO_SHOW),
                (5, SessionStatus.SCHEDULED),
            ):
                starts = now + timedelta(days=offset, hours=n)
                sessions.append(
                    {
                        "school_id": school.id,
                        "teacher_id": data.teacher.id,
                        "student_id": members[0],
                        "class_id": c,
                        "room": f"R{n:02d}",
                        "starts_at": starts,
                        "ends_at": starts + timedelta(hours=1),
                        "status": status,
                        "attended": {SessionStatus.COMPLETED: True, SessionStatus.NO_SHOW: False}.get(status),
                        "completed_at": starts + timedelta(hours=1) if offset < 0 else None,
                        "rate_cents": 4500,
                        "topics_covered": [],
                        "currency": "USD",
                    }
                )
        await session.execute(insert(TutoringSession), sessions)
        await refresh_student_risk(session, ids, now)
    return class_ids


async def book_session(
    session_factory: async_sessionmaker[AsyncSession],
    data: SchoolData,
    starts_at: datetime,
    *,
    teacher: User | None = None,
    student: User | None = None,
    room: str = "101",
    status: SessionStatus = SessionStatus.SCHEDULED,
    rate_cents: int = 4500,
    paid: bool = False,
) -> int:
    """A one-hour tutoring session (by default of `data.teacher` with `data.student`); its id."""
    done = status in (SessionStatus.COMPLETED, SessionStatus.NO_SHOW)
    async with session_factory.begin() as session:
        booked = TutoringSession(
            school_id=data.school.id,
            teacher_id=(teacher or data.teacher).id,
            student_id=(student or data.student).id,
            room=room,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=1),
            status=status,
            attended={SessionStatus.COMPLETED: True, SessionStatus.NO_SHOW: False}.get(status),
            completed_at=starts_at + timedelta(hours=1) if done else None,
            rate_cents=rate_cents,
            topics_covered=[],
            paid_out_at=starts_at + timedelta(days=20) if paid else None,
        )
        session.add(booked)
    return booked.id
