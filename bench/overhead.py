"""Execution overhead: the same large result through CampusGraph's GraphQL path and through a
hand-written Starlette endpoint that reads the same rows and writes the same JSON with orjson.

    .venv/bin/python -m bench.overhead [--students 1000] [--assignments 10] [--requests 30]
                                       [--rounds 3] [--profile]

What it does, in one process and on one throwaway SQLite file:
1. migrates and seeds the demo schools (scale 1), then adds ONE class taught by
   teacher@northside.test with 1,000 enrolled students x 10 assignments and their grades
   (SQLAlchemy Core inserts);
2. builds the real app (`server.create_app`, production settings, no debug metrics) and mounts
   next to /graphql two more endpoints on the same app and middleware:
   - /hand/gradebook: hand-written: authenticates the token like the app, checks the teacher
     teaches the class, runs the equivalent SQL with SQLAlchemy Core (class+course, assignments,
     enrolled students, grades, category weights, grading scale), reads locks and presence,
     computes letters and final grades with resolvers/grade_math.py, and writes the JSON of the
     contract `Gradebook` operation with orjson;
   - /domain/gradebook: the product's own domain function `resolvers.grading.sheet` (ORM,
     loaders) shaped into the same JSON with orjson: no GraphQL execution. It splits the gap
     into "ORM + domain" and "GraphQL execution";
3. checks that the three bodies are equal (same students, same scores, same final grades);
4. times them through httpx's ASGITransport (the same client path for all), one request at a
   time, interleaved in rounds so that drift on the machine hits each path alike, and prints
   requests/s for each and the ratios GraphQL / hand-written and GraphQL / domain.

The teacher dashboard (contract `TeacherDashboard`) is measured the same way when the schema
has it, against its domain function (`resolvers.teaching.current_dashboard`) + orjson.

`--profile` adds a cProfile of the GraphQL requests (top functions by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, insert, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.common import (
    BENCH_SECRET,
    UNLIMITED_BUDGET,
    contract_operation,
    fetch_all,
    login,
    migrate_and_seed,
    print_machine,
    schema_errors,
    server_env,
)

TEACHER = "teacher@northside.test"
BIG_CLASS_TITLE = "Benchmark Lecture Hall"
CATEGORY_CYCLE = ("HOMEWORK", "QUIZ", "HOMEWORK", "EXAM", "HOMEWORK", "QUIZ", "PROJECT", "PARTICIPATION")
MAX_SCORES = {"HOMEWORK": 20.0, "QUIZ": 25.0, "EXAM": 100.0, "PROJECT": 50.0, "PARTICIPATION": 10.0}
FIRST_NAMES = ("Ada", "Ben", "Chloe", "Dev", "Elif", "Femi", "Gita", "Hugo", "Ines", "Jun", "Kofi", "Lena")
LAST_NAMES = ("Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka", "Usman", "Varga", "Weber")

Json = dict[str, Any]


# --- The big class -------------------------------------------------------------------------------


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


# --- The hand-written endpoint -------------------------------------------------------------------


def final_fields(
    assignments: list[Any], scores: dict[int, float | None], weights: dict[Any, float], scale: Any
) -> Json:
    """The contract's finalGrade: graded work counts, past-due ungraded work counts as zero."""
    from resolvers.grade_math import GradedWork, class_percentage  # noqa: PLC0415

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
    from resolvers import grading, live_grading  # noqa: PLC0415
    from resolvers.auth import authenticate  # noqa: PLC0415
    from resolvers.grade_math import GradingScale  # noqa: PLC0415
    from resolvers.identity import CurrentUser  # noqa: PLC0415
    from resolvers.ids import decode_id_of, encode_id  # noqa: PLC0415

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
        editors = live_grading.editors_payload(await state.presence.editors(class_id))
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
                "editors": _editors_json(live_grading.editors_payload(sheet.editors)),
            },
        )
        return Response(orjson.dumps(body), media_type="application/json")

    return [
        Route("/hand/gradebook", hand_gradebook),
        Route("/domain/gradebook", domain_gradebook),
    ]


def _editors_json(editors: list[Json]) -> list[Json]:
    from resolvers.ids import encode_id  # noqa: PLC0415

    return [
        {
            "user": {"id": encode_id("User", e["id"]), "name": e["name"]},
            "focus": {
                "studentId": encode_id("Student", e["focus"][0]),
                "assignmentId": encode_id("Assignment", e["focus"][1]),
            }
            if e["focus"]
            else None,
        }
        for e in editors
    ]


def teacher_dashboard_route(state: Any) -> Route:
    """/domain/teacher-dashboard: the cached dashboard document (the domain function) with orjson."""
    from resolvers.auth import authenticate  # noqa: PLC0415
    from resolvers.teaching import current_dashboard  # noqa: PLC0415

    async def endpoint(request: Request) -> Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        found = await authenticate(state, token)
        if found is None:
            return JSONResponse({"error": "unauthenticated"}, 401)
        document = await current_dashboard(state, found[0].id)
        return Response(orjson.dumps({"data": {"teacherDashboard": document}}), media_type="application/json")

    return Route("/domain/teacher-dashboard", endpoint)


# --- Timing --------------------------------------------------------------------------------------


Request_ = Callable[[], Awaitable[httpx.Response]]


async def timed_rounds(paths: dict[str, Request_], requests: int, rounds: int) -> dict[str, list[float]]:
    """Per path, the seconds of each request; the paths take turns, `requests / rounds` at a time."""
    seconds: dict[str, list[float]] = {name: [] for name in paths}
    per_round = max(1, requests // rounds)
    for _ in range(rounds):
        for name, send in paths.items():
            for _ in range(per_round):
                started = time.perf_counter()
                response = await send()
                seconds[name].append(time.perf_counter() - started)
                response.raise_for_status()
    return seconds


def report(title: str, seconds: dict[str, list[float]], baseline: str, numerator: str) -> None:
    print(f"\n{title}")
    print(f"  {'path':<44} {'req/s':>8} {'median ms':>10}")
    rates = {}
    for name, values in seconds.items():
        rates[name] = len(values) / sum(values)
        print(f"  {name:<44} {rates[name]:>8.2f} {1000 * statistics.median(values):>10.1f}")
    for name in seconds:
        if name != numerator:
            print(f"  ratio {numerator} / {name}: {rates[numerator] / rates[name]:.3f}")
    print(f"  => GraphQL is {rates[baseline] / rates[numerator]:.2f}x slower than {baseline}")


def first_difference(a: Any, b: Any, path: str = "$") -> str | None:
    """Where two JSON values differ (floats compared to 1e-9), or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a.keys() ^ b.keys())}"
        for key in a:
            if found := first_difference(a[key], b[key], f"{path}.{key}"):
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} items"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            if found := first_difference(x, y, f"{path}[{index}]"):
                return found
        return None
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return None if abs(a - b) < 1e-9 else f"{path}: {a!r} vs {b!r}"
    return None if a == b else f"{path}: {a!r} vs {b!r}"


async def run(args: argparse.Namespace, workdir: Path) -> None:
    from config import Settings  # noqa: PLC0415
    from server import create_app  # noqa: PLC0415

    database_url = f"sqlite:///{workdir / 'overhead.db'}"
    started = time.perf_counter()
    summary = migrate_and_seed(server_env(database_url, workdir), scale=1)
    big = await build_big_class(database_url, args.students, args.assignments)
    print(f"data: {summary}")
    print(
        f"big class: {big.students} students x {big.assignments} assignments, {big.grades} grades "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    settings = Settings(
        database_url=database_url,
        environment="production",
        secret_key=BENCH_SECRET,
        query_cost_budget=UNLIMITED_BUDGET,
        max_query_cost=10_000_000,  # a 1,000-row sheet is over the default per-query cost limit
        media_dir=workdir / "media",
        log_level="WARNING",
        _env_file=None,  # type: ignore[call-arg]
    )
    app = create_app(settings)
    state = app.state.campus
    for route in hand_routes(state):
        app.router.routes.insert(0, route)
    dashboard_errors = schema_errors(contract_operation("TeacherDashboard"))
    if not dashboard_errors:
        app.router.routes.insert(0, teacher_dashboard_route(state))
    gradebook_query = contract_operation("Gradebook")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://campus.test", timeout=120
        ) as http,
    ):
        token = await login(http, TEACHER)
        headers = {"Authorization": f"Bearer {token}"}
        graphql_body = {"query": gradebook_query, "variables": {"classId": big.global_id}}

        def graphql_request() -> Awaitable[httpx.Response]:
            return http.post("/graphql", json=graphql_body, headers=headers)

        def hand_request() -> Awaitable[httpx.Response]:
            return http.get("/hand/gradebook", params={"classId": big.global_id}, headers=headers)

        def domain_request() -> Awaitable[httpx.Response]:
            return http.get("/domain/gradebook", params={"classId": big.global_id}, headers=headers)

        bodies = {
            name: orjson.loads((await send()).content)
            for name, send in (
                ("graphql", graphql_request),
                ("hand", hand_request),
                ("domain", domain_request),
            )
        }
        if "errors" in bodies["graphql"]:
            raise SystemExit(f"the GraphQL Gradebook failed: {bodies['graphql']['errors']}")
        for name in ("hand", "domain"):
            difference = first_difference(bodies["graphql"], bodies[name])
            print(f"body check graphql vs {name}: {'equal' if difference is None else difference}")
        size = len(orjson.dumps(bodies["graphql"]))
        print(f"Gradebook body: {size / 1024:.0f} KiB, {big.students * big.assignments} cells")
        paths = {
            "graphql (POST /graphql Gradebook)": graphql_request,
            "domain (grading.sheet + orjson)": domain_request,
            "hand-written (Core SQL + orjson)": hand_request,
        }
        await timed_rounds(paths, 2 * len(paths), 1)  # warm-up: caches, connection pool
        seconds = await timed_rounds(paths, args.requests, args.rounds)
        report(
            f"Gradebook, {big.students} x {big.assignments}, sequential, {args.requests} requests per path",
            seconds,
            "hand-written (Core SQL + orjson)",
            "graphql (POST /graphql Gradebook)",
        )
        if args.profile:
            await profile_async(graphql_request, 5)

        if dashboard_errors:
            print(f"\nTeacherDashboard: skipped, the schema does not have it yet ({dashboard_errors[0]})")
        else:
            await teacher_dashboard(http, headers, args)


async def profile_async(send: Request_, count: int, name: str = "Gradebook") -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        await send()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print(f"\ncProfile of {count} GraphQL {name} requests (top 25 by own time):")
    print("\n".join(out.getvalue().splitlines()[:45]))


async def teacher_dashboard(
    http: httpx.AsyncClient, headers: dict[str, str], args: argparse.Namespace
) -> None:
    query = contract_operation("TeacherDashboard")
    body = {"query": query, "variables": {}}
    first = orjson.loads((await http.post("/graphql", json=body, headers=headers)).content)
    if "errors" in first:
        print(f"\nTeacherDashboard: the GraphQL path failed: {first['errors'][:1]}")
        return
    document = orjson.loads((await http.get("/domain/teacher-dashboard", headers=headers)).content)
    graphql_classes = [c["title"] for c in first["data"]["teacherDashboard"]["classes"]]
    domain_classes = [c.get("title") for c in document["data"]["teacherDashboard"].get("classes", [])]
    print(
        f"\nTeacherDashboard body check (class titles): "
        f"{'equal' if graphql_classes == domain_classes else f'{graphql_classes} vs {domain_classes}'}"
    )

    def graphql_request() -> Awaitable[httpx.Response]:
        return http.post("/graphql", json=body, headers=headers)

    def domain_request() -> Awaitable[httpx.Response]:
        return http.get("/domain/teacher-dashboard", headers=headers)

    paths = {
        "graphql (POST /graphql TeacherDashboard)": graphql_request,
        "domain (teaching.current_dashboard + orjson)": domain_request,
    }
    await timed_rounds(paths, 4, 1)
    seconds = await timed_rounds(paths, args.requests * 10, args.rounds)
    report(
        "TeacherDashboard (cached per teacher), sequential",
        seconds,
        "domain (teaching.current_dashboard + orjson)",
        "graphql (POST /graphql TeacherDashboard)",
    )
    if args.profile:
        await profile_async(graphql_request, 50, "TeacherDashboard")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--assignments", type=int, default=10)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per path")
    parser.add_argument("--rounds", type=int, default=3, help="the paths take turns this many times")
    parser.add_argument("--profile", action="store_true", help="cProfile the GraphQL requests too")
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
