"""The benchmark's big class: a lecture hall of N students and M assignments, all graded, added
to the seeded demo school (bench/overhead.py measures its gradebook)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from bench.common import fetch_all

TEACHER = "teacher@northside.test"
BIG_CLASS_TITLE = "Benchmark Lecture Hall"
CATEGORY_CYCLE = ("HOMEWORK", "QUIZ", "HOMEWORK", "EXAM", "HOMEWORK", "QUIZ", "PROJECT", "PARTICIPATION")
MAX_SCORES = {"HOMEWORK": 20.0, "QUIZ": 25.0, "EXAM": 100.0, "PROJECT": 50.0, "PARTICIPATION": 10.0}
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jun", "Kofi", "Lena")
LAST_NAMES = ("Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka", "Usman", "Varga", "Weber")


@dataclass(frozen=True)
class BigClass:
    class_id: int
    global_id: str
    teacher_id: int
    students: int
    assignments: int
    grades: int


async def build_big_class(database_url: str, students: int, assignments: int) -> BigClass:
    """One class of the demo teacher with `students` x `assignments` graded cells (deterministic)."""
    from config import Settings  # noqa: PLC0415
    from models import (  # noqa: PLC0415 - product imports after the database exists
        Assignment,
        CategoryWeight,
        Class,
        ClassTeacher,
        Enrollment,
        Grade,
        StudentProfile,
        User,
    )
    from models.db import create_engine  # noqa: PLC0415
    from models.enums import AssignmentCategory, EnrollmentStatus, Role  # noqa: PLC0415
    from resolvers.ids import encode_id  # noqa: PLC0415

    rng = random.Random(9)
    (teacher,) = await fetch_all(database_url, select(User).where(User.email == TEACHER))
    (model_class,) = await fetch_all(
        database_url,
        select(Class)
        .join(ClassTeacher, ClassTeacher.class_id == Class.id)
        .where(
            ClassTeacher.teacher_id == teacher.id,
            Class.id.in_(select(CategoryWeight.class_id)),  # a current class (old ones have no weights)
        )
        .order_by(Class.id)
        .limit(1),
    )
    weights = await fetch_all(
        database_url,
        select(CategoryWeight.category, CategoryWeight.weight).where(
            CategoryWeight.class_id == model_class.id
        ),
    )
    now = datetime.now(UTC)
    engine = create_engine(Settings(database_url=database_url, environment="test", _env_file=None))  # type: ignore[call-arg]
    try:
        async with engine.begin() as db:
            class_id = (
                await db.execute(
                    insert(Class).returning(Class.id),
                    [
                        {
                            "school_id": model_class.school_id,
                            "course_id": model_class.course_id,
                            "term_id": model_class.term_id,
                            "title": BIG_CLASS_TITLE,
                            "room": "Auditorium",
                        }
                    ],
                )
            ).scalar_one()
            await db.execute(
                insert(ClassTeacher), [{"class_id": class_id, "teacher_id": teacher.id, "is_primary": True}]
            )
            await db.execute(
                insert(CategoryWeight),
                [{"class_id": class_id, "category": c, "weight": w} for c, w in weights],
            )
            user_rows = [
                {
                    "school_id": model_class.school_id,
                    "email": f"bench-student-{i:05d}@northside.test",
                    "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)} {i:04d}",
                    "password_hash": teacher.password_hash,
                    "role": Role.STUDENT,
                }
                for i in range(students)
            ]
            student_ids = list((await db.execute(insert(User).returning(User.id), user_rows)).scalars())
            await db.execute(
                insert(StudentProfile),
                [
                    {
                        "user_id": sid,
                        "school_id": model_class.school_id,
                        "student_number": f"BN-{i:06d}",
                        "grade_level": 9,
                        "cohort_year": 2026,
                    }
                    for i, sid in enumerate(student_ids)
                ],
            )
            await db.execute(
                insert(Enrollment),
                [
                    {"class_id": class_id, "student_id": sid, "status": EnrollmentStatus.ACTIVE}
                    for sid in student_ids
                ],
            )
            assignment_rows = []
            for index in range(assignments):
                category = CATEGORY_CYCLE[index % len(CATEGORY_CYCLE)]
                due = now + timedelta(days=7 * (index - assignments + 2))  # the last two are not due yet
                assignment_rows.append(
                    {
                        "class_id": class_id,
                        "title": f"{category.title()} {index + 1}",
                        "category": AssignmentCategory(category),
                        "weight": 1.0,
                        "max_score": MAX_SCORES[category],
                        "due_at": due,
                    }
                )
            assignment_ids = list(
                (await db.execute(insert(Assignment).returning(Assignment.id), assignment_rows)).scalars()
            )
            grade_rows = [
                {
                    "assignment_id": aid,
                    "student_id": sid,
                    "score": round(rng.uniform(0.4, 1.0) * row["max_score"], 1)
                    if rng.random() > 0.05
                    else None,
                    "version": rng.randint(1, 3),
                    "updated_by_id": teacher.id,
                }
                for aid, row in zip(assignment_ids, assignment_rows, strict=True)
                for sid in student_ids
                if rng.random() > 0.03  # a few cells were never graded (version 0, no row)
            ]
            for start in range(0, len(grade_rows), 5000):
                await db.execute(insert(Grade), grade_rows[start : start + 5000])
    finally:
        await engine.dispose()
    return BigClass(
        class_id, encode_id("Class", class_id), teacher.id, students, assignments, len(grade_rows)
    )
