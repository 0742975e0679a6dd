"""Typo-tolerant search latency on 10,000 students: the StudentSearch and Users contract
operations over HTTP, correctly spelled and with one typo.

    .venv/bin/python -m bench.typo_search [--database sqlite|postgres|both] [--students 10000] [--runs 30]

For each database (a SQLite file, a throwaway PostgreSQL database that is dropped afterwards) it
migrates an empty database, inserts one school with `--students` students in bulk (names drawn
from seed/names.py, plus Rivera and Smith, which the issue's examples use; unique student
numbers and e-mail addresses first.last, first.last2, ... as the seed makes them), one staff and
one admin account, runs ANALYZE on PostgreSQL (as autovacuum would soon after such a load),
starts `server.py serve` (one worker, DEBUG_METRICS=1) and signs both accounts in.

Then, one request at a time, for each query of QUERIES: StudentSearch as the staff account
(`students(query: Q, first: 20)`, with its facets) and Users as the admin (`users(filter:
{query: Q}, first: 20)`, over every account of the school): 3 warm-up requests, then `--runs`
timed ones. Per query and operation it prints the latency percentiles p50 and p90 in ms (the
client's wall time of the HTTP request), the totalCount, how many rows of the first page have
the expected name in their name (computed from the response), and the SQL statements of one
request (`extensions.metrics.sqlStatements`; the bearer token's check is not in it).

A word of five letters or more takes the typo-forgiving path (resolvers/text_search.py: the
database narrows to candidates, Python scores and ranks them), so the correctly spelled surnames
measure that path too; a query of short words only ("Kim") is matched and paged in SQL.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text

from bench.common import (
    DEMO_PASSWORD,
    cli,
    contract_operation,
    graphql,
    logins,
    percentile,
    print_machine,
    server,
    server_env,
    throwaway_database,
)

DOMAIN = "typo.test"
STAFF, ADMIN = f"staff@{DOMAIN}", f"admin@{DOMAIN}"
WARM_UP = 3
PAGE = 20


@dataclass(frozen=True)
class Query:
    text: str
    kind: str
    expected: tuple[str, ...]  # words the name of a right answer contains (lowercase)


QUERIES = (
    Query("Rivera", "exact", ("rivera",)),
    Query("Garcia", "exact", ("garcia",)),
    Query("Rivrea", "one typo", ("rivera",)),
    Query("Garcai", "one typo", ("garcia",)),
    Query("Smtih", "one typo", ("smith",)),
    Query("Hernandze", "one typo", ("hernandez",)),
    Query("Olivia", "first name", ("olivia",)),
    Query("Kim", "short word (SQL)", ("kim",)),
    Query("Sofia Garcia", "two words", ("sofia", "garcia")),
    Query("Sofia Garcai", "two words, one typo", ("sofia", "garcia")),
)


@dataclass
class Measure:
    latencies: list[float] = field(default_factory=list)
    total: int | None = None
    matching: int = 0
    page: int = 0
    sql: set[int] = field(default_factory=set)
    error: str = ""

    def cells(self) -> list[str]:
        if self.error:
            return [self.error, "", "", ""]
        p50, p90 = percentile(self.latencies, 50), percentile(self.latencies, 90)
        sql = "-".join(str(n) for n in sorted({min(self.sql), max(self.sql)})) if self.sql else "?"
        return [f"{p50:.1f} / {p90:.1f}", str(self.total), f"{self.matching}/{self.page}", sql]


# --- The data ------------------------------------------------------------------------------------


def student_names(count: int, seed: int = 16) -> list[tuple[str, str]]:
    """`count` (name, e-mail) pairs, e-mails unique as seed/names.py's NameMaker makes them."""
    from seed.names import FIRST_NAMES, LAST_NAMES  # noqa: PLC0415 - product imports where needed

    surnames = (*LAST_NAMES, "Rivera", "Smith")
    rng = random.Random(seed)
    taken: Counter[str] = Counter()
    people = []
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(surnames)
        local = f"{first}.{last}".lower()
        taken[local] += 1
        suffix = "" if taken[local] == 1 else str(taken[local])
        people.append((f"{first} {last}", f"{local}{suffix}@{DOMAIN}"))
    return people


async def build_school(database_url: str, students: int) -> None:
    """One school with `students` students, a staff and an admin account, in bulk INSERTs."""
    from auth.passwords import hash_password  # noqa: PLC0415
    from config import Settings  # noqa: PLC0415
    from models import School, StudentProfile, User  # noqa: PLC0415
    from models.db import create_engine  # noqa: PLC0415
    from models.enums import Role  # noqa: PLC0415

    password_hash = hash_password(DEMO_PASSWORD)
    rng = random.Random(10)
    engine = create_engine(Settings(database_url=database_url, environment="test", _env_file=None))  # type: ignore[call-arg]
    try:
        async with engine.begin() as db:
            school_id = (
                await db.execute(
                    insert(School).returning(School.id), [{"name": "Typo High", "slug": "typo-high"}]
                )
            ).scalar_one()
            staff = [
                {"email": STAFF, "name": "Sam Staff", "role": Role.STAFF},
                {"email": ADMIN, "name": "Ada Admin", "role": Role.ADMIN},
            ]
            people = [
                {"email": email, "name": name, "role": Role.STUDENT}
                for name, email in student_names(students)
            ]
            rows = [{**row, "school_id": school_id, "password_hash": password_hash} for row in staff + people]
            ids = list((await db.execute(insert(User).returning(User.id), rows)).scalars())
            await db.execute(
                insert(StudentProfile),
                [
                    {
                        "user_id": user_id,
                        "school_id": school_id,
                        "student_number": f"TH-{index:06d}",
                        "grade_level": grade,
                        "cohort_year": 2030 - (grade - 9),
                    }
                    for index, (user_id, grade) in enumerate(
                        zip(ids[len(staff) :], (rng.randint(9, 12) for _ in people), strict=True)
                    )
                ],
            )
        if not database_url.startswith("sqlite"):
            async with engine.begin() as db:
                await db.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


# --- The measurement -----------------------------------------------------------------------------


def first_page(result: dict[str, Any]) -> tuple[int | None, list[str]]:
    """totalCount and the names of the first page of a StudentSearch or Users answer."""
    data = result.get("data") or {}
    if "students" in data:
        connection = data["students"] or {}
        nodes = [edge["node"] for edge in connection.get("edges") or []]
    else:
        connection = data.get("users") or {}
        nodes = connection.get("nodes") or []
    return connection.get("totalCount"), [node["name"] for node in nodes]


async def measure(
    http: httpx.AsyncClient, operation: str, variables: dict[str, Any], token: str, query: Query, runs: int
) -> Measure:
    result = Measure()
    for attempt in range(WARM_UP + runs):
        started = time.perf_counter()
        answer = await graphql(http, operation, variables, token)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.get("errors"):
            result.error = f"error: {answer['errors'][0].get('message', '')[:60]}"
            return result
        if attempt >= WARM_UP:
            result.latencies.append(elapsed)
        statements = ((answer.get("extensions") or {}).get("metrics") or {}).get("sqlStatements")
        if isinstance(statements, int):
            result.sql.add(statements)
    result.total, names = first_page(answer)
    result.page = len(names)
    result.matching = sum(all(word in name.lower() for word in query.expected) for name in names)
    return result


async def measure_database(kind: str, students: int, runs: int, workdir: Path) -> None:
    student_search, users = contract_operation("StudentSearch"), contract_operation("Users")
    with throwaway_database(kind, workdir) as database_url:
        env = server_env(database_url, workdir, DEBUG_METRICS="1")
        started = time.perf_counter()
        cli(["migrate"], env)
        await build_school(database_url, students)
        built = time.perf_counter() - started
        results: list[tuple[Query, Measure, Measure]] = []
        started = time.perf_counter()
        with server(env, workdir, name=f"server-{kind}") as process:
            tokens = await logins(process.base_url, (STAFF, ADMIN))
            async with httpx.AsyncClient(base_url=process.base_url, timeout=60) as http:
                for query in QUERIES:
                    searched = await measure(
                        http, student_search, {"query": query.text, "first": PAGE}, tokens[STAFF], query, runs
                    )
                    listed = await measure(
                        http,
                        users,
                        {"filter": {"query": query.text}, "first": PAGE},
                        tokens[ADMIN],
                        query,
                        runs,
                    )
                    results.append((query, searched, listed))
        measured = time.perf_counter() - started
    print(
        f"\n### {kind}: {students:,} students + a staff and an admin account; built in {built:.0f} s, "
        f"measured in {measured:.0f} s; {WARM_UP} warm-up + {runs} runs each, first: {PAGE}\n"
    )
    print_table(results)


def print_table(results: list[tuple[Query, Measure, Measure]]) -> None:
    header = [
        "query", "kind",
        "StudentSearch p50 / p90 ms", "total", "expected on page 1", "SQL",
        "Users p50 / p90 ms", "total", "expected on page 1", "SQL",
    ]  # fmt: skip
    rows = [[f'"{q.text}"', q.kind, *searched.cells(), *listed.cells()] for q, searched, listed in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = set(range(2, len(header)))  # the numbers
    for index, row in enumerate([header, *rows]):
        cells = [
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("| " + " | ".join(cells) + " |")
        if index == 0:
            print(
                "|"
                + "|".join(
                    ("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths)
                )
                + "|"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--students", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30, help="timed requests per query and operation")
    args = parser.parse_args()
    print_machine()
    kinds = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    started = time.perf_counter()
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as tmp:
            asyncio.run(measure_database(kind, args.students, args.runs, Path(tmp)))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
