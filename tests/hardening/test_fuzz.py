"""Property-based fuzzing of the GraphQL API (hypothesis-graphql) against a real server process.

Every generated operation (queries and mutations that pass validation, plus a share with one
schema violation) is sent over HTTP by every client: each role of two schools and an anonymous
one. Each answer must be a clear one: no 5xx, no masked INTERNAL_SERVER_ERROR (an unexpected
exception), no internals in messages, a code on every error raised while executing, and never
anything of the other school (its marker strings or its records' global ids).

Problems are collected over the whole run, one per kind, and reported together (the shortest
operation seen for each), so that one run shows every bug it met. The run is derandomized, so
CI sees the same operations each time; FUZZ_EXAMPLES=N runs N operations instead of the default.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import (
    AiChat,
    Assessment,
    Assignment,
    Class,
    Conversation,
    Course,
    Grade,
    Message,
    Notification,
    TutoringSession,
    User,
)
from models.enums import Role
from resolvers.ids import encode_id
from tests.clients import post_graphql
from tests.factories import Factory, SchoolData, book_session, populate
from tests.hardening.fuzz_strategies import HOME, OTHER, SCHEMA, Seeded, operations

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES") or 500)
PARALLEL = 4  # requests in flight: the clients of one operation, a few at a time


# What an error message must never show: tracebacks, SQL, drivers, Python exception names.
LEAK = re.compile(
    r"Traceback|File \"|\.py\b|line \d+|sqlalchemy|sqlite|asyncpg|psycopg|postgres|"
    r"\b(SELECT|INSERT|UPDATE|DELETE)\b .*\b(FROM|INTO|SET|WHERE)\b|"
    r"\b[A-Z][A-Za-z]*(Error|Exception)\b|NoneType|object at 0x|<[a-z_.]+ object",
)
# Schema type names may appear in validation messages ("on type 'UserError'").
SCHEMA_TYPE_NAMES = frozenset(SCHEMA.type_map)


@dataclass(frozen=True)
class Client:
    name: str
    school: str | None  # None: anonymous
    token: str | None


@dataclass
class Findings:
    """Problems by kind, each with the shortest operation that showed it."""

    problems: dict[str, str] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, client: Client, document: str, variables: dict[str, Any], detail: str) -> None:
        shown = f"as {client.name}: {document}\nvariables: {json.dumps(variables)[:500]}\n-> {detail[:600]}"
        if kind not in self.problems or len(shown) < len(self.problems[kind]):
            self.problems[kind] = shown

    def report(self) -> str:
        return "\n\n".join(f"[{kind}]\n{shown}" for kind, shown in sorted(self.problems.items()))


# ---------------------------------------------------------------------------------------------
# Checks


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for inner in value.values():
            yield from walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner)


def leaks_internals(message: str) -> str | None:
    for match in LEAK.finditer(message):
        if match.group(0) not in SCHEMA_TYPE_NAMES:
            return match.group(0)
    return None


def check(
    client: Client, document: str, variables: dict[str, Any], response: httpx.Response, seeded: Seeded
) -> Iterator[tuple[str, str]]:
    """(kind, detail) of each problem with one answer."""
    if response.status_code >= 500:
        yield f"HTTP {response.status_code}", response.text
        return
    try:
        body = response.json()
    except ValueError:
        if response.status_code != 400:
            yield f"HTTP {response.status_code} not JSON", response.text
        elif leak := leaks_internals(response.text):
            yield f"HTTP 400 leaks {leak}", response.text
        return
    if not isinstance(body, dict):
        yield "answer is not an object", response.text
        return
    for error in body.get("errors") or []:
        message = str(error.get("message"))
        code = (error.get("extensions") or {}).get("code")
        where = ".".join(str(p) for p in error.get("path") or ()) or "validation"
        if code == "INTERNAL_SERVER_ERROR":
            yield f"INTERNAL_SERVER_ERROR at {where}", json.dumps(error)
        elif error.get("path") and not code:
            yield f"error without a code at {where}: {message[:60]}", json.dumps(error)
        if leak := leaks_internals(message):
            yield f"message leaks {leak!r} at {where}", message
    data = body.get("data")
    for node in walk(data):
        is_user_error = isinstance(node, dict) and isinstance(node.get("message"), str) and "code" in node
        if is_user_error and (leak := leaks_internals(node["message"])):
            yield f"userError leaks {leak!r}: {node.get('code')}", node["message"]
    foreign = [s for s in seeded.markers if s != client.school]
    sent = (document + json.dumps(variables)).lower()
    text = response.text.lower()
    for school in foreign:
        for marker in seeded.markers[school]:
            if marker in text and marker not in sent:
                yield (
                    f"{school} marker {marker!r} seen by a {client.school or 'anonymous'} client",
                    response.text,
                )
        for node in walk(data):
            if isinstance(node, str) and node in seeded.ids[school]:
                yield f"{school} id in data of a {client.school or 'anonymous'} client", response.text
                break


def codes_of(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return [f"HTTP {response.status_code}"]
    if not isinstance(body, dict):
        return ["?"]
    errors = body.get("errors") or []
    return [str((e.get("extensions") or {}).get("code", "validation")) for e in errors] or ["ok"]


# ---------------------------------------------------------------------------------------------
# Data


async def seed(base_url: str, factory: Factory, schools: dict[str, SchoolData]) -> None:
    """Beyond Factory.school: graded students with marked names, a conversation with a message,
    an assessment and a tutoring session in each school."""
    for slug, data in schools.items():
        await populate(
            factory.session_factory, data, 2, assignments=2, names=[f"Pupil {slug}", f"Learner {slug}"]
        )
        await book_session(factory.session_factory, data, datetime.now(UTC) + timedelta(days=3))
        teacher = factory.token(data.teacher)
        started = await post_graphql(
            base_url,
            teacher,
            "mutation($i: StartConversationInput!) { startConversation(input: $i) {"
            " conversation { id } userErrors { code } } }",
            {"i": {"participantIds": [encode_id("User", data.student.id)], "title": f"Chat {slug}"}},
        )
        conversation = started["startConversation"]["conversation"]["id"]
        sent = await post_graphql(
            base_url,
            teacher,
            "mutation($i: SendMessageInput!) {"
            " sendMessage(input: $i) { message { id } userErrors { code } } }",
            {"i": {"conversationId": conversation, "body": f"Homework for {slug}"}},
        )
        assert sent["sendMessage"]["message"], sent
        assessed = await post_graphql(
            base_url,
            teacher,
            "mutation($i: CreateAssessmentInput!) { createAssessment(input: $i) { userErrors { code } } }",
            {
                "i": {
                    "studentId": encode_id("Student", data.student.id),
                    "skill": f"Fractions {slug}",
                    "score": 7,
                    "maxScore": 10,
                    "notes": f"Notes {slug}",
                }
            },
        )
        assert assessed["createAssessment"]["userErrors"] == [], assessed


async def global_ids(
    session_factory: async_sessionmaker[AsyncSession], school_id: int
) -> dict[str, list[str]]:
    """The global ids of a school's records, by type name."""
    ids: dict[str, list[str]] = {"School": [encode_id("School", school_id)]}
    queries: list[tuple[tuple[str, ...], Any]] = [
        (("User",), select(User.id).where(User.school_id == school_id)),
        (("Student",), select(User.id).where(User.school_id == school_id, User.role == Role.STUDENT)),
        (("Teacher",), select(User.id).where(User.school_id == school_id, User.role == Role.TEACHER)),
        (("Class",), select(Class.id).where(Class.school_id == school_id)),
        (("Course",), select(Course.id).where(Course.school_id == school_id)),
        (("Conversation",), select(Conversation.id).where(Conversation.school_id == school_id)),
        (("TutoringSession",), select(TutoringSession.id).where(TutoringSession.school_id == school_id)),
        (
            ("Assignment",),
            select(Assignment.id)
            .join(Class, Class.id == Assignment.class_id)
            .where(Class.school_id == school_id),
        ),
        (
            ("Grade",),
            select(Grade.id)
            .join(Assignment, Assignment.id == Grade.assignment_id)
            .join(Class, Class.id == Assignment.class_id)
            .where(Class.school_id == school_id),
        ),
        (
            ("Message",),
            select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.school_id == school_id),
        ),
        (
            ("Assessment",),
            select(Assessment.id)
            .join(User, User.id == Assessment.student_id)
            .where(User.school_id == school_id),
        ),
        (
            ("AiChat",),
            select(AiChat.id).join(User, User.id == AiChat.user_id).where(User.school_id == school_id),
        ),
        (
            ("Notification",),
            select(Notification.id)
            .join(User, User.id == Notification.user_id)
            .where(User.school_id == school_id),
        ),
    ]
    async with session_factory() as session:
        for type_names, query in queries:
            for pk in (await session.scalars(query)).all():
                for type_name in type_names:
                    ids.setdefault(type_name, []).append(encode_id(type_name, pk))
    return ids


# ---------------------------------------------------------------------------------------------
# The test


def logged_errors(tmp_path: Path) -> list[str]:
    """Errors that no answer shows (events, background work) are only in the server's log."""
    return [
        line
        for log in sorted(tmp_path.glob("server-*.log"))
        for line in log.read_text().splitlines()
        if line.startswith(("ERROR", "CRITICAL"))
    ]


def run_fuzz(base_url: str, clients: list[Client], seeded: Seeded, findings: Findings) -> None:
    """Synchronous (Hypothesis drives it): each generated operation goes out from every client."""
    http = httpx.Client(base_url=base_url, timeout=30)
    executor = ThreadPoolExecutor(PARALLEL)

    def send(client: Client, document: str, variables: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
        return http.post("/graphql", json={"query": document, "variables": variables}, headers=headers)

    # The library's strategies are cheap to draw from but slow to build: too_slow would only say that.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # findings are collected, not raised: nothing to shrink
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(operations(seeded))
    def fuzz(operation: tuple[str, dict[str, Any]]) -> None:
        document, variables = operation
        kind = "mutation" if document.lstrip().startswith("mutation") else "query"
        futures = [(c, executor.submit(send, c, document, variables)) for c in clients]
        for client, future in futures:
            response = future.result()
            findings.requests[kind] += 1
            findings.codes.update(codes_of(response))
            for problem, detail in check(client, document, variables, response, seeded):
                findings.add(problem, client, document, variables, detail)

    try:
        fuzz()
    finally:
        executor.shutdown()
        http.close()


async def test_fuzzed_operations_get_clear_answers_and_stay_in_their_school(
    start_server: Callable[..., Any], factory: Factory, tmp_path: Path
) -> None:
    schools = {HOME: await factory.school(HOME), OTHER: await factory.school(OTHER)}
    # The per-user cost budget would soon refuse every query of the run (RATE_LIMITED), leaving
    # nothing executed to look at; sign-in limits stay as they are.
    server = start_server(QUERY_COST_BUDGET="100000000/hour")
    await seed(server.base_url, factory, schools)
    seeded = Seeded(
        typed_ids={
            slug: await global_ids(factory.session_factory, data.school.id) for slug, data in schools.items()
        },
        markers={slug: (slug, slug[:3] + "101") for slug in schools},
    )
    clients = [Client("anonymous", None, None)] + [
        Client(f"{name}@{slug}", slug, factory.token(user, minutes=60))
        for slug, data in schools.items()
        for name, user in data.users.items()
    ]
    findings = Findings()
    started = time.monotonic()
    set_hypothesis_home_dir(tmp_path / "hypothesis")  # its caches (unicode data, constants) too
    try:
        await asyncio.to_thread(run_fuzz, server.base_url, clients, seeded, findings)
    finally:
        set_hypothesis_home_dir(None)
    elapsed = time.monotonic() - started
    if logged := logged_errors(tmp_path):
        findings.problems["errors in the server's log"] = "\n".join(logged[:10])
    print(  # shown with -s or -rP: what one run covered
        f"fuzz: {sum(findings.requests.values())} requests {dict(findings.requests)} in {elapsed:.0f} s;"
        f" answers: {dict(findings.codes.most_common())}"
    )

    assert not findings.problems, f"{len(findings.problems)} kinds of problems:\n\n{findings.report()}"
    assert server.process.poll() is None, "the server is still running"
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.get("/healthz")).status_code == 200
    home = schools[HOME]
    me = await post_graphql(server.base_url, factory.token(home.teacher), "{ me { id } }", {})
    assert me == {"me": {"id": encode_id("User", home.teacher.id)}}
