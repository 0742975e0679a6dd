"""The web frontend's own npm libraries against real server processes: every contract subscription
through graphql-ws, Apollo Client 4 (GraphQLWsLink + HttpLink) and urql (subscriptionExchange),
and Apollo's normalized cache (InMemoryCache as it comes: default dataIdFromObject, no
typePolicies) on the API's ids and refusals.

Each test sets up the data, starts the servers (with REDIS_URL: subscriptions on one process,
writes through another) and runs one part of tests/node/*.test.mjs under `node --test`, passing
URLs, tokens and ids as CG_* environment variables; node's output is shown when it fails.
`npm ci --prefix tests/node` installs the clients (tests/e2e/real_clients.py skips without them,
and fails in CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Assignment, ClassTeacher, StudentProfile, User
from models.enums import AssignmentCategory, Tier
from resolvers.ids import encode_id
from services.simulator import running_simulator, service_env, simulated_item
from tests.clients import post_graphql
from tests.contract.documents import contract_operation
from tests.e2e.real_clients import NODE_PROJECT, need_node_clients
from tests.factories import Factory, SchoolData, populate

NODE_TIMEOUT = 120.0
SUBSCRIPTIONS = [
    "GradebookEvents",
    "MessageAdded",
    "NotificationAdded",
    "StudentDashboardUpdated",
    "TeacherDashboardUpdated",
]
CLIENTS = 3  # graphql-ws, Apollo Client, urql: one node test each per subscription
# A TAP block of a test that --test-name-pattern left out (dropped from the output shown).
SKIPPED = re.compile(r"^# Subtest: [^\n]*\nok \d+ - [^\n]*# SKIP[^\n]*\n(?:  [^\n]*\n)*", re.M)


@dataclass
class World:
    """One school: `student` in `teacher`'s class, co-taught by `other_teacher`, with one quiz
    past due and ungraded; the CG_* variables that describe it to the Node side."""

    school: SchoolData
    quiz_id: str

    def env(self, factory: Factory) -> dict[str, str]:
        north = self.school
        env = {
            "CG_CLASS_ID": encode_id("Class", north.klass.id),
            "CG_STUDENT_ID": encode_id("Student", north.student.id),
            "CG_STUDENT_USER_ID": encode_id("User", north.student.id),
            "CG_ASSIGNMENT_ID": self.quiz_id,
        }
        for role in ("teacher", "other_teacher", "student", "mentor", "staff"):
            user = north.users[role]
            env[f"CG_TOKEN_{role.upper()}"] = factory.token(user, minutes=30)
            env[f"CG_{role.upper()}_NAME"] = user.name
        return env


async def world(factory: Factory, session_factory: async_sessionmaker[AsyncSession]) -> World:
    north = await factory.school("north")
    async with session_factory.begin() as session:
        quiz = Assignment(
            class_id=north.klass.id, title="Quiz", category=AssignmentCategory.QUIZ, max_score=10.0,
            due_at=datetime.now(UTC) - timedelta(days=1),
        )  # fmt: skip
        session.add(quiz)
        session.add(
            ClassTeacher(class_id=north.klass.id, teacher_id=north.other_teacher.id, is_primary=False)
        )
    return World(north, encode_id("Assignment", quiz.id))


def servers(start_server: Any, settings: Settings, **env: str) -> dict[str, str]:
    """Writes and queries go to one process, subscriptions to another when Redis joins them."""
    server_a = start_server(**env)
    server_b = start_server(**env) if settings.redis_url else server_a
    return {"CG_HTTP_URL": f"{server_a.base_url}/graphql", "CG_WS_URL": server_b.ws_url}


async def run_node(test_file: str, env: dict[str, str], name_pattern: str, expected: int) -> None:
    """`node --test` on tests/node/<test_file>, only the tests whose names match; asserts that
    `expected` tests ran and all passed, showing node's output otherwise."""
    command = [
        "node",
        "--test",
        "--test-reporter=tap",
        "--test-force-exit",  # a leaked socket must not hang the suite; the tests close theirs
        f"--test-name-pattern={name_pattern}",
        test_file,
    ]
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=NODE_PROJECT,
        env=os.environ | env | {"NODE_NO_WARNINGS": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        raw, _ = await asyncio.wait_for(process.communicate(), NODE_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raw, _ = await process.communicate()
        pytest.fail(f"node did not finish within {NODE_TIMEOUT} s:\n{raw.decode(errors='replace')}")
    output = raw.decode(errors="replace")
    counts = {key: int(value) for key, value in re.findall(r"^# (pass|fail|tests) (\d+)$", output, re.M)}
    if process.returncode != 0 or counts.get("fail") != 0 or counts.get("pass") != expected:
        pytest.fail(
            f"node --test {test_file} ({name_pattern}): exit {process.returncode}, {counts}, "
            f"expected {expected} passing:\n{SKIPPED.sub('', output)}",
            pytrace=False,
        )


async def start_conversation(env: dict[str, str]) -> str:
    """The mentor's conversation with the student, started through the API."""
    variables = {"input": {"participantIds": [env["CG_STUDENT_USER_ID"]]}}
    data = await post_graphql(
        env["CG_HTTP_URL"].removesuffix("/graphql"),
        env["CG_TOKEN_MENTOR"],
        contract_operation("StartConversation"),
        variables,
    )
    assert data["startConversation"]["userErrors"] == []
    conversation_id: str = data["startConversation"]["conversation"]["id"]
    return conversation_id


@pytest.mark.parametrize("subscription", SUBSCRIPTIONS)
async def test_each_stock_client_receives_the_event_of_a_write(
    subscription: str,
    start_server: Any,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    need_node_clients()
    data = await world(factory, session_factory)
    env = data.env(factory) | servers(start_server, settings)
    if subscription == "MessageAdded":
        env["CG_CONVERSATION_ID"] = await start_conversation(env)
    await run_node("subscriptions.test.mjs", env, f"^{subscription} through ", CLIENTS)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("cell by mutation", id="UpdateGrade"),
        pytest.param("cells by bulk mutation", id="BulkUpdateGrades"),
        pytest.param("cell by event", id="GradeUpdated"),
    ],
)
async def test_apollo_gradebook_cache_takes_the_new_cell(
    case: str,
    start_server: Any,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    need_node_clients()
    data = await world(factory, session_factory)
    env = data.env(factory) | servers(start_server, settings)
    await run_node("apollo_cache.test.mjs", env, f"^{case}: ", 1)


async def test_apollo_keeps_one_entry_per_user(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    need_node_clients()
    data = await world(factory, session_factory)
    env = data.env(factory) | servers(start_server, settings)
    await run_node("apollo_cache.test.mjs", env, "^users: ", 1)


@pytest.mark.parametrize("code", ["PAYLOAD_TOO_LARGE", "CSRF_REFUSED"])
async def test_apollo_reads_the_code_of_a_refusal(
    code: str,
    start_server: Any,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    need_node_clients()
    data = await world(factory, session_factory)
    env = data.env(factory) | servers(start_server, settings)
    env["CG_MAX_BODY_BYTES"] = str(settings.max_body_bytes)
    await run_node("apollo_cache.test.mjs", env, f"^refusal {code}: ", 1)


def student_numbers_with_items(count: int) -> list[str]:
    """Student numbers for which the simulator has missions and portfolio items, their first
    mission's and first item's titles all different: per-student ids ("m1", "p1") then collide
    with different data, which a cache keyed by those ids would mix up."""
    chosen: list[str] = []
    seen: set[str] = set()
    for n in range(1, 1000):
        number = f"NODE-{n:05d}"
        missions = (simulated_item("missions", number) or {}).get("missions", [])
        items = (simulated_item("portfolio", number) or {}).get("items", [])
        if not missions or not items:
            continue
        titles = {f"m:{missions[0]['title']}", f"p:{items[0]['title']}"}
        if titles & seen:
            continue
        chosen.append(number)
        seen |= titles
        if len(chosen) == count:
            return chosen
    raise AssertionError("the simulator has too few students with missions and portfolio items")


async def test_apollo_keeps_each_students_dashboard_items_apart(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    need_node_clients()
    data = await world(factory, session_factory)
    roster = await populate(session_factory, data.school, 2)
    async with session_factory.begin() as session:
        for student_id, number in zip(roster.student_ids, student_numbers_with_items(2), strict=True):
            await session.execute(
                update(StudentProfile)
                .where(StudentProfile.user_id == student_id)
                .values(student_number=number)
            )
            await session.execute(update(User).where(User.id == student_id).values(tier=Tier.PREMIUM))
    async with running_simulator() as simulator:
        env = data.env(factory) | servers(start_server, settings, **service_env(simulator))
        env["CG_DASHBOARD_STUDENT_IDS"] = ",".join(encode_id("Student", s) for s in roster.student_ids)
        await run_node("apollo_cache.test.mjs", env, "^dashboards: ", 1)
