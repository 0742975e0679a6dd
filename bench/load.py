"""Load: throughput and latency of the main contract queries against `serve --workers 2` on
PostgreSQL + Redis, from a bounded asyncio load generator on loopback.

    .venv/bin/python -m bench.load [--scale 5] [--concurrency 16] [--seconds 15]

Setup (all throwaway, all stopped at the end): a fresh PostgreSQL database on 127.0.0.1:5432
(user postgres) seeded with `seed --demo --scale N`, a private redis-server, the microservice
simulator, and `server.py serve --workers 2` in production mode.

Scenarios, each for a fixed time with `--concurrency` clients sending back to back:
- healthz: GET /healthz, the ceiling of this client + uvicorn on this machine;
- TeacherDashboard (teacher@northside, cached per teacher; skipped when not in the schema);
- Gradebook (teacher@northside, one of their classes: 30 students x 17 assignments);
- StudentSearch (staff@northside; four variable sets in turn: none, a name, a filter, page 2 size);
- StudentDashboard warm: student@northside's own, again and again (served from the cache);
- StudentDashboard cold: staff asking for a different student each time (a cache miss each,
  which assembles the dashboard and calls the seven read microservices); it stops early when
  every student was asked for once. `dashboardMetrics` shows the hit rate before and after.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio streams (one connection
per simulated client; httpx costs ~3 ms of client CPU a request, which on 2 cores would take
the server's CPU). It prints requests/s, p50/p90/p99 latency, errors, and where the machine's
CPU went (percent of one core): the server processes (also per request: the figure least
disturbed by other load), its dependencies (this database's PostgreSQL backends, this Redis, the
simulator), this client, and everything else on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import select

from bench.common import (
    Server,
    contract_operation,
    cpu_seconds_matching,
    fetch_all,
    graphql,
    logins,
    machine_cpu_seconds,
    migrate_and_seed,
    percentile,
    print_machine,
    redis_server,
    schema_errors,
    server,
    server_env,
    service_env,
    simulator,
    throwaway_database,
)

TEACHER, STUDENT = "teacher@northside.test", "student@northside.test"
STAFF = {"northside": "staff@northside.test", "riverside": "staff@riverside.test"}

# One request: method, path, JSON body (None for GET), bearer token.
Call = tuple[str, str, bytes | None, str | None]


@dataclass
class Result:
    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    seconds: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    deps_cpu: float = 0.0
    machine_cpu: float = 0.0

    HEADER = (
        f"{'scenario':<24} {'requests':>8} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
        f"{'errors':>6} {'srv ms/req':>10} {'srv cpu%':>8} {'deps%':>6} {'cli cpu%':>8} {'other%':>7}"
    )

    def line(self) -> str:
        count = len(self.latencies)
        ms = [1000 * x for x in self.latencies]
        rate = count / self.seconds if self.seconds else 0.0
        cores = 100 / self.seconds if self.seconds else 0.0
        other = self.machine_cpu - self.server_cpu - self.deps_cpu - self.client_cpu
        per_request = 1000 * self.server_cpu / count if count else float("nan")
        return (
            f"{self.name:<24} {count:>8} {rate:>7.1f} {percentile(ms, 50):>7.1f} {percentile(ms, 90):>7.1f} "
            f"{percentile(ms, 99):>7.1f} {self.errors:>6} {per_request:>10.1f} "
            f"{self.server_cpu * cores:>8.0f} {self.deps_cpu * cores:>6.0f} {self.client_cpu * cores:>8.0f} "
            f"{other * cores:>7.0f}"
        )


def graphql_call(query: str, variables: dict[str, Any], token: str) -> Call:
    return ("POST", "/graphql", orjson.dumps({"query": query, "variables": variables}), token)


class Connection:
    """HTTP/1.1 keep-alive on one socket; answers must carry Content-Length (uvicorn's do)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, call: Call) -> tuple[int, bytes]:
        method, path, body, token = call
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        status_line = await self.reader.readuntil(b"\r\n")
        length = None
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("an answer without Content-Length")
        return int(status_line.split()[1]), await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def run_scenario(
    name: str, calls: Iterator[Call], target: Server, concurrency: int, seconds: float, deps: list[str]
) -> Result:
    """`concurrency` clients send `calls` back to back until `seconds` pass or `calls` runs out."""
    result = Result(name)
    ends = time.monotonic() + seconds

    async def client() -> None:
        connection = Connection(target.port)
        try:
            while time.monotonic() < ends:
                call = next(calls, None)
                if call is None:
                    return
                started = time.perf_counter()
                try:
                    status, body = await connection.request(call)
                    failed = status != 200 or b'"errors"' in body[:200_000]
                    detail = body[:200].decode(errors="replace") if failed else ""
                except (OSError, asyncio.IncompleteReadError, RuntimeError) as error:
                    failed, detail = True, repr(error)
                    connection.close()
                    connection = Connection(target.port)
                result.latencies.append(time.perf_counter() - started)
                if failed:
                    result.errors += 1
                    result.first_error = result.first_error or detail
        finally:
            connection.close()

    cpu, client_cpu, machine_cpu = target.cpu_seconds(), time.process_time(), machine_cpu_seconds()
    deps_cpu = cpu_seconds_matching(deps)
    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    result.seconds = time.monotonic() - started
    result.server_cpu = target.cpu_seconds() - cpu
    result.client_cpu = time.process_time() - client_cpu
    result.machine_cpu = machine_cpu_seconds() - machine_cpu
    result.deps_cpu = cpu_seconds_matching(deps) - deps_cpu
    return result


async def student_ids_by_school(database_url: str) -> dict[str, list[str]]:
    from models import School, StudentProfile  # noqa: PLC0415
    from resolvers.ids import encode_id  # noqa: PLC0415

    rows = await fetch_all(
        database_url,
        select(School.slug, StudentProfile.user_id)
        .join(School, School.id == StudentProfile.school_id)
        .order_by(StudentProfile.user_id),
    )
    found: dict[str, list[str]] = {}
    for slug, user_id in rows:
        found.setdefault(slug, []).append(encode_id("Student", user_id))
    return found


async def teacher_class(database_url: str) -> str:
    from models import CategoryWeight, ClassTeacher, User  # noqa: PLC0415
    from resolvers.ids import encode_id  # noqa: PLC0415

    rows = await fetch_all(
        database_url,
        select(ClassTeacher.class_id)
        .join(User, User.id == ClassTeacher.teacher_id)
        .where(User.email == TEACHER, ClassTeacher.class_id.in_(select(CategoryWeight.class_id)))
        .order_by(ClassTeacher.class_id)
        .limit(1),
    )
    return encode_id("Class", rows[0][0])


def cold_dashboards(students: dict[str, list[str]], tokens: dict[str, str]) -> Iterator[Call]:
    """Each student once, alternating schools, each asked for by their school's staff."""
    query = contract_operation("StudentDashboard")
    per_school = [
        [graphql_call(query, {"studentId": s}, tokens[STAFF[school]]) for s in ids]
        for school, ids in students.items()
    ]
    for pair in itertools.zip_longest(*per_school):
        yield from (call for call in pair if call is not None)


async def dashboard_metrics(target: Server, token: str) -> str:
    async with httpx.AsyncClient(base_url=target.base_url, timeout=30) as http:
        result = await graphql(http, contract_operation("DashboardMetrics"), {}, token)
    metrics = (result.get("data") or {}).get("dashboardMetrics")
    if not metrics:
        return f"unavailable: {result.get('errors')}"
    return f"cacheHitRate={metrics['cacheHitRate']} cachedDashboards={metrics['cachedDashboards']}"


async def run(args: argparse.Namespace, workdir: Path) -> None:
    with (
        throwaway_database("postgres", workdir) as database_url,
        redis_server(workdir) as redis_url,
        simulator(workdir) as simulator_url,
    ):
        env = server_env(database_url, workdir, redis_url, **service_env(simulator_url))
        started = time.monotonic()
        summary = migrate_and_seed(env, args.scale)
        print(
            f"data (PostgreSQL, scale {args.scale}, seeded in {time.monotonic() - started:.0f} s): {summary}"
        )
        class_id = await teacher_class(database_url)
        students = await student_ids_by_school(database_url)
        # PostgreSQL backends of this database, this redis-server, this simulator
        deps = [
            database_url.rsplit("/", 1)[1],
            redis_url.split("//")[1].rsplit("/", 1)[0],
            f"services.simulator --port {simulator_url.rsplit(':', 1)[1]}",
        ]
        with server(env, workdir, workers=args.workers) as target:
            tokens = await logins(target.base_url, [TEACHER, STUDENT, *STAFF.values()])
            staff = tokens[STAFF["northside"]]
            search = contract_operation("StudentSearch")
            search_variables = [
                {"first": 20},
                {"query": "an", "first": 20},
                {"filter": {"gradeLevel": [9, 10]}, "first": 20},
                {"first": 100},
            ]
            scenarios: list[tuple[str, Callable[[], Iterator[Call]]]] = [
                ("healthz", lambda: itertools.repeat(("GET", "/healthz", None, None))),
            ]
            if errors := schema_errors(contract_operation("TeacherDashboard")):
                print(f"TeacherDashboard: skipped, not in the schema yet ({errors[0][:80]})")
            else:
                query = contract_operation("TeacherDashboard")
                scenarios.append(
                    ("TeacherDashboard", lambda: itertools.repeat(graphql_call(query, {}, tokens[TEACHER])))
                )
            gradebook = graphql_call(contract_operation("Gradebook"), {"classId": class_id}, tokens[TEACHER])
            dashboard = graphql_call(contract_operation("StudentDashboard"), {}, tokens[STUDENT])
            scenarios += [
                ("Gradebook", lambda: itertools.repeat(gradebook)),
                (
                    "StudentSearch",
                    lambda: itertools.cycle([graphql_call(search, v, staff) for v in search_variables]),
                ),
                ("StudentDashboard warm", lambda: itertools.repeat(dashboard)),
                ("StudentDashboard cold", lambda: cold_dashboards(students, tokens)),
            ]
            print(
                f"server: serve --workers {args.workers}; client: {args.concurrency} concurrent, "
                f"{args.seconds:.0f} s per scenario after a 2 s warm-up (cold: no warm-up)\n"
            )
            print(Result.HEADER)
            notes = []
            for name, calls in scenarios:
                if name == "StudentDashboard cold":
                    notes.append(f"dashboard cache before cold: {await dashboard_metrics(target, staff)}")
                else:
                    await run_scenario(name, calls(), target, args.concurrency, 2.0, deps)
                result = await run_scenario(name, calls(), target, args.concurrency, args.seconds, deps)
                print(result.line(), flush=True)
                if result.first_error:
                    notes.append(f"{name}: first error: {result.first_error}")
            notes.append(f"dashboard cache after cold: {await dashboard_metrics(target, staff)}")
            print("\n" + "\n".join(notes))
            print(f"server RSS after the run: {target.rss_bytes() / 2**20:.0f} MiB (all processes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--scale", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
