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
has it, against its domain function (`resolvers.teacher_dashboard.current_dashboard`) + orjson.

`--profile` adds a cProfile of the GraphQL requests (top functions by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.big_class import build_big_class
from bench.common import (
    BENCH_SECRET,
    UNLIMITED_BUDGET,
    contract_operation,
    login,
    migrate_and_seed,
    print_machine,
    schema_errors,
    server_env,
)
from bench.hand_written import hand_routes, teacher_dashboard_route

TEACHER = "teacher@northside.test"

Json = dict[str, Any]


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
        "domain (teacher_dashboard.current_dashboard + orjson)": domain_request,
    }
    await timed_rounds(paths, 4, 1)
    seconds = await timed_rounds(paths, args.requests * 10, args.rounds)
    report(
        "TeacherDashboard (cached per teacher), sequential",
        seconds,
        "domain (teacher_dashboard.current_dashboard + orjson)",
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
