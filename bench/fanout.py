"""Subscriptions: N WebSocket subscribers of one class's `gradebookEvents`, split across two server
processes sharing PostgreSQL + Redis, and a writer changing grades.

    .venv/bin/python -m bench.fanout [--sizes 100,1000,5000] [--events 20] [--burst 40] [--writers 4]
                                     [--injected 100] [--no-deflate] [--logs DIR]
                                     [--connect-seconds 180] [--settle-seconds 120]

Setup (throwaway, stopped at the end): a fresh PostgreSQL database seeded at scale 1, a private
redis-server, and two `server.py serve` processes (production mode) on two ports.

For each N, in turn:
1. connect: N graphql-transport-ws connections (half to each process; connection_init carries
   teacher@northside's access token; permessage-deflate as browsers offer it), each subscribing
   to the contract `GradebookEvents` of one class the teacher teaches. A subscriber is ready
   when its first event arrives (EditorsChanged: the current editors); one that
   gets no event within 60 s and no error is counted as silent, and later phases expect
   deliveries only to the ready ones;
2. settle: waits until no event has arrived for 2 s; counts the EditorsChanged events that the
   joins caused (~N^2/2 if each join were told to every subscriber already there);
3. memory: the RSS growth of the two server processes divided by N (bytes per connection,
   from /proc), measured after settling;
4. latency: `--events` UpdateGrade mutations, 0.25 s apart, alternating between the processes;
   for every delivery the time to receipt (same clock) from
   - publish: when this script's own Redis subscriber to the class's channel got the event, i.e.
     just after the commit (events go out after commit): the server's fan-out latency;
   - write: the grade's `updatedAt`, stamped when the row is written, before the rest of the
     transaction (history, notification, risk snapshot) and the commit: an upper bound;
5. fan-out rate: `--burst` UpdateGrade mutations from `--writers` concurrent writers; deliveries
   per second from the first mutation sent to the last delivery received. The writes are slow
   (each is a transaction of ~27 statements), so this is limited by the write rate; then
   `--injected` GradeUpdated events of the same shape published straight to the class's Redis
   channel as fast as Redis takes them: the subscription side's own capacity;
6. closes every connection and waits (bounded) for the servers to go quiet.

Every phase has a time limit; a size that does not finish a phase in time is reported as such
and the run stops there (the servers are stopped with it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import websockets
from sqlalchemy import select

from bench.common import (
    Server,
    contract_operation,
    fetch_all,
    logins,
    migrate_and_seed,
    percentile,
    print_machine,
    raise_fd_limit,
    redis_server,
    server,
    server_env,
    throwaway_database,
    wait_quiet,
    wait_until,
)

TEACHER = "teacher@northside.test"
SUBPROTOCOL = websockets.Subprotocol("graphql-transport-ws")
CONNECT_IN_PARALLEL = 50
UPDATE_GRADE = """
mutation UpdateGrade($input: UpdateGradeInput!) {
  updateGrade(input: $input) {
    grade { id version updatedAt }
    userErrors { code message }
  }
}
"""


@dataclass
class Subscribers:
    """What every subscriber of one size received."""

    receipts: defaultdict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    other_events: int = 0
    errors: int = 0
    first_error: str = ""
    last_message: float = 0.0
    ready: int = 0


@dataclass
class ClassUnderTest:
    pk: int
    class_id: str
    cells: list[tuple[str, str, float]]  # (student id, assignment id, max score)


async def class_under_test(database_url: str) -> ClassUnderTest:
    from models import Assignment, CategoryWeight, ClassTeacher, Enrollment, User  # noqa: PLC0415
    from resolvers.ids import encode_id  # noqa: PLC0415

    ((class_id,),) = await fetch_all(
        database_url,
        select(ClassTeacher.class_id)
        .join(User, User.id == ClassTeacher.teacher_id)
        .where(User.email == TEACHER, ClassTeacher.class_id.in_(select(CategoryWeight.class_id)))
        .order_by(ClassTeacher.class_id)
        .limit(1),
    )
    students = await fetch_all(
        database_url, select(Enrollment.student_id).where(Enrollment.class_id == class_id)
    )
    assignments = await fetch_all(
        database_url, select(Assignment.id, Assignment.max_score).where(Assignment.class_id == class_id)
    )
    cells = [
        (encode_id("Student", s), encode_id("Assignment", a), top)
        for (s,) in students
        for (a, top) in assignments
    ]
    random.Random(5).shuffle(cells)
    return ClassUnderTest(class_id, encode_id("Class", class_id), cells)


class BusTap:
    """This script's own subscriber of the class's Redis channel: when each grade event was published."""

    def __init__(self, redis_url: str, class_pk: int) -> None:
        from subscriptions.channels import gradebook_channel  # noqa: PLC0415

        self.redis_url = redis_url
        self.channel = gradebook_channel(class_pk)
        self.published: dict[tuple[str, int], float] = {}

    async def inject(self, count: int, start: int) -> list[tuple[str, int]]:
        """Publishes `count` made-up GradeUpdated events (ids from `start`); their (grade id, version)."""
        from redis import asyncio as aioredis  # noqa: PLC0415

        from resolvers.ids import encode_id  # noqa: PLC0415
        from subscriptions.events import GradeSnapshot, GradeUpdated, UserRef  # noqa: PLC0415

        client = aioredis.Redis.from_url(self.redis_url)
        keys = []
        try:
            for grade_id in range(start, start + count):
                grade = GradeSnapshot(
                    id=grade_id, score=9.5, letter="A", version=1, updated_at=datetime.now(UTC)
                )
                event = GradeUpdated(
                    student_id=1,
                    assignment_id=1,
                    grade=grade,
                    by=UserRef(id=1, name="Bench Writer"),
                    lock=None,
                )
                await client.publish(self.channel, event.model_dump_json())
                keys.append((encode_id("Grade", grade_id), 1))
        finally:
            await client.aclose()
        return keys

    async def run(self) -> None:
        from redis import asyncio as aioredis  # noqa: PLC0415

        from resolvers.ids import encode_id  # noqa: PLC0415
        from subscriptions.events import GRADEBOOK_EVENTS, GradeUpdated  # noqa: PLC0415

        client = aioredis.Redis.from_url(self.redis_url)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            while True:
                message = await pubsub.get_message(timeout=1.0)
                if message is None or message["type"] != "message":
                    continue
                now = time.time()
                event = GRADEBOOK_EVENTS.validate_json(message["data"])
                if isinstance(event, GradeUpdated):
                    self.published[(encode_id("Grade", event.grade.id), event.grade.version)] = now
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()


async def subscriber(
    url: str, token: str, query: str, class_id: str, seen: Subscribers, ready: asyncio.Event, deflate: bool
) -> None:
    """One connection: init, subscribe to `query`, then record every event until cancelled."""
    async with websockets.connect(
        url,
        subprotocols=[SUBPROTOCOL],
        open_timeout=60,
        ping_interval=None,
        compression="deflate" if deflate else None,
    ) as ws:
        await ws.send(orjson.dumps({"type": "connection_init", "payload": {"accessToken": token}}).decode())
        ack = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": query, "variables": {"classId": class_id}},
        }
        await ws.send(orjson.dumps(message).decode())
        async for raw in ws:
            now = time.time()
            seen.last_message = now
            text = raw if isinstance(raw, str) else raw.decode()
            if '"GradeUpdated"' in text:
                grade = orjson.loads(text)["payload"]["data"]["gradebookEvents"]["grade"]
                seen.receipts[(grade["id"], grade["version"])].append(now)
            elif '"next"' in text and '"errors"' not in text:
                seen.other_events += 1
            elif '"ping"' in text:
                await ws.send('{"type":"pong"}')
                continue
            else:
                seen.errors += 1
                seen.first_error = seen.first_error or text[:200]
            if not ready.is_set():
                ready.set()
                seen.ready += 1


@dataclass
class Write:
    key: tuple[str, int]  # (grade id, version), as the event carries it
    sent: float
    answered: float
    updated_at: float


class WriteFailed(Exception):
    """An UpdateGrade that did not write (counted, and the bench goes on)."""


async def write_grade(http: httpx.AsyncClient, token: str, cell: tuple[str, str, float]) -> Write:
    score = round(random.uniform(0, cell[2]), 1)
    body = {
        "query": UPDATE_GRADE,
        "variables": {"input": {"studentId": cell[0], "assignmentId": cell[1], "score": score}},
    }
    sent = time.time()
    response = await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {token}"})
    answered = time.time()
    result = response.json()
    payload = (result.get("data") or {}).get("updateGrade")
    if not payload or payload["userErrors"]:
        raise WriteFailed(str(result.get("errors") or payload)[:300])
    grade = payload["grade"]
    return Write(
        (grade["id"], grade["version"]),
        sent,
        answered,
        datetime.fromisoformat(grade["updatedAt"]).timestamp(),
    )


def p50_p99(ms: list[float]) -> str:
    return f"p50 {percentile(ms, 50):.1f} ms p99 {percentile(ms, 99):.1f} ms"


async def measure_size(
    n: int,
    servers: list[Server],
    token: str,
    target: ClassUnderTest,
    args: argparse.Namespace,
    cells: list[Any],
    tap: BusTap,
) -> bool:
    """Prints one size's figures; False when a phase ran out of time (the run should stop)."""
    seen = Subscribers()
    rss_before = [s.rss_bytes() for s in servers]
    tasks: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(CONNECT_IN_PARALLEL)
    query = contract_operation("GradebookEvents")  # once: it parses every contract file
    started = time.monotonic()
    server_cpu, client_cpu = sum(s.cpu_seconds() for s in servers), time.process_time()

    async def start(index: int) -> None:
        async with gate:
            ready = asyncio.Event()
            task = asyncio.create_task(
                subscriber(
                    servers[index % 2].ws_url, token, query, target.class_id, seen, ready, not args.no_deflate
                )
            )
            tasks.append(task)
            waiter = asyncio.create_task(ready.wait())
            done, _ = await asyncio.wait({task, waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if task in done and task.exception() is not None:
                seen.errors += 1
                seen.first_error = seen.first_error or repr(task.exception())

    print(f"\nN = {n}: connecting...", flush=True)
    connect = asyncio.gather(*(start(i) for i in range(n)))
    try:
        await asyncio.wait_for(connect, args.connect_seconds)
        connected = True
    except TimeoutError:
        connected = False
    connect_seconds = time.monotonic() - started
    print(
        f"  connected and subscribed: {seen.ready}/{n} in {connect_seconds:.1f} s; errors {seen.errors} "
        f"{seen.first_error}; silent (no event within 60 s, no error): {n - seen.ready - seen.errors}"
    )
    settled = connected and await wait_until(
        lambda: time.time() - seen.last_message > 2.0, args.settle_seconds, 0.25
    )
    settle_seconds = time.monotonic() - started - connect_seconds
    per_connection = (sum(s.rss_bytes() for s in servers) - sum(rss_before)) / max(1, seen.ready)
    print(
        f"  join storm: {seen.other_events} EditorsChanged deliveries (N^2/2 = {n * n // 2}); "
        f"{'settled' if settled else 'NOT settled'} {settle_seconds:.1f} s after the last connection; "
        f"CPU: servers {sum(s.cpu_seconds() for s in servers) - server_cpu:.0f} s, "
        f"this client {time.process_time() - client_cpu:.0f} s"
    )
    print(
        f"  server RSS: {[round(b / 2**20) for b in rss_before]} -> "
        f"{[round(s.rss_bytes() / 2**20) for s in servers]} MiB; "
        f"{per_connection / 1024:.0f} KiB per connection"
    )
    ok = connected and settled
    try:
        if ok:
            ok = await events_phase(n, servers, token, seen, args, cells, tap)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        await wait_quiet(servers, 60)
    return ok


async def events_phase(
    n: int,
    servers: list[Server],
    token: str,
    seen: Subscribers,
    args: argparse.Namespace,
    cells: list[Any],
    tap: BusTap,
) -> bool:
    async with httpx.AsyncClient(timeout=60) as http:
        writes = []
        for index in range(args.events):
            http.base_url = httpx.URL(servers[index % 2].base_url)
            writes.append(await write_grade(http, token, cells.pop()))
            await asyncio.sleep(0.25)
        expected = seen.ready * len(writes)
        complete = await wait_until(lambda: delivered(seen, writes) >= expected, args.drain_seconds)
        from_publish = [
            1000 * (t - tap.published[w.key])
            for w in writes
            if w.key in tap.published
            for t in seen.receipts[w.key]
        ]
        from_write = [1000 * (t - w.updated_at) for w in writes for t in seen.receipts[w.key]]
        print(
            f"  latency, {len(writes)} events 0.25 s apart: {delivered(seen, writes)}/{expected} deliveries; "
            f"publish->receipt {p50_p99(from_publish)}; write->receipt {p50_p99(from_write)}"
        )
        if not complete:
            return False
    burst: list[Write] = []
    todo = [cells.pop() for _ in range(args.burst)]

    failures: list[str] = []

    async def writer(index: int) -> None:
        async with httpx.AsyncClient(base_url=servers[index % 2].base_url, timeout=60) as http:
            while todo:
                try:
                    burst.append(await write_grade(http, token, todo.pop()))
                except WriteFailed as error:
                    failures.append(str(error))

    first_sent = time.time()
    await asyncio.gather(*(writer(i) for i in range(args.writers)))
    writes_done = time.time()
    if failures:
        print(f"  {len(failures)} of {args.burst} concurrent UpdateGrade failed; the first: {failures[0]}")
    expected = seen.ready * len(burst)
    complete = await wait_until(lambda: delivered(seen, burst) >= expected, args.drain_seconds)
    receipts = [t for w in burst for t in seen.receipts[w.key]]
    last = max(receipts, default=first_sent)
    from_publish = [
        1000 * (t - tap.published[w.key])
        for w in burst
        if w.key in tap.published
        for t in seen.receipts[w.key]
    ]
    print(
        f"  fan-out, {len(burst)} events from {args.writers} writers "
        f"({len(burst) / (writes_done - first_sent):.0f} writes/s): "
        f"{len(receipts)}/{expected} deliveries in {last - first_sent:.2f} s = "
        f"{len(receipts) / max(last - first_sent, 1e-9):,.0f} deliveries/s; "
        f"publish->receipt {p50_p99(from_publish)}"
    )
    if not complete:
        return False
    server_cpu, client_cpu = sum(s.cpu_seconds() for s in servers), time.process_time()
    first_sent = time.time()
    keys = await tap.inject(args.injected, start=10_000_000 + n * args.injected)
    complete = await wait_until(
        lambda: sum(len(seen.receipts[k]) for k in keys) >= seen.ready * len(keys), args.drain_seconds
    )
    server_cpu = sum(s.cpu_seconds() for s in servers) - server_cpu
    client_cpu = time.process_time() - client_cpu
    receipts = [t for k in keys for t in seen.receipts[k]]
    last = max(receipts, default=first_sent)
    from_publish = [
        1000 * (t - tap.published[k]) for k in keys if k in tap.published for t in seen.receipts[k]
    ]
    print(
        f"  fan-out capacity, {len(keys)} events injected into Redis: "
        f"{len(receipts)}/{seen.ready * len(keys)} "
        f"deliveries in {last - first_sent:.2f} s = {len(receipts) / max(last - first_sent, 1e-9):,.0f} "
        f"deliveries/s; publish->receipt {p50_p99(from_publish)}; server CPU "
        f"{1e6 * server_cpu / max(1, len(receipts)):.0f} us a delivery (this client: {client_cpu:.1f} s)"
    )
    return complete


def delivered(seen: Subscribers, writes: list[Write]) -> int:
    return sum(len(seen.receipts[w.key]) for w in writes)


async def run(args: argparse.Namespace, workdir: Path) -> None:
    sizes = [int(x) for x in args.sizes.split(",")]
    limit = raise_fd_limit(max(sizes) * 2 + 1000)
    print(f"open files limit: {limit}")
    with throwaway_database("postgres", workdir) as database_url, redis_server(workdir) as redis_url:
        # One teacher's token opens every subscriber: far past the per-user cap of real users.
        env = server_env(database_url, workdir, redis_url, MAX_WEBSOCKETS_PER_USER="100000")
        print(f"data (PostgreSQL, scale 1): {migrate_and_seed(env, 1)}")
        target = await class_under_test(database_url)
        cells = list(target.cells)
        tap = BusTap(redis_url, target.pk)
        tap_task = asyncio.create_task(tap.run())
        with server(env, workdir, name="server-a") as a, server(env, workdir, name="server-b") as b:
            token = (await logins(a.base_url, [TEACHER]))[TEACHER]
            for n in sizes:
                if len(cells) < args.events + args.burst:
                    print("out of distinct cells to write; stopping")
                    break
                if not await measure_size(n, [a, b], token, target, args, cells, tap):
                    print(f"  N = {n} did not finish within its time limits; larger sizes are not attempted")
                    break
        tap_task.cancel()
        await asyncio.gather(tap_task, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,1000,5000", help="subscriber counts, comma-separated")
    parser.add_argument("--events", type=int, default=20, help="UpdateGrade mutations 0.25 s apart (latency)")
    parser.add_argument("--burst", type=int, default=40, help="UpdateGrade mutations for the rate")
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers of the burst")
    parser.add_argument("--injected", type=int, default=100, help="events published straight to Redis")
    parser.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    parser.add_argument("--logs", help="keep the server and Redis logs in this folder (default: deleted)")
    parser.add_argument("--connect-seconds", type=float, default=180)
    parser.add_argument("--settle-seconds", type=float, default=120)
    parser.add_argument("--drain-seconds", type=float, default=60)
    args = parser.parse_args()
    print_machine()
    if args.logs:
        Path(args.logs).mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args, Path(args.logs)))
        return
    with tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
