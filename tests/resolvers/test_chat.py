"""Mentorship chat through the contract's operations: who may talk, pages, unread counts,
attachments (multipart, limits, types, signed URLs) and the denials."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Attachment, Message
from resolvers import chat
from resolvers.ids import encode_id
from stores.filetypes import DOCX, JPEG, PDF, PNG, TEXT, offered_name, sniff
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

CONVERSATIONS = contract_operation("Conversations")
MESSAGES = contract_operation("ConversationMessages")
SEND = contract_operation("SendMessage")
START = contract_operation("StartConversation")
MARK_READ = contract_operation("MarkConversationRead")
PREFLIGHT = {"Apollo-Require-Preflight": "true"}
MB = 1024 * 1024


def png(color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buffer, "PNG")
    return buffer.getvalue()


def docx(*extra: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("[Content_Types].xml", "word/document.xml", *extra):
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


def uid(user: Any) -> str:
    return encode_id("User", user.id)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def start(
    gql: GraphQLClient, factory: Factory, caller: Any, *others: Any, title: str | None = None
) -> Any:
    client = gql.as_user(factory.token(caller))
    variables = {"input": {"participantIds": [uid(other) for other in others], "title": title}}
    return (await client.data(START, variables))["startConversation"]


async def send_files(
    http: httpx.AsyncClient,
    token: str,
    conversation_id: str,
    files: list[tuple[str, bytes]],
    body: str = "See attached",
) -> httpx.Response:
    """sendMessage as a GraphQL multipart request."""
    variables = {
        "input": {"conversationId": conversation_id, "body": body, "attachments": [None] * len(files)}
    }
    mapping = {str(n): [f"variables.input.attachments.{n}"] for n in range(len(files))}
    return await http.post(
        "/graphql",
        data={"operations": json.dumps({"query": SEND, "variables": variables}), "map": json.dumps(mapping)},
        files={
            str(n): (name, content, "application/octet-stream") for n, (name, content) in enumerate(files)
        },
        headers={"Authorization": f"Bearer {token}"} | PREFLIGHT,
    )


async def send(gql: GraphQLClient, conversation_id: str, body: str, reply_to: str | None = None) -> Any:
    variables = {"input": {"conversationId": conversation_id, "body": body, "replyToId": reply_to}}
    return (await gql.data(SEND, variables))["sendMessage"]


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.media_dir.rglob("*") if p.is_file()] if settings.media_dir.exists() else []


async def count(session_factory: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(
    ("caller", "other", "allowed"),
    [
        ("student", "teacher", True),  # their class's teacher
        ("student", "mentor", True),
        ("student", "guardian", True),
        ("student", "staff", True),
        ("student", "other_student", False),
        ("teacher", "other_student", False),  # not in their class
        ("teacher", "guardian", True),  # a guardian of a student in their class
        ("other_teacher", "guardian", False),
        ("other_teacher", "student", False),
        ("teacher", "other_teacher", True),  # colleagues
        ("mentor", "other_student", False),  # not their mentee
        ("guardian", "other_student", False),
        ("guardian", "mentor", False),
        ("admin", "other_student", True),
    ],
)
async def test_who_may_talk_to_whom(
    gql: GraphQLClient, factory: Factory, north: SchoolData, caller: str, other: str, allowed: bool
) -> None:
    result = await start(gql, factory, north.users[caller], north.users[other])
    if allowed:
        assert result["userErrors"] == []
        names = {p["name"] for p in result["conversation"]["participants"]}
        assert names == {north.users[caller].name, north.users[other].name}
    else:
        assert result["conversation"] is None
        assert result["userErrors"][0]["code"] == "NOT_FOUND"
        assert result["userErrors"][0]["field"] == ["input", "participantIds", "0"]
    # and the same answer the other way round
    reverse = await start(gql, factory, north.users[other], north.users[caller])
    assert (reverse["conversation"] is not None) == allowed


async def test_never_across_schools(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    south = await factory.school("south")
    for caller, other in [
        (north.admin, south.admin),
        (north.staff, south.student),
        (north.teacher, south.teacher),
    ]:
        result = await start(gql, factory, caller, other)
        assert result["userErrors"][0]["code"] == "NOT_FOUND"
    bad = await start(gql, factory, north.student, north.teacher, south.teacher)
    assert bad["conversation"] is None, "one unreachable participant refuses the whole conversation"
    assert [e["field"][-1] for e in bad["userErrors"]] == ["1"]


async def test_a_pair_reuses_its_conversation_and_a_title_starts_a_new_one(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    first = await start(gql, factory, north.mentor, north.student)
    again = await start(gql, factory, north.student, north.mentor)
    assert again["conversation"]["id"] == first["conversation"]["id"]
    titled = await start(gql, factory, north.mentor, north.student, title="College essays")
    assert titled["conversation"]["id"] != first["conversation"]["id"]
    assert titled["conversation"]["title"] == "College essays"
    group = await start(gql, factory, north.teacher, north.student, north.guardian)
    assert len(group["conversation"]["participants"]) == 3


async def test_messages_page_backwards_with_replies_and_unread_counts(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    conversation_id = (await start(gql, factory, north.mentor, north.student))["conversation"]["id"]
    mentor = gql.as_user(factory.token(north.mentor))
    student = gql.as_user(factory.token(north.student))
    sent = [(await send(mentor, conversation_id, f"note {n}"))["message"] for n in range(5)]
    reply = (await send(student, conversation_id, "thanks!", reply_to=sent[1]["id"]))["message"]

    listed = (await student.data(CONVERSATIONS, {"first": 10}))["conversations"]["nodes"]
    assert [(c["id"], c["unreadCount"]) for c in listed] == [(conversation_id, 0)], "replying read it all"
    mentor_view = (await mentor.data(CONVERSATIONS, {}))["conversations"]["nodes"][0]
    assert mentor_view["unreadCount"] == 1
    assert mentor_view["lastMessage"]["body"] == "thanks!"
    assert mentor_view["lastMessage"]["author"]["name"] == north.student.name

    page = (await mentor.data(MESSAGES, {"id": conversation_id, "last": 3}))["conversation"]["messages"]
    assert [m["body"] for m in page["nodes"]] == ["note 3", "note 4", "thanks!"]
    assert page["pageInfo"]["hasPreviousPage"] is True
    assert page["nodes"][2]["replyTo"] == {"id": sent[1]["id"]}
    older = (
        await mentor.data(
            MESSAGES, {"id": conversation_id, "last": 3, "before": page["pageInfo"]["startCursor"]}
        )
    )["conversation"]["messages"]
    assert [m["body"] for m in older["nodes"]] == ["note 0", "note 1", "note 2"]
    assert older["pageInfo"]["hasPreviousPage"] is False
    assert [m["replyCount"] for m in older["nodes"]] == [0, 1, 0]
    assert reply["id"] not in {m["id"] for m in older["nodes"]}

    read = (await mentor.data(MARK_READ, {"input": {"conversationId": conversation_id}}))[
        "markConversationRead"
    ]
    assert read["conversation"]["unreadCount"] == 0
    negative = await mentor.execute(MESSAGES, {"id": conversation_id, "last": -1})
    assert negative["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_conversations_page_by_latest_activity(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    quiet = (await start(gql, factory, north.student, north.mentor))["conversation"]["id"]
    busy = (await start(gql, factory, north.student, north.teacher))["conversation"]["id"]
    newest = (await start(gql, factory, north.student, north.guardian))["conversation"]["id"]
    student = gql.as_user(factory.token(north.student))
    await send(student, quiet, "an old thread comes back")
    first = (await student.data(CONVERSATIONS, {"first": 2}))["conversations"]
    assert [c["id"] for c in first["nodes"]] == [quiet, newest]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await student.data(CONVERSATIONS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))[
        "conversations"
    ]
    assert [c["id"] for c in rest["nodes"]] == [busy]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_outsiders_see_nothing_of_a_conversation(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    conversation_id = (await start(gql, factory, north.teacher, north.student))["conversation"]["id"]
    await send(gql.as_user(factory.token(north.teacher)), conversation_id, "Your essay is due Friday")
    for outsider in (north.other_student, north.staff, north.guardian, south.admin):
        client = gql.as_user(factory.token(outsider))
        for query, variables in [
            (MESSAGES, {"id": conversation_id}),
            (SEND, {"input": {"conversationId": conversation_id, "body": "hi"}}),
            (MARK_READ, {"input": {"conversationId": conversation_id}}),
        ]:
            result = await client.execute(query, variables)
            assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", outsider.name
            assert "Friday" not in json.dumps(result)
        assert (await client.data(CONVERSATIONS, {}))["conversations"]["nodes"] == []
    anonymous = await gql.execute(MESSAGES, {"id": conversation_id})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_png_round_trips_through_its_signed_url(
    http: httpx.AsyncClient, gql: GraphQLClient, factory: Factory, north: SchoolData, settings: Settings
) -> None:
    conversation_id = (await start(gql, factory, north.teacher, north.student))["conversation"]["id"]
    image = png()
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    response = await send_files(
        http,
        factory.token(north.teacher),
        conversation_id,
        [("../../etc/chart\u202egnp.png", image), ("worksheet.exe", pdf)],
    )
    sent = response.json()["data"]["sendMessage"]
    assert sent["userErrors"] == []
    shown, document = sent["message"]["attachments"]
    assert (shown["contentType"], shown["size"], shown["filename"]) == (
        "image/png",
        len(image),
        "chartgnp.png",
    )
    assert (document["contentType"], document["filename"]) == ("application/pdf", "worksheet.exe.pdf")

    served = await http.get(shown["url"])
    assert served.status_code == 200
    assert served.content == image
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"].startswith("inline;")
    download = await http.get(document["url"])
    assert download.content == pdf
    assert download.headers["content-disposition"].startswith("attachment;")

    files = stored_files(settings)
    assert len(files) == 2
    assert all(settings.media_dir in path.parents and "chart" not in path.name for path in files)
    # The student reads the same files through the conversation.
    page = await gql.as_user(factory.token(north.student)).data(MESSAGES, {"id": conversation_id})
    attachments = page["conversation"]["messages"]["nodes"][0]["attachments"]
    assert (await http.get(attachments[0]["url"])).content == image


async def test_forged_or_altered_attachment_urls_are_refused(
    http: httpx.AsyncClient, gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    conversation_id = (await start(gql, factory, north.teacher, north.student))["conversation"]["id"]
    response = await send_files(http, factory.token(north.teacher), conversation_id, [("a.png", png())])
    url = response.json()["data"]["sendMessage"]["message"]["attachments"][0]["url"]
    token = url.removeprefix("/media/")
    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), token[1:], "x" + token):
        refused = await http.get(f"/media/{forged}")
        assert refused.status_code == 403
        assert refused.headers["x-content-type-options"] == "nosniff"


async def test_an_11_mb_file_is_refused_while_it_arrives_and_leaves_nothing(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    conversation_id = (await start(gql, factory, north.teacher, north.student))["conversation"]["id"]
    big = png() + b"\0" * (11 * MB)
    response = await send_files(
        http, factory.token(north.teacher), conversation_id, [("ok.png", png()), ("big.png", big)]
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    assert stored_files(settings) == []
    assert await count(session_factory, Message) == 0
    assert await count(session_factory, Attachment) == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("homework.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\0" * 200),  # a Windows executable
        ("notes.txt", b"\x7fELF\x02\x01\x01" + b"\0" * 100),
        ("notes.txt", b"#!/bin/sh\nrm -rf /\n"),
        ("page.txt", b"<html><script>alert(1)</script></html>"),
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("report.docx", docx("word/vbaProject.bin")),  # macros
    ],
)
async def test_a_file_of_a_refused_type_refuses_the_whole_message(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    name: str,
    content: bytes,
) -> None:
    conversation_id = (await start(gql, factory, north.teacher, north.student))["conversation"]["id"]
    response = await send_files(
        http, factory.token(north.teacher), conversation_id, [("fine.png", png()), (name, content)]
    )
    sent = response.json()["data"]["sendMessage"]
    assert sent["message"] is None
    assert [(e["code"], e["field"]) for e in sent["userErrors"]] == [
        ("FILE_TYPE_NOT_ALLOWED", ["input", "attachments", "1"])
    ]
    assert stored_files(settings) == []
    assert await count(session_factory, Message) == 0


async def test_a_failure_after_the_files_are_stored_removes_them(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conversation_id = (await start(gql, factory, north.teacher, north.student))["conversation"]["id"]

    async def broken(*_args: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(chat, "_notify_away", broken)
    response = await send_files(
        http, factory.token(north.teacher), conversation_id, [("a.png", png()), ("b.png", png())]
    )
    assert response.json()["errors"][0]["message"] == "Internal server error."
    assert stored_files(settings) == []
    assert await count(session_factory, Message) == 0
    assert await count(session_factory, Attachment) == 0


async def test_empty_and_too_long_messages_and_foreign_replies_are_user_errors(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    first = (await start(gql, factory, north.teacher, north.student))["conversation"]["id"]
    second = (await start(gql, factory, north.mentor, north.student))["conversation"]["id"]
    student = gql.as_user(factory.token(north.student))
    elsewhere = (await send(student, second, "hello mentor"))["message"]["id"]
    assert (await send(student, first, "   "))["userErrors"][0]["code"] == "INVALID"
    assert (await send(student, first, "x" * 10_001))["userErrors"][0]["code"] == "INVALID"
    foreign = await send(student, first, "re", reply_to=elsewhere)
    assert (foreign["userErrors"][0]["code"], foreign["userErrors"][0]["field"]) == (
        "NOT_FOUND",
        ["input", "replyToId"],
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (png(), PNG),
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, JPEG),
        (b"%PDF-1.7\n", PDF),
        ("Grüße, plain text\n".encode(), TEXT),
        (docx(), DOCX),
        (b"", None),
        (b"PK\x03\x04 not really a zip", None),
        (b"\x00\x01binary", None),
        (b"\xc3\x28 invalid utf-8", None),
    ],
)
def test_types_are_read_from_the_bytes(content: bytes, expected: Any) -> None:
    assert sniff(content) == expected


def test_offered_names_end_in_their_real_type() -> None:
    assert offered_name("photo.JPEG", JPEG) == "photo.JPEG"
    assert offered_name("cv.exe", PDF) == "cv.exe.pdf"
    assert offered_name("README", TEXT) == "README.txt"
