"""GraphiQL in a real browser (Debian's chromium, driven by Playwright), offline: the page loads
everything from the server, and a live `gradebookEvents` subscription, signed in from the
Headers pane, shows a grade written by another client within a second.

With REDIS_URL set the browser and the writer use two server processes (the event crosses
Redis); without it both are one process, as the embedded default is."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Page, Request, Route, WebSocket, async_playwright
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Assignment, ClassTeacher
from models.enums import AssignmentCategory
from resolvers.ids import encode_id
from tests.clients import post_graphql
from tests.contract.documents import contract_operation
from tests.e2e.real_clients import CHROMIUM, need_chromium
from tests.factories import Factory, SchoolData

EVENTS = contract_operation("GradebookEvents")
UPDATE = contract_operation("UpdateGrade")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost"}
QUERY_EDITOR = ".graphiql-query-editor"
TOOL_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"  # the variables or headers
RESULT_EDITOR = ".result-window"
EXECUTE = "button.graphiql-execute-button"
WAIT_MS = 10_000  # the longest any step may take (rendering on a busy machine); most take ms


@dataclass
class Observed:
    """What the page did besides rendering: requests refused, problems reported, WebSockets."""

    blocked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    websockets: list[WebSocket] = field(default_factory=list)
    sent: list[str | bytes] = field(default_factory=list)
    received: list[str | bytes] = field(default_factory=list)


@contextlib.asynccontextmanager
async def offline_page(screenshot: Path) -> AsyncIterator[tuple[Page, Observed]]:
    """A chromium page that may reach only loopback hosts; a screenshot if the test fails."""
    observed = Observed()

    async def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            await route.continue_()
        else:
            observed.blocked.append(route.request.url)
            await route.abort("blockedbyclient")

    def on_websocket(websocket: WebSocket) -> None:
        observed.websockets.append(websocket)
        websocket.on("framesent", lambda payload: observed.sent.append(payload))  # noqa: PLW0108
        websocket.on("framereceived", lambda payload: observed.received.append(payload))  # noqa: PLW0108

    def on_console(kind: str, text: str) -> None:
        if kind == "error" or "Content Security Policy" in text:
            observed.problems.append(f"console {kind}: {text}")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(WAIT_MS)
            await page.route("**/*", only_loopback)  # WebSockets are not routed: see `websockets`
            page.on("websocket", on_websocket)
            page.on("pageerror", lambda error: observed.problems.append(f"page error: {error}"))
            page.on("console", lambda message: on_console(message.type, message.text))
            try:
                yield page, observed
            except BaseException as error:
                with contextlib.suppress(Exception):
                    await page.screenshot(path=screenshot, full_page=True)
                    error.add_note(f"screenshot of the page: {screenshot}")
                error.add_note(f"blocked requests: {observed.blocked}; problems: {observed.problems}")
                raise
        finally:
            await browser.close()


async def editor_value(page: Page, selector: str) -> str:
    value: str = await page.eval_on_selector(f"{selector} .CodeMirror", "node => node.CodeMirror.getValue()")
    return value


async def replace_text(page: Page, selector: str, text: str) -> None:
    """Selects all of a GraphiQL editor's text and types (inserts, as a paste does) over it."""
    await page.click(f"{selector} .CodeMirror", position={"x": 100, "y": 12})  # the first line
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text(text)
    assert await editor_value(page, selector) == text
    if selector == QUERY_EDITOR:  # GraphiQL parses the query 100 ms after the last change
        await page.wait_for_function(
            "text => new URLSearchParams(location.search).get('q') === text", arg=text
        )


async def wait_for_result(page: Page, condition: str) -> dict[str, Any]:
    """Waits until the result pane's JSON, `result`, meets the JavaScript `condition`; that JSON.
    (Built as source, not with `new Function`: the page's CSP allows no eval.)"""
    await page.wait_for_function(
        f"""() => {{
            const editor = document.querySelector("{RESULT_EDITOR} .CodeMirror");
            try {{
                const result = JSON.parse(editor.CodeMirror.getValue());
                return Boolean({condition});
            }} catch (error) {{
                return false;
            }}
        }}"""
    )
    result: dict[str, Any] = json.loads(await editor_value(page, RESULT_EDITOR))
    return result


async def gradebook_with_a_quiz(session_factory: async_sessionmaker[AsyncSession], school: SchoolData) -> str:
    """A quiz in the school's class, which its other teacher co-teaches; the quiz's id."""
    async with session_factory.begin() as session:
        quiz = Assignment(
            class_id=school.klass.id, title="Quiz", category=AssignmentCategory.QUIZ, max_score=10.0,
            due_at=datetime.now(UTC) - timedelta(days=1),
        )  # fmt: skip
        session.add(quiz)
        session.add(
            ClassTeacher(class_id=school.klass.id, teacher_id=school.other_teacher.id, is_primary=False)
        )
    return encode_id("Assignment", quiz.id)


def is_query(name: str) -> Callable[[Request], bool]:
    def test(request: Request) -> bool:
        return request.method == "POST" and f'"operationName":"{name}"' in (request.post_data or "")

    return test


async def test_graphiql_runs_a_live_subscription_offline(
    start_server: Any,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    need_chromium()
    north = await factory.school("north")
    quiz = await gradebook_with_a_quiz(session_factory, north)
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    teacher_token, writer_token = factory.token(north.teacher), factory.token(north.other_teacher)
    class_id = encode_id("Class", north.klass.id)
    cell = {"studentId": encode_id("Student", north.student.id), "assignmentId": quiz}

    async with offline_page(tmp_path / "graphiql.png") as (page, observed):
        await page.goto(f"{server_b.base_url}/graphql")
        await page.wait_for_selector(f"{QUERY_EDITOR} .CodeMirror")
        await page.click("button[aria-label='Show Documentation Explorer']")
        docs = page.locator(".graphiql-doc-explorer")
        await docs.get_by_text("Subscription", exact=True).wait_for()  # introspection worked
        await page.click("button[aria-label='Show GraphiQL Explorer']")
        await page.locator(".graphiql-explorer-root", has_text="gradebook").first.wait_for()
        await page.click("button[aria-label='Hide GraphiQL Explorer']")

        await replace_text(page, QUERY_EDITOR, EVENTS)
        await replace_text(page, TOOL_EDITOR, json.dumps({"classId": class_id}))
        await page.click(EXECUTE)
        refused = await wait_for_result(page, "result.errors[0].message.includes('Headers pane')")
        assert "signed-in user" in refused["errors"][0]["message"]
        assert observed.websockets == [], "no WebSocket without a token"

        await page.get_by_role("button", name="Headers", exact=True).click()
        await replace_text(page, TOOL_EDITOR, json.dumps({"Authorization": f"Bearer {teacher_token}"}))
        await page.click(EXECUTE)
        joined = await wait_for_result(page, "result.data.gradebookEvents.__typename === 'EditorsChanged'")
        editors = joined["data"]["gradebookEvents"]["editors"]
        assert [editor["user"]["name"] for editor in editors] == [north.teacher.name]
        assert [urlsplit(ws.url).hostname for ws in observed.websockets] == ["127.0.0.1"]
        connection_init = json.loads(observed.sent[0])
        assert connection_init == {"type": "connection_init", "payload": {"accessToken": teacher_token}}

        started = time.monotonic()
        written = await post_graphql(
            server_a.base_url, writer_token, UPDATE, {"input": cell | {"score": 8, "expectedVersion": 0}}
        )
        grade = written["updateGrade"]["grade"]
        event = await wait_for_result(page, "result.data.gradebookEvents.__typename === 'GradeUpdated'")
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"the event reached the page {elapsed:.2f} s after the write"
        shown = event["data"]["gradebookEvents"]
        assert shown["grade"] == {"id": grade["id"], "score": 8.0, "letter": "B-", "version": 1}
        assert shown["by"]["name"] == north.other_teacher.name
        assert all(isinstance(frame, str) for frame in observed.received), "text frames only"

        # Stop the subscription; a query then goes over HTTP, carrying the Headers pane.
        await page.click(EXECUTE)
        await page.wait_for_selector(f"{EXECUTE}[aria-label^='Execute']")
        await replace_text(page, QUERY_EDITOR, "query Me { me { name } }")
        async with page.expect_request(is_query("Me")) as posted:
            await page.click(EXECUTE)
        assert (await posted.value).headers["authorization"] == f"Bearer {teacher_token}"
        me = await wait_for_result(page, "result.data.me !== undefined")
        assert me == {"data": {"me": {"name": north.teacher.name}}}

        assert observed.blocked == [], "GraphiQL needed the internet"
        assert observed.problems == []
