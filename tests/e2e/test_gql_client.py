"""Python's stock GraphQL client, gql, against real server processes: every contract subscription
through its WebsocketsTransport speaking graphql-transport-ws (the token in `init_payload`), each
receiving the event of a write made through the API (on another process when REDIS_URL is set),
and a query and a mutation through its HTTPX transport."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from tests.clients import post_graphql
from tests.contract.documents import contract_operation
from tests.e2e.test_node_clients import SUBSCRIPTIONS, servers, start_conversation, world
from tests.factories import Factory

EVENT_WAIT = 5.0
Data = dict[str, Any]


class Feed:
    """A gql subscription's results, read by a background task, so that writes can go on."""

    def __init__(self, session: Any, request: GraphQLRequest) -> None:
        self.queue: asyncio.Queue[Data | BaseException] = asyncio.Queue()
        self.seen: list[Data] = []
        self.task = asyncio.create_task(self._read(session, request))

    async def _read(self, session: Any, request: GraphQLRequest) -> None:
        try:
            async for result in session.subscribe(request):
                self.seen.append(result)
                await self.queue.put(result)
        except Exception as error:  # gql raises the server's errors; the test shows them
            await self.queue.put(error)

    async def next(self, accepts: Callable[[Data], bool] = lambda _: True, wait: float = EVENT_WAIT) -> Data:
        """The next result (skipping those before it that `accepts` refuses); TimeoutError after `wait`."""
        deadline = time.monotonic() + wait
        while True:
            item = await asyncio.wait_for(self.queue.get(), max(0.0, deadline - time.monotonic()))
            if isinstance(item, BaseException):
                raise item
            if accepts(item):
                return item

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def subscribed(
    ws_url: str, token: str, operation: str, variables: Data | None = None
) -> AsyncIterator[Feed]:
    transport = WebsocketsTransport(
        url=ws_url,
        init_payload={"accessToken": token},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        assert transport.subprotocol == "graphql-transport-ws"
        feed = Feed(session, GraphQLRequest(contract_operation(operation), variable_values=variables or {}))
        try:
            yield feed
        finally:
            await feed.close()


async def write_until_received(
    feed: Feed, write: Callable[[int], Awaitable[Any]], accepts: Callable[[Data, list[Any]], bool]
) -> tuple[Data, list[Any]]:
    """Writes until the feed delivers a result that `accepts` (given every write's result so far):
    no protocol message says when a subscription is listening. At most 20 writes."""
    written: list[Any] = []
    for attempt in range(20):
        written.append(await write(attempt))
        with contextlib.suppress(TimeoutError):
            return await feed.next(lambda data: accepts(data, written), wait=0.5), written
    raise AssertionError(f"no event after 20 writes; seen: {feed.seen}")


class Scenario:
    """One subscription, its data (CG_* names as for the Node clients) and its writes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.base_url = env["CG_HTTP_URL"].removesuffix("/graphql")
        self.scores = 0

    def token(self, role: str) -> str:
        return self.env[f"CG_TOKEN_{role.upper()}"]

    async def post(self, role: str, operation: str, variables: Data) -> Data:
        return await post_graphql(self.base_url, self.token(role), contract_operation(operation), variables)

    async def update_grade(self, role: str) -> float:
        self.scores += 1
        score = 10 - self.scores * 0.25
        cell = {"studentId": self.env["CG_STUDENT_ID"], "assignmentId": self.env["CG_ASSIGNMENT_ID"]}
        written = await self.post(
            role, "UpdateGrade", {"input": cell | {"score": score, "expectedVersion": None}}
        )
        assert written["updateGrade"]["userErrors"] == []
        return score

    async def gradebook_events(self) -> None:
        variables = {"classId": self.env["CG_CLASS_ID"]}
        async with subscribed(
            self.env["CG_WS_URL"], self.token("teacher"), "GradebookEvents", variables
        ) as feed:
            teacher = self.env["CG_TEACHER_NAME"]
            await feed.next(  # subscribing makes the teacher an editor: the subscription is live
                lambda data: (
                    data["gradebookEvents"]["__typename"] == "EditorsChanged"
                    and any(e["user"]["name"] == teacher for e in data["gradebookEvents"]["editors"])
                )
            )
            score = await self.update_grade("other_teacher")
            seen = await feed.next(lambda data: data["gradebookEvents"]["__typename"] == "GradeUpdated")
        event = seen["gradebookEvents"]
        assert event["grade"]["score"] == score
        assert event["studentId"] == self.env["CG_STUDENT_ID"]
        assert event["assignmentId"] == self.env["CG_ASSIGNMENT_ID"]
        assert event["by"]["name"] == self.env["CG_OTHER_TEACHER_NAME"]

    async def message_added(self) -> None:
        variables = {"conversationId": self.env["CG_CONVERSATION_ID"]}

        async def send(attempt: int) -> Data:
            body = {"conversationId": self.env["CG_CONVERSATION_ID"], "body": f"gql #{attempt}: exam?"}
            sent = await self.post("mentor", "SendMessage", {"input": body})
            assert sent["sendMessage"]["userErrors"] == []
            message: Data = sent["sendMessage"]["message"]
            return message

        async with subscribed(
            self.env["CG_WS_URL"], self.token("student"), "MessageAdded", variables
        ) as feed:
            seen, written = await write_until_received(
                feed, send, lambda data, sent: data["messageAdded"]["id"] in {m["id"] for m in sent}
            )
        message = seen["messageAdded"]
        assert message["body"] == next(m["body"] for m in written if m["id"] == message["id"])
        assert message["author"]["name"] == self.env["CG_MENTOR_NAME"]

    async def notification_added(self) -> None:
        async def notify(attempt: int) -> str:
            message = f"gql #{attempt}: the library closes early today"
            action = {
                "action": "SEND_NOTIFICATION",
                "studentIds": [self.env["CG_STUDENT_ID"]],
                "message": message,
            }
            done = await self.post("staff", "BulkStudentAction", {"input": action})
            assert done["bulkStudentAction"]["processedCount"] == 1
            return message

        async with subscribed(self.env["CG_WS_URL"], self.token("student"), "NotificationAdded") as feed:
            seen, _ = await write_until_received(
                feed, notify, lambda data, sent: data["notificationAdded"]["body"] in sent
            )
        assert seen["notificationAdded"]["kind"] == "school_message"
        assert seen["notificationAdded"]["title"] == f"Message from {self.env['CG_STAFF_NAME']}"

    async def student_dashboard_updated(self) -> None:
        async def write(_attempt: int) -> float:
            return await self.update_grade("teacher")

        def pushed_after(data: Data, scores: list[float]) -> bool:
            grade = data["studentDashboardUpdated"]["courses"][0]["currentGrade"]
            return any(abs(grade["percentage"] - score * 10) < 1e-9 for score in scores)

        async with subscribed(
            self.env["CG_WS_URL"], self.token("student"), "StudentDashboardUpdated"
        ) as feed:
            seen, _ = await write_until_received(feed, write, pushed_after)
        assert seen["studentDashboardUpdated"]["courses"][0]["class"]["id"] == self.env["CG_CLASS_ID"]

    async def teacher_dashboard_updated(self) -> None:
        async def write(_attempt: int) -> float:
            return await self.update_grade("other_teacher")

        async with subscribed(
            self.env["CG_WS_URL"], self.token("teacher"), "TeacherDashboardUpdated"
        ) as feed:
            seen, _ = await write_until_received(feed, write, lambda _data, _scores: True)
        assert seen["teacherDashboardUpdated"]["pendingGrading"] == [], "the only past-due cell is graded"


@pytest.mark.parametrize("subscription", SUBSCRIPTIONS)
async def test_gql_receives_the_event_of_a_write(
    subscription: str,
    start_server: Any,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    data = await world(factory, session_factory)
    env = data.env(factory) | servers(start_server, settings)
    if subscription == "MessageAdded":
        env["CG_CONVERSATION_ID"] = await start_conversation(env)
    scenario = Scenario(env)
    run = {
        "GradebookEvents": scenario.gradebook_events,
        "MessageAdded": scenario.message_added,
        "NotificationAdded": scenario.notification_added,
        "StudentDashboardUpdated": scenario.student_dashboard_updated,
        "TeacherDashboardUpdated": scenario.teacher_dashboard_updated,
    }[subscription]
    await run()


async def test_gql_queries_and_mutates_over_http(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    data = await world(factory, session_factory)
    env = data.env(factory) | servers(start_server, settings)
    transport = HTTPXAsyncTransport(
        url=env["CG_HTTP_URL"], headers={"Authorization": f"Bearer {env['CG_TOKEN_TEACHER']}"}
    )
    cell = {"studentId": env["CG_STUDENT_ID"], "assignmentId": env["CG_ASSIGNMENT_ID"]}
    gradebook = GraphQLRequest(
        contract_operation("Gradebook"), variable_values={"classId": env["CG_CLASS_ID"]}
    )

    def quiz_cell(result: Data) -> Data:
        row = next(r for r in result["gradebook"]["rows"] if r["student"]["id"] == cell["studentId"])
        found: Data = next(c for c in row["cells"] if c["assignmentId"] == cell["assignmentId"])
        return found

    async with Client(transport=transport) as session:
        before = quiz_cell(await session.execute(gradebook))
        assert (before["score"], before["version"]) == (None, 0)
        update = GraphQLRequest(
            contract_operation("UpdateGrade"),
            variable_values={"input": cell | {"score": 8.5, "expectedVersion": 0}},
        )
        written = (await session.execute(update))["updateGrade"]
        assert written["userErrors"] == []
        assert (written["grade"]["score"], written["grade"]["version"]) == (8.5, 1)
        assert written["grade"]["updatedBy"]["name"] == env["CG_TEACHER_NAME"]
        after = quiz_cell(await session.execute(gradebook))
    assert (after["score"], after["version"], after["letter"]) == (8.5, 1, written["grade"]["letter"])
