"""The hand-written endpoints the GraphQL gradebook and teacher dashboard are measured against:
/hand/gradebook (Core SQL and orjson, no GraphQL, no ORM), /domain/gradebook (the product's
`grading.sheet` with orjson) and /domain/teacher-dashboard (bench/overhead.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Json = dict[str, Any]


def final_fields(
    assignments: list[Any], scores: dict[int, float | None], weights: dict[Any, float], scale: Any
) -> Json:
    """The contract's finalGrade: graded work counts, past-due ungraded work counts as zero."""
    from models.grade_math import GradedWork, class_percentage  # noqa: PLC0415

    now = datetime.now(UTC)
    work = []
    for a in assignments:
        score = scores.get(a.id)
        if score is None and a.due_at is not None and a.due_at < now:
            score = 0.0
        if score is not None:
            work.append(GradedWork(a.category, score, a.max_score))
    percentage = class_percentage(work, weights)
    if percentage is None:
        return {"percentage": None, "letter": None, "gradePoints": None}
    grade = scale.grade(percentage)
    return {"percentage": percentage, "letter": grade.letter, "gradePoints": grade.points}


def gradebook_json(
    klass: Json,
    assignments: list[Any],
    students: list[Any],
    cells: dict[tuple[int, int], tuple[float | None, int, str | None]],
    extra: Json,
) -> Json:
    """The contract `Gradebook` shape from plain rows (`cells`: (student, assignment) -> score,
    version, letter; `extra["finals"]`: student -> finalGrade)."""
    from resolvers.ids import encode_id  # noqa: PLC0415

    finals, locks, editors = extra["finals"], extra["locks"], extra["editors"]
    assignment_ids = {a.id: encode_id("Assignment", a.id) for a in assignments}
    rows = []
    for student in students:
        row_cells = []
        for a in assignments:
            score, version, letter = cells.get((student.id, a.id), (None, 0, None))
            lock = locks.get((student.id, a.id))
            row_cells.append(
                {
                    "assignmentId": assignment_ids[a.id],
                    "score": score,
                    "letter": letter,
                    "version": version,
                    "lock": {
                        "holder": {"id": encode_id("User", lock.holder_id), "name": lock.holder_name},
                        "expiresAt": lock.expires_at.isoformat(),
                    }
                    if lock
                    else None,
                }
            )
        rows.append(
            {
                "student": {"id": encode_id("Student", student.id), "name": student.name},
                "cells": row_cells,
                "finalGrade": finals[student.id],
            }
        )
    return {
        "data": {
            "gradebook": {
                "class": klass,
                "assignments": [
                    {
                        "id": assignment_ids[a.id],
                        "title": a.title,
                        "category": a.category.name,
                        "maxScore": a.max_score,
                        "weight": a.weight,
                        "dueAt": a.due_at.isoformat() if a.due_at else None,
                    }
                    for a in assignments
                ],
                "rows": rows,
                "editors": editors,
            }
        }
    }


def hand_routes(state: Any) -> list[Route]:
    """/hand/gradebook (Core SQL) and /domain/gradebook (the product's `grading.sheet`)."""
    from auth.identity import CurrentUser  # noqa: PLC0415
    from context import Context  # noqa: PLC0415
    from models import (  # noqa: PLC0415
        Assignment,
        CategoryWeight,
        Class,
        ClassTeacher,
        Course,
        Enrollment,
        Grade,
        School,
        User,
    )
    from models.enums import EnrollmentStatus  # noqa: PLC0415
    from models.grade_math import GradingScale  # noqa: PLC0415
    from resolvers import grading  # noqa: PLC0415
    from resolvers.auth import authenticate  # noqa: PLC0415
    from resolvers.ids import decode_id_of, encode_id  # noqa: PLC0415
    from subscriptions.editors import editor_entries  # noqa: PLC0415

    async def signed_in(request: Request) -> Any:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return await authenticate(state, token) if token else None

    async def hand_gradebook(request: Request) -> Response:
        found = await signed_in(request)
        if found is None:
            return JSONResponse({"error": "unauthenticated"}, 401)
        user = found[0]
        class_id = decode_id_of(request.query_params["classId"], "Class")
        async with state.engine.connect() as db:
            klass = (
                await db.execute(
                    select(Class.id, Class.school_id, Class.title, Course.code, Course.title.label("course"))
                    .join(Course, Course.id == Class.course_id)
                    .where(Class.id == class_id)
                )
            ).one_or_none()
            teaches = await db.scalar(
                select(func.count())
                .select_from(ClassTeacher)
                .where(ClassTeacher.class_id == class_id, ClassTeacher.teacher_id == user.id)
            )
            if klass is None or klass.school_id != user.school_id or not teaches:
                return JSONResponse({"error": "forbidden"}, 403)
            assignments = (
                await db.execute(
                    select(
                        Assignment.id,
                        Assignment.title,
                        Assignment.category,
                        Assignment.max_score,
                        Assignment.weight,
                        Assignment.due_at,
                    )
                    .where(Assignment.class_id == class_id)
                    .order_by(Assignment.due_at, Assignment.id)
                )
            ).all()
            students = (
                await db.execute(
                    select(User.id, User.name)
                    .join(Enrollment, Enrollment.student_id == User.id)
                    .where(Enrollment.class_id == class_id, Enrollment.status == EnrollmentStatus.ACTIVE)
                    .order_by(User.name, User.id)
                )
            ).all()
            grades = (
                await db.execute(
                    select(Grade.student_id, Grade.assignment_id, Grade.score, Grade.version)
                    .join(Assignment, Assignment.id == Grade.assignment_id)
                    .where(Assignment.class_id == class_id)
                )
            ).all()
            weights = dict(
                (
                    await db.execute(
                        select(CategoryWeight.category, CategoryWeight.weight).where(
                            CategoryWeight.class_id == class_id
                        )
                    )
                ).all()
            )
            scale = GradingScale(
                await db.scalar(select(School.grading_scale).where(School.id == klass.school_id))
            )
        max_scores = {a.id: a.max_score for a in assignments}
        cells = {
            (sid, aid): (score, version, scale.letter_of(score, max_scores[aid]))
            for sid, aid, score, version in grades
        }
        finals = {
            student.id: final_fields(
                list(assignments),
                {a.id: cells.get((student.id, a.id), (None,))[0] for a in assignments},
                weights,
                scale,
            )
            for student in students
        }
        locks = await state.locks.of_class(class_id)
        editors = editor_entries(await state.presence.editors(class_id))
        body = gradebook_json(
            {
                "id": encode_id("Class", klass.id),
                "title": klass.title,
                "course": {"code": klass.code, "title": klass.course},
            },
            list(assignments),
            list(students),
            cells,
            {"finals": finals, "locks": locks, "editors": _editors_json(editors)},
        )
        return Response(orjson.dumps(body), media_type="application/json")

    async def domain_gradebook(request: Request) -> Response:
        found = await signed_in(request)
        if found is None:
            return JSONResponse({"error": "unauthenticated"}, 401)
        ctx = Context(app=state, request=request, response=None)
        ctx.user, ctx.claims = CurrentUser.from_model(found[0]), found[1]
        sheet = await grading.sheet(ctx, request.query_params["classId"])
        course = await ctx.loaders.course_by_id.load(sheet.klass.course_id)
        locks = {(row.student.id, c.assignment_id): c.lock for row in sheet.rows for c in row.cells if c.lock}
        cells = {
            (row.student.id, c.assignment_id): (c.score, c.version, c.letter)
            for row in sheet.rows
            for c in row.cells
        }
        finals = {
            row.student.id: {
                "percentage": row.final.percentage,
                "letter": row.final.letter,
                "gradePoints": row.final.grade_points,
            }
            for row in sheet.rows
        }
        body = gradebook_json(
            {
                "id": encode_id("Class", sheet.klass.id),
                "title": sheet.klass.title,
                "course": {"code": course.code, "title": course.title},
            },
            sheet.assignments,
            [row.student for row in sheet.rows],
            cells,
            {
                "finals": finals,
                "locks": locks,
                "editors": _editors_json(editor_entries(sheet.editors)),
            },
        )
        return Response(orjson.dumps(body), media_type="application/json")

    return [
        Route("/hand/gradebook", hand_gradebook),
        Route("/domain/gradebook", domain_gradebook),
    ]


def _editors_json(editors: Any) -> list[Json]:
    from resolvers.ids import encode_id  # noqa: PLC0415

    return [
        {
            "user": {"id": encode_id("User", e.user_id), "name": e.name},
            "focus": {
                "studentId": encode_id("Student", e.focus[0]),
                "assignmentId": encode_id("Assignment", e.focus[1]),
            }
            if e.focus
            else None,
        }
        for e in editors
    ]


def teacher_dashboard_route(state: Any) -> Route:
    """/domain/teacher-dashboard: the cached dashboard document (the domain function) with orjson."""
    from resolvers.auth import authenticate  # noqa: PLC0415
    from resolvers.teacher_dashboard import current_dashboard  # noqa: PLC0415

    async def endpoint(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        found = await authenticate(state, token)
        if found is None:
            return JSONResponse({"error": "unauthenticated"}, 401)
        document = await current_dashboard(state, found[0].id)
        body = {"data": {"teacherDashboard": document.model_dump(mode="json")}}
        return Response(orjson.dumps(body), media_type="application/json")

    return Route("/domain/teacher-dashboard", endpoint)
