"""A bounded soak on loopback: concurrent clients of several roles run a mix of contract operations
against real server processes (two sharing PostgreSQL and Redis when those are configured, so that
events cross processes; one on SQLite), while WebSocket subscribers watch the gradebooks written.

Asserted: no unexpected errors (a VERSION_CONFLICT is the expected answer to concurrent writers
and is retried with the new version); no growth of the servers' memory or file descriptors after
a warm-up; every acknowledged grade write is in the database with its last acknowledged score,
and every subscriber received a GradeUpdated event for each of them.

SOAK_SECONDS (default 90) lengthens it locally: `SOAK_SECONDS=900 pytest tests/hardening/test_soak.py -s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import ClassTeacher, Grade
from resolvers.ids import decode_id, encode_id
from tests.clients import TransportWSClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData, teaching_load

pytestmark = pytest.mark.slow

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "90"))
WARMUP_SECONDS = min(20.0, SOAK_SECONDS / 4)
WRITERS = 4
READERS = 6
SUBSCRIBERS_PER_CLASS_AND_SERVER = 2
RSS_GROWTH = 1.25  # at most 25% more resident memory than after the warm-up ...
RSS_SLACK_KIB = 8 * 1024  # ... plus 8 MiB
FD_GROWTH = 1.25  # at most 25% more open file descriptors ...
FD_SLACK = 10  # ... plus 10
DRAIN_SECONDS = 15.0  # for the last events to reach the subscribers

OPERATIONS = {
    name: contract_operation(name)
    for name in (
        "TeacherDashboard",
        "Gradebook",
        "StudentSearch",
        "StudentProfile",
        "Notifications",
        "MarkNotificationsRead",
        "Conversations",
        "StartConversation",
        "SendMessage",
        "UpdateGrade",
        "GradebookEvents",
    )
}

Cell = tuple[str, str]  # (studentId, assignmentId), global ids


@dataclass
class Tally:
    operations: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0
    # Acknowledged writes: the cell, the version the server gave it, and the score written.
    acknowledged: list[tuple[Cell, int, float]] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors.append(what[:500])


@dataclass
class Subscriber:
    client: TransportWSClient
    class_id: str
    updates: set[tuple[str, str, int]] = field(default_factory=set)
    events: Counter[str] = field(default_factory=Counter)


@dataclass
class Sample:
    rss_kib: int
    fds: int


def sample(pid: int) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return Sample(rss_kib=rss, fds=len(os.listdir(f"/proc/{pid}/fd")))


class Caller:
    """One client (a user, on one server, with a kept-alive connection) counting into the tally."""

    def __init__(self, http: httpx.AsyncClient, token: str, tally: Tally) -> None:
        self.http = http
        self.token = token
        self.tally = tally

    async def call(self, name: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """The operation's data, or None after recording why it failed."""
        self.tally.operations[name] += 1
        try:
            response = await self.http.post(
                "/graphql",
                json={"query": OPERATIONS[name], "variables": variables},
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.HTTPError as error:
            self.tally.error(f"{name}: {error!r}")
            return None
        if response.status_code != 200:
            self.tally.error(f"{name}: HTTP {response.status_code} {response.text}")
            return None
        body: dict[str, Any] = response.json()
        if body.get("errors"):
            self.tally.error(f"{name}: {body['errors']}")
            return None
        data: dict[str, Any] = body["data"]
        return data


@dataclass
class World:
    school: SchoolData
    servers: list[Any]
    class_ids: list[str]
    cells: dict[str, list[Cell]]  # by class
    versions: dict[Cell, int]
    students: list[str]
    conversation_id: str
    tokens: dict[str, str]


async def build_world(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> World:
    north = await factory.school("north")
    classes = await teaching_load(session_factory, north, classes=2, students=6, assignments=3)
    async with session_factory.begin() as session:  # two teachers write the same cells
        session.add_all(
            ClassTeacher(class_id=c, teacher_id=north.other_teacher.id, is_primary=False) for c in classes
        )
    two = bool(settings.redis_url) and not settings.is_sqlite
    # A few users make all the traffic: lift their query cost budget (an abuse limit, not under
    # test). Over a short window: the in-process limiter keeps an entry per unit of cost for the
    # window, so a huge hourly budget would grow the process's memory by design, not by a leak.
    budget = {"QUERY_COST_BUDGET": "1000000/second"}
    servers = [start_server(**budget) for _ in range(2 if two else 1)]
    minutes = int(SOAK_SECONDS / 60) + 15
    tokens = {
        role: factory.token(getattr(north, role), minutes=minutes)
        for role in ("teacher", "other_teacher", "staff", "mentor", "student")
    }
    class_ids = [encode_id("Class", c) for c in classes]
    cells: dict[str, list[Cell]] = {}
    versions: dict[Cell, int] = {}
    async with httpx.AsyncClient(base_url=servers[0].base_url, timeout=30) as http:
        tally = Tally()
        caller = Caller(http, tokens["teacher"], tally)
        for class_id in class_ids:
            sheet = await caller.call("Gradebook", {"classId": class_id})
            assert sheet is not None, tally.errors
            rows = sheet["gradebook"]["rows"][:3]
            cells[class_id] = []
            for row in rows:
                for cell in row["cells"]:
                    key = (row["student"]["id"], cell["assignmentId"])
                    cells[class_id].append(key)
                    versions[key] = cell["version"] or 0
        students = [encode_id("Student", north.student.id)] + [s for s, _ in versions]
        started = await Caller(http, tokens["mentor"], tally).call(
            "StartConversation", {"input": {"participantIds": [encode_id("User", north.student.id)]}}
        )
        assert started is not None, tally.errors
    return World(
        school=north,
        servers=servers,
        class_ids=class_ids,
        cells=cells,
        versions=versions,
        students=sorted(set(students)),
        conversation_id=started["startConversation"]["conversation"]["id"],
        tokens=tokens,
    )


async def write_grades(caller: Caller, world: World, rng: random.Random, stop: float) -> None:
    """Writes random cells; a VERSION_CONFLICT is re-read and retried with the current version."""
    tally = caller.tally
    while time.monotonic() < stop:
        class_id = rng.choice(world.class_ids)
        cell = rng.choice(world.cells[class_id])
        score = float(rng.randint(0, 10))
        while time.monotonic() < stop:
            variables = {
                "input": {
                    "studentId": cell[0],
                    "assignmentId": cell[1],
                    "score": score,
                    "expectedVersion": world.versions[cell],
                }
            }
            data = await caller.call("UpdateGrade", variables)
            if data is None:
                break
            payload = data["updateGrade"]
            if payload["grade"] is not None:
                version = payload["grade"]["version"]
                world.versions[cell] = max(world.versions[cell], version)
                tally.acknowledged.append((cell, version, score))
                break
            codes = [problem["code"] for problem in payload["userErrors"]]
            if codes != ["VERSION_CONFLICT"]:
                tally.error(f"UpdateGrade: {payload['userErrors']}")
                break
            tally.conflicts += 1
            sheet = await caller.call("Gradebook", {"classId": class_id})
            if sheet is None:
                break
            for row in sheet["gradebook"]["rows"]:
                for current in row["cells"]:
                    key = (row["student"]["id"], current["assignmentId"])
                    if key in world.versions:
                        world.versions[key] = max(world.versions[key], current["version"] or 0)


def reader_mix(role: str, world: World, rng: random.Random) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    """The operations a client of `role` runs in turn, with their variables."""
    mixes: dict[str, list[tuple[str, Callable[[], dict[str, Any]]]]] = {
        "teacher": [
            ("TeacherDashboard", dict),
            ("Gradebook", lambda: {"classId": rng.choice(world.class_ids)}),
            ("Notifications", lambda: {"first": 10}),
            ("Conversations", lambda: {"first": 10}),
        ],
        "staff": [
            ("StudentSearch", lambda: {"query": rng.choice(["Learner", "student", "00"]), "first": 10}),
            ("StudentProfile", lambda: {"id": rng.choice(world.students)}),
            ("StudentSearch", lambda: {"first": 20, "orderBy": None}),
        ],
        "mentor": [
            ("Conversations", lambda: {"first": 10}),
            (
                "SendMessage",
                lambda: {"input": {"conversationId": world.conversation_id, "body": "How is it going?"}},
            ),
            ("Notifications", lambda: {"first": 10, "unreadOnly": True}),
        ],
        "student": [
            ("Notifications", lambda: {"first": 10}),
            ("MarkNotificationsRead", lambda: {"input": {"all": True}}),
            ("Conversations", lambda: {"first": 10}),
        ],
    }
    return mixes[role]


async def read(caller: Caller, mix: list[tuple[str, Callable[[], dict[str, Any]]]], stop: float) -> None:
    while time.monotonic() < stop:
        for name, variables in mix:
            data = await caller.call(name, variables())
            if data is not None:
                payload = next(iter(data.values()))
                if isinstance(payload, dict) and payload.get("userErrors"):
                    caller.tally.error(f"{name}: {payload['userErrors']}")


async def listen(subscriber: Subscriber, tally: Tally) -> None:
    """Collects GradeUpdated events until cancelled; anything but `next` without errors is an error."""
    while True:
        try:
            message = await subscriber.client.receive(wait=3600)
        except websockets.ConnectionClosed as closed:
            tally.error(f"subscriber of {subscriber.class_id} disconnected: {closed!r}")
            return
        if message["type"] != "next" or message["payload"].get("errors"):
            tally.error(f"subscriber of {subscriber.class_id}: {json.dumps(message)}")
            continue
        event = message["payload"]["data"]["gradebookEvents"]
        subscriber.events[event["__typename"]] += 1
        if event["__typename"] == "GradeUpdated":
            subscriber.updates.add((event["studentId"], event["assignmentId"], event["grade"]["version"]))


async def subscribe(server: Any, token: str, class_id: str) -> Subscriber:
    client = await TransportWSClient.connect(server.ws_url, {"accessToken": token})
    await client.subscribe(OPERATIONS["GradebookEvents"], {"classId": class_id})
    first = await client.receive(wait=10)
    assert first["payload"]["data"]["gradebookEvents"]["__typename"] == "EditorsChanged", first
    return Subscriber(client=client, class_id=class_id)


async def run_tasks(tasks: list[Awaitable[None]]) -> None:
    await asyncio.gather(*tasks)


async def test_soak_mixed_traffic_loses_nothing_and_does_not_grow(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    world = await build_world(start_server, factory, settings, session_factory)
    tally = Tally()
    subscribers = [
        await subscribe(server, world.tokens["teacher" if n % 2 else "other_teacher"], class_id)
        for server in world.servers
        for class_id in world.class_ids
        for n in range(SUBSCRIBERS_PER_CLASS_AND_SERVER)
    ]
    listeners = [asyncio.create_task(listen(subscriber, tally)) for subscriber in subscribers]
    await asyncio.sleep(0.5)  # the subscriptions are live once the servers subscribed to the bus

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=server.base_url, timeout=30))
            for server in world.servers
        ]
        began = time.monotonic()
        stop = began + SOAK_SECONDS
        work: list[Awaitable[None]] = []
        for n in range(WRITERS):
            writer = Caller(
                clients[n % len(clients)], world.tokens["teacher" if n % 2 else "other_teacher"], tally
            )
            work.append(write_grades(writer, world, random.Random(n), stop))
        roles = ["teacher", "staff", "mentor", "student"]
        for n in range(READERS):
            role = roles[n % len(roles)]
            caller = Caller(clients[n % len(clients)], world.tokens[role], tally)
            work.append(read(caller, reader_mix(role, world, random.Random(100 + n)), stop))
        traffic = asyncio.create_task(run_tasks(work))
        await asyncio.sleep(WARMUP_SECONDS)
        before = [sample(server.process.pid) for server in world.servers]
        series = [[b.rss_kib] for b in before]  # RSS every tenth of the soak, for the summary
        while not traffic.done():
            await asyncio.wait([traffic], timeout=(SOAK_SECONDS - WARMUP_SECONDS) / 10)
            for n, server in enumerate(world.servers):
                series[n].append(sample(server.process.pid).rss_kib)
        await traffic
        after = [sample(server.process.pid) for server in world.servers]
        elapsed = time.monotonic() - began

    expected = {
        class_id: {(cell[0], cell[1], version) for cell, version, _ in tally.acknowledged if cell in cells}
        for class_id, cells in world.cells.items()
    }
    for _ in range(int(DRAIN_SECONDS / 0.2)):
        if not any(expected[s.class_id] - s.updates for s in subscribers):
            break
        await asyncio.sleep(0.2)
    for listener in listeners:
        listener.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    for subscriber in subscribers:
        await subscriber.client.close()

    last: dict[Cell, tuple[int, float]] = {}
    for cell, version, score in tally.acknowledged:
        if cell not in last or version > last[cell][0]:
            last[cell] = (version, score)
    async with session_factory() as session:
        stored = {
            (encode_id("Student", grade.student_id), encode_id("Assignment", grade.assignment_id)): grade
            for grade in (
                await session.scalars(
                    select(Grade).where(
                        Grade.student_id.in_({decode_id(s)[1] for s, _ in last}),
                        Grade.assignment_id.in_({decode_id(a)[1] for _, a in last}),
                    )
                )
            ).all()
        }
    lost = [
        (cell, version, score, stored.get(cell) and (stored[cell].version, stored[cell].score))
        for cell, (version, score) in last.items()
        if cell not in stored or (stored[cell].version, stored[cell].score) != (version, score)
    ]
    missing = {
        n: sorted(expected[s.class_id] - s.updates)[:5]
        for n, s in enumerate(subscribers)
        if expected[s.class_id] - s.updates
    }

    total = sum(tally.operations.values())
    events = sum((s.events for s in subscribers), Counter[str]())
    backend = ("SQLite" if settings.is_sqlite else "PostgreSQL") + (" + Redis" if settings.redis_url else "")
    print(
        f"\nsoak: {len(world.servers)} server process(es) on {backend}, {elapsed:.0f}s, "
        f"{WRITERS} writers, {READERS} readers, "
        f"{len(subscribers)} subscribers\n"
        f"  operations {total} ({total / elapsed:.0f}/s): {dict(sorted(tally.operations.items()))}\n"
        f"  grade writes acknowledged {len(tally.acknowledged)}, "
        f"version conflicts retried {tally.conflicts}, cells {len(last)}\n"
        f"  events received {sum(events.values())}: {dict(sorted(events.items()))}\n"
        f"  errors {len(tally.errors)}, lost writes {len(lost)}, subscribers missing events {len(missing)}"
    )
    for n, (first, final) in enumerate(zip(before, after, strict=True)):
        print(
            f"  server {n}: RSS {first.rss_kib / 1024:.1f} -> {final.rss_kib / 1024:.1f} MiB, "
            f"fds {first.fds} -> {final.fds}; RSS over time (MiB): {[round(kib / 1024) for kib in series[n]]}"
        )

    assert not tally.errors, f"{len(tally.errors)} errors, the first: {tally.errors[:5]}"
    assert tally.acknowledged, "some writes went through"
    assert not lost, f"acknowledged writes not in the database: {lost[:5]}"
    assert not missing, f"GradeUpdated events missing (subscriber: first missing): {missing}"
    for first, final in zip(before, after, strict=True):
        assert final.rss_kib <= first.rss_kib * RSS_GROWTH + RSS_SLACK_KIB, (first, final)
        assert final.fds <= first.fds * FD_GROWTH + FD_SLACK, (first, final)
