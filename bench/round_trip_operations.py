"""The operations bench/round_trips.py sends, as whom and with which variables, and the demo
ids their variables name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bench.common import fetch_all

TEACHER, STAFF, ADMIN = "teacher@northside.test", "staff@northside.test", "admin@northside.test"
STUDENT, PREMIUM, MENTOR = "student@northside.test", "premium@northside.test", "mentor@northside.test"
GUARDIAN = "guardian@northside.test"
USERS = (TEACHER, STAFF, ADMIN, STUDENT, PREMIUM, MENTOR, GUARDIAN)
FALL = {"from": "2026-10-01T00:00:00Z", "to": "2026-12-31T23:59:59Z"}  # at most 92 days
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()  # attendance is not taken ahead

Ids = dict[str, Any]
Variables = Callable[[Ids], dict[str, Any]]

# Who sends each operation, with which variables. Mutations only where repeating them on a
# throwaway database is harmless; they run once, in this order, after the queries.
QUERIES: dict[str, tuple[str, Variables]] = {
    "Me": (STUDENT, lambda ids: {}),
    "Node": (TEACHER, lambda ids: {"id": ids["student"]}),
    "StudentSearch": (STAFF, lambda ids: {"first": 20}),
    "StudentProfile": (TEACHER, lambda ids: {"id": ids["student"]}),
    "StudentTimeline": (TEACHER, lambda ids: {"id": ids["student"], "first": 20}),
    "StudentsAtRisk": (STAFF, lambda ids: {"riskThreshold": 0.0, "first": 20}),
    "CohortAnalysis": (STAFF, lambda ids: {"cohortYear": ids["cohort_year"]}),
    "Gradebook": (TEACHER, lambda ids: {"classId": ids["class"]}),
    "GradeHistory": (
        TEACHER,
        lambda ids: {"classId": ids["class"], "studentId": ids["student"], "assignmentId": ids["assignment"]},
    ),
    "TeacherDashboard": (TEACHER, lambda ids: {}),
    "StudentProgress": (TEACHER, lambda ids: {"studentId": ids["student"]}),
    "TeacherEarnings": (TEACHER, lambda ids: FALL),
    "ScheduleConflicts": (STAFF, lambda ids: FALL),
    "StudentDashboard": (PREMIUM, lambda ids: {}),
    "DashboardMetrics": (STAFF, lambda ids: {}),
    "Conversations": (MENTOR, lambda ids: {"first": 20}),
    "ConversationMessages": (MENTOR, lambda ids: {"id": ids["conversation"], "last": 20}),
    "Notifications": (STUDENT, lambda ids: {"first": 20}),
    "UserOverview": (STUDENT, lambda ids: {}),
    "RecentActivity": (STUDENT, lambda ids: {}),
    # The roster (issue 16).
    "Terms": (STUDENT, lambda ids: {"first": 10}),
    "Courses": (STUDENT, lambda ids: {"first": 50}),
    "CourseDetail": (STAFF, lambda ids: {"id": ids["course"]}),
    "Classes": (STAFF, lambda ids: {"first": 100}),
    "ClassDetail": (TEACHER, lambda ids: {"id": ids["class"]}),
    "Teachers": (STAFF, lambda ids: {"first": 50}),
    "Users": (ADMIN, lambda ids: {"first": 100}),
    "MyRecords": (GUARDIAN, lambda ids: {}),
    "StudentRecord": (STAFF, lambda ids: {"id": ids["student"]}),
    "ClassGradebook": (TEACHER, lambda ids: {"classId": ids["class"]}),
    "StudentGrades": (STUDENT, lambda ids: {"studentId": ids["student"], "classId": ids["class"]}),
    "StudentTranscript": (STUDENT, lambda ids: {"id": ids["student"]}),
    "RosterImports": (STAFF, lambda ids: {"first": 20}),
}
MUTATIONS: dict[str, tuple[str, Variables]] = {
    "Login": (STUDENT, lambda ids: {"input": {"email": STUDENT, "password": "campus-demo"}}),
    "UpdateGrade": (
        TEACHER,
        lambda ids: {
            "input": {"studentId": ids["student"], "assignmentId": ids["assignment"], "score": 12.5}
        },
    ),
    "BulkUpdateGrades": (
        TEACHER,
        lambda ids: {
            "input": {
                "classId": ids["class"],
                "updates": [
                    {"studentId": s, "assignmentId": ids["assignment"], "score": 15.0}
                    for s in ids["class_students"]
                ],
            }
        },
    ),
    "LockGradeCell": (
        TEACHER,
        lambda ids: {"input": {"studentId": ids["student"], "assignmentId": ids["assignment"]}},
    ),
    "UnlockGradeCell": (
        TEACHER,
        lambda ids: {"input": {"studentId": ids["student"], "assignmentId": ids["assignment"]}},
    ),
    "CalculateFinalGrades": (TEACHER, lambda ids: {"input": {"classId": ids["class"]}}),
    "RecordAttendance": (
        TEACHER,
        lambda ids: {
            "input": {
                "classId": ids["class"],
                "date": YESTERDAY,
                "records": [{"studentId": s, "status": "PRESENT"} for s in ids["class_students"]],
            }
        },
    ),
    "ExportGradebook": (TEACHER, lambda ids: {"input": {"classId": ids["class"], "format": "CSV"}}),
    "TrackDashboardAction": (STUDENT, lambda ids: {"input": {"action": "open-course"}}),
    "MarkNotificationsRead": (STUDENT, lambda ids: {"input": {"all": True}}),
    "MarkConversationRead": (MENTOR, lambda ids: {"input": {"conversationId": ids["conversation"]}}),
    "SetCategoryWeights": (
        TEACHER,
        lambda ids: {"input": {"classId": ids["class"], "weights": ids["category_weights"]}},
    ),
    "CreateAssignment": (
        TEACHER,
        lambda ids: {
            "input": {"classId": ids["class"], "title": "Bench quiz", "category": "QUIZ", "maxScore": 20}
        },
    ),
    "UpdateGradeWithStatus": (
        TEACHER,
        lambda ids: {
            "input": {"studentId": ids["student"], "assignmentId": ids["assignment"], "status": "EXCUSED"}
        },
    ),
    "BulkUpdateGradeStatuses": (
        TEACHER,
        lambda ids: {
            "input": {
                "classId": ids["class"],
                "updates": [
                    {"studentId": s, "assignmentId": ids["assignment"], "status": "MISSING"}
                    for s in ids["class_students"]
                ],
            }
        },
    ),
}


async def demo_ids(database_url: str) -> Ids:
    """Global ids the operations need: the teacher's current class, one of its students..."""
    from models import (  # noqa: PLC0415 - product imports once the database exists
        Assignment,
        CategoryWeight,
        Class,
        ClassTeacher,
        ConversationParticipant,
        Enrollment,
        StudentProfile,
        User,
    )
    from resolvers.ids import encode_id  # noqa: PLC0415

    users = dict(await fetch_all(database_url, select(User.email, User.id).where(User.email.in_(USERS))))
    (class_id,) = (
        await fetch_all(
            database_url,
            select(ClassTeacher.class_id)
            .join(Enrollment, Enrollment.class_id == ClassTeacher.class_id)
            .where(
                ClassTeacher.teacher_id == users[TEACHER],
                Enrollment.student_id == users[STUDENT],
                ClassTeacher.class_id.in_(select(CategoryWeight.class_id)),
            )
            .order_by(ClassTeacher.class_id)
            .limit(1),
        )
    )[0]
    (assignment_id,) = (
        await fetch_all(
            database_url,
            select(Assignment.id).where(Assignment.class_id == class_id).order_by(Assignment.due_at).limit(1),
        )
    )[0]
    students = [
        row[0]
        for row in await fetch_all(
            database_url, select(Enrollment.student_id).where(Enrollment.class_id == class_id)
        )
    ]
    weights = await fetch_all(
        database_url,
        select(CategoryWeight.category, CategoryWeight.weight).where(CategoryWeight.class_id == class_id),
    )
    (course_id,) = (await fetch_all(database_url, select(Class.course_id).where(Class.id == class_id)))[0]
    (cohort_year,) = (
        await fetch_all(
            database_url,
            select(StudentProfile.cohort_year).where(StudentProfile.user_id == users[STUDENT]),
        )
    )[0]
    conversations = await fetch_all(
        database_url,
        select(ConversationParticipant.conversation_id)
        .where(ConversationParticipant.user_id == users[MENTOR])
        .limit(1),
    )
    return {
        "student": encode_id("Student", users[STUDENT]),
        "class": encode_id("Class", class_id),
        "course": encode_id("Course", course_id),
        "category_weights": [{"category": c.value, "weight": w} for c, w in weights],
        "assignment": encode_id("Assignment", assignment_id),
        "class_students": [encode_id("Student", s) for s in students],
        "cohort_year": cohort_year,
        "conversation": encode_id("Conversation", conversations[0][0]) if conversations else None,
    }
