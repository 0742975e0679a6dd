"""Round trips: SQL statements and microservice calls of each contract operation, on small and
large data.

    .venv/bin/python -m bench.round_trips [--small 1] [--large 5] [--database sqlite|postgres]

For each data size it makes a throwaway database seeded with `seed --demo --scale N`, starts
the microservice simulator and `server.py serve` with DEBUG_METRICS=1 and the services
configured, signs in the demo accounts, and sends every contract query of
tests/contract/operations/*.graphql (and the mutations that are safe to repeat on throwaway
data) as the user the frontends would send it as. It prints, per operation:

- SQL: `extensions.metrics.sqlStatements` of the first and of the second identical request
  (the second shows what caches save). Signing in the bearer token (one SELECT) happens before
  the operation and is not in the count;
- calls: microservice requests during the first request (the simulator's /_stats before/after).

An operation the schema does not have yet (it fails validation) is listed as skipped.

    .venv/bin/python -m bench.round_trips --explain BulkUpdateGrades [--small 1]

instead runs one operation in-process on the small data and prints its SQL statements grouped
by their text (what the count is made of).
A list of a class is the same length at every scale (30 students a class), while the schools
and their lists of students grow with the scale: statements that grow from small to large
are N+1 queries.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from graphql import OperationType

from bench.common import (
    contract_operations,
    graphql,
    logins,
    migrate_and_seed,
    print_machine,
    schema_errors,
    server,
    server_env,
    service_env,
    simulator,
    throwaway_database,
)
from bench.round_trip_operations import MUTATIONS, QUERIES, USERS, demo_ids


@dataclass
class Measure:
    """One operation at one data size."""

    sql: list[int | None] = field(default_factory=list)  # per request
    calls: int | None = None
    note: str = ""


async def service_calls(simulator_url: str) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        stats: dict[str, int] = (await http.get(f"{simulator_url}/_stats")).json()
    return sum(stats.values())


async def settled_service_calls(simulator_url: str, quiet: float = 0.4, limit: float = 5.0) -> int:
    """The call count once it stopped moving for `quiet` seconds (writes queue dashboard refreshes
    that call the services in the background; they count for the write that caused them)."""
    ends = time.monotonic() + limit
    count = await service_calls(simulator_url)
    while time.monotonic() < ends:
        await asyncio.sleep(quiet)
        now = await service_calls(simulator_url)
        if now == count:
            break
        count = now
    return count


async def measure_size(
    scale: int, database: str, simulator_url: str, runnable: dict[str, OperationType], workdir: Path
) -> tuple[str, dict[str, Measure]]:
    """Seeds a database at `scale`, serves it, and measures each runnable operation."""
    texts = {op.name: op.text for op in contract_operations()}
    results: dict[str, Measure] = {}
    size_dir = workdir / f"scale-{scale}"
    size_dir.mkdir()
    with throwaway_database(database, size_dir) as database_url:
        env = server_env(database_url, size_dir, DEBUG_METRICS="1", **service_env(simulator_url))
        summary = migrate_and_seed(env, scale)
        ids = await demo_ids(database_url)
        with server(env, size_dir) as process:
            tokens = await logins(process.base_url, USERS)
            async with httpx.AsyncClient(base_url=process.base_url, timeout=60) as http:
                for name, (user, variables_of) in {**QUERIES, **MUTATIONS}.items():
                    if name not in runnable:
                        continue
                    repeats = 2 if runnable[name] == OperationType.QUERY else 1
                    measure = results[name] = Measure()
                    for attempt in range(repeats):
                        before = await settled_service_calls(simulator_url)
                        result = await graphql(http, texts[name], variables_of(ids), tokens[user])
                        if attempt == 0:
                            measure.calls = await settled_service_calls(simulator_url) - before
                        metrics = (result.get("extensions") or {}).get("metrics") or {}
                        measure.sql.append(metrics.get("sqlStatements"))
                        if result.get("errors"):
                            measure.note = f"error: {result['errors'][0].get('message', '')[:60]}"
                        elif (payload := next(iter((result.get("data") or {}).values()), None)) and (
                            isinstance(payload, dict) and payload.get("userErrors")
                        ):
                            problem = payload["userErrors"][0]
                            measure.note = (
                                f"userErrors: {problem.get('code')} {problem.get('message', '')[:50]}"
                            )
    return summary, results


async def explain(name: str, scale: int, simulator_url: str, workdir: Path) -> None:
    """The statements of one operation (in-process app, SQLAlchemy's before_cursor_execute)."""
    from sqlalchemy import event  # noqa: PLC0415

    from config import Settings  # noqa: PLC0415
    from server import create_app  # noqa: PLC0415

    user, variables_of = {**QUERIES, **MUTATIONS}[name]
    with throwaway_database("sqlite", workdir) as database_url:
        env = server_env(database_url, workdir, **service_env(simulator_url))
        migrate_and_seed(env, scale)
        ids = await demo_ids(database_url)
        services = {key.lower(): value for key, value in service_env(simulator_url).items()}
        app = create_app(Settings(database_url=database_url, media_dir=workdir / "media", **services))
        statements: list[str] = []
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://campus.test") as http,
        ):
            from bench.common import login  # noqa: PLC0415

            token = await login(http, user)
            text = next(op.text for op in contract_operations() if op.name == name)

            def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                statements.append(" ".join(statement.split())[:100])

            event.listen(app.state.campus.engine.sync_engine, "before_cursor_execute", record)
            result = await graphql(http, text, variables_of(ids), token)
            event.remove(app.state.campus.engine.sync_engine, "before_cursor_execute", record)
    print(
        f"{name} as {user}: {len(statements)} statements (incl. signing in); errors: {result.get('errors')}"
    )
    for statement, count in Counter(statements).most_common():
        print(f"  {count:>5} x {statement}")


def cell(measure: Measure | None) -> str:
    if measure is None:
        return "-"
    return " / ".join("?" if n is None else str(n) for n in measure.sql)


def print_table(small: dict[str, Measure], large: dict[str, Measure], skipped: dict[str, str]) -> None:
    print(f"\n{'operation':<22} {'as':<9} {'SQL small':>10} {'SQL large':>10} {'calls s/l':>10}  note")
    print(f"{'':<22} {'':<9} {'(1st / 2nd)':>10} {'(1st / 2nd)':>10}")
    for name, (user, _) in {**QUERIES, **MUTATIONS}.items():
        if name in skipped:
            print(f"{name:<22} {user.split('@')[0]:<9} {'skipped':>10} {'':>10} {'':>10}  {skipped[name]}")
            continue
        s, big = small.get(name), large.get(name)
        calls = f"{s.calls if s else '-'} / {big.calls if big else '-'}"
        grows = ""
        if s and big and s.sql and big.sql and s.sql[0] is not None and big.sql[0] is not None:
            grows = " GROWS" if big.sql[0] > s.sql[0] else ""
        note = "; ".join(n for n in ((s.note if s else ""), grows.strip()) if n)
        print(f"{name:<22} {user.split('@')[0]:<9} {cell(s):>10} {cell(big):>10} {calls:>10}  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--small", type=int, default=1, help="seed scale of the small data")
    parser.add_argument("--large", type=int, default=5, help="seed scale of the large data")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--explain", metavar="OPERATION", help="list one operation's statements instead")
    args = parser.parse_args()
    print_machine()
    if args.explain:
        with tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as tmp, simulator(Path(tmp)) as url:
            asyncio.run(explain(args.explain, args.small, url, Path(tmp)))
        return
    kinds = {op.name: op.kind for op in contract_operations()}
    runnable: dict[str, OperationType] = {}
    skipped: dict[str, str] = {}
    for name in {**QUERIES, **MUTATIONS}:
        if name not in kinds:
            skipped[name] = "not in the contract"
        elif errors := schema_errors(next(op.text for op in contract_operations() if op.name == name)):
            skipped[name] = f"not in the schema yet: {errors[0][:70]}"
        else:
            runnable[name] = kinds[name]
    not_listed = [op.name for op in contract_operations() if op.name not in {**QUERIES, **MUTATIONS}]
    print(f"not measured (subscriptions, uploads, or not safe to repeat): {', '.join(not_listed)}")
    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as tmp,
        simulator(Path(tmp)) as simulator_url,
    ):
        workdir = Path(tmp)
        small_summary, small = asyncio.run(
            measure_size(args.small, args.database, simulator_url, runnable, workdir)
        )
        large_summary, large = asyncio.run(
            measure_size(args.large, args.database, simulator_url, runnable, workdir)
        )
    print(f"small (scale {args.small}, {args.database}): {small_summary}")
    print(f"large (scale {args.large}, {args.database}): {large_summary}")
    print_table(small, large, skipped)
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
