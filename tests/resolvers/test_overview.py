"""The overview card, recent activity and the AI coach, against a small local
OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config import Settings
from models import AiChat, AiMessage, GeneratedImage, User
from models.enums import AiMessageRole
from resolvers import coach
from resolvers.ids import decode_id
from resolvers.overview import time_ago
from services.simulator import serving
from stores.media import MediaStore
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

OVERVIEW = contract_operation("UserOverview")
RECENT = contract_operation("RecentActivity")
ASK = contract_operation("AskAiCoach")
MODEL_KEY = "model-key"


@dataclass
class ModelEndpoint:
    """What the fake model was asked, and whether it fails."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False


@pytest.fixture
async def model() -> AsyncIterator[ModelEndpoint]:
    endpoint = ModelEndpoint()

    async def completions(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {MODEL_KEY}":
            return JSONResponse({"error": "bad key"}, status_code=401)
        if endpoint.failing:
            return JSONResponse({"error": "overloaded"}, status_code=503)
        body = await request.json()
        endpoint.requests.append(body)
        question = body["messages"][-1]["content"]
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": f"Coach says: {question}"}}
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
        )

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    async with serving(app) as base_url:
        endpoint.url = f"{base_url}/v1"
        yield endpoint


@pytest.fixture
async def coached(settings: Settings, model: ModelEndpoint) -> AsyncIterator[GraphQLClient]:
    configured = settings.model_copy(
        update={"ai_coach_model_url": model.url, "ai_coach_model_key": MODEL_KEY}
    )
    async with http_client_for(configured) as http:
        yield GraphQLClient(http)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def ask(client: GraphQLClient, message: str, chat_id: str | None = None) -> Any:
    return (await client.data(ASK, {"input": {"message": message, "chatId": chat_id}}))["askAiCoach"]


async def test_the_coach_answers_counts_tokens_and_keeps_the_history(
    coached: GraphQLClient, factory: Factory, north: SchoolData, model: ModelEndpoint
) -> None:
    client = coached.as_user(factory.token(north.guardian))
    first = await ask(client, "How can I help with algebra homework?")
    assert first["userErrors"] == []
    assert (first["reply"], first["tokensUsed"]) == ("Coach says: How can I help with algebra homework?", 18)
    assert first["chat"]["title"] == "How can I help with algebra homework?"
    second = await ask(client, "And for geometry?", first["chat"]["id"])
    assert second["chat"]["id"] == first["chat"]["id"]
    sent = model.requests[-1]
    assert sent["model"] == "campus-coach"
    assert [(m["role"], m["content"]) for m in sent["messages"][1:]] == [
        ("user", "How can I help with algebra homework?"),
        ("assistant", first["reply"]),
        ("user", "And for geometry?"),
    ]
    assert sent["messages"][0]["role"] == "system"
    stats = (await client.data(OVERVIEW))["userOverview"]["stats"]
    assert (stats["totalChats"], stats["totalTokensUsed"]) == (1, 36)


async def test_without_a_model_the_coach_is_unavailable_and_nothing_is_stored(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    answer = await ask(gql.as_user(factory.token(north.student)), "Hello?")
    assert (answer["reply"], answer["chat"], answer["tokensUsed"]) == (None, None, 0)
    assert answer["userErrors"][0]["code"] == "AI_UNAVAILABLE"
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(AiMessage)) == 0


async def test_a_failing_model_makes_nothing_up_and_keeps_the_question(
    coached: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    model: ModelEndpoint,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    client = coached.as_user(factory.token(north.student))
    model.failing = True
    failed = await ask(client, "Plan my week?")
    assert (failed["reply"], failed["tokensUsed"]) == (None, 0)
    assert failed["userErrors"][0]["code"] == "AI_UNAVAILABLE"
    assert failed["chat"]["title"] == "Plan my week?"
    model.failing = False
    retried = await ask(client, "Plan my week?", failed["chat"]["id"])
    assert retried["reply"] == "Coach says: Plan my week?"
    assert [m["content"] for m in model.requests[-1]["messages"][1:]] == ["Plan my week?"], "asked once"
    async with session_factory() as session:
        turns = (await session.execute(select(AiMessage.role, AiMessage.tokens).order_by(AiMessage.id))).all()
    assert [tuple(turn) for turn in turns] == [(AiMessageRole.USER, 11), (AiMessageRole.ASSISTANT, 7)]


async def test_a_chat_is_its_owners_only(coached: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    mine = await ask(coached.as_user(factory.token(north.student)), "Private question")
    stolen = await coached.as_user(factory.token(north.teacher)).execute(
        ASK, {"input": {"message": "What did they ask?", "chatId": mine["chat"]["id"]}}
    )
    assert stolen["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await coached.execute(ASK, {"input": {"message": "hi"}}))["errors"][0]["extensions"][
        "code"
    ] == "UNAUTHENTICATED"


async def test_questions_are_rate_limited_per_user(
    coached: GraphQLClient, factory: Factory, north: SchoolData, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coach, "RATE", "2/hour")
    student = coached.as_user(factory.token(north.student))
    assert [(await ask(student, f"q{n}"))["userErrors"] for n in range(2)] == [[], []]
    assert (await ask(student, "q3"))["userErrors"][0]["code"] == "RATE_LIMITED"
    assert (await ask(coached.as_user(factory.token(north.teacher)), "mine"))["userErrors"] == []


async def add_activity(
    session_factory: async_sessionmaker[AsyncSession], user: User, chats: int, images: int
) -> None:
    now = datetime.now(UTC)
    async with session_factory.begin() as session:
        for n in range(chats):
            chat = AiChat(user_id=user.id, title=f"chat {n}", created_at=now - timedelta(hours=chats - n))
            session.add(chat)
            await session.flush()
            session.add(AiMessage(chat_id=chat.id, role=AiMessageRole.USER, content="q", tokens=10))
        session.add_all(
            GeneratedImage(
                user_id=user.id, prompt=f"image {n}", storage_key=f"generated/{user.id}-{n}.png",
                created_at=now - timedelta(hours=images - n),
            )
            for n in range(images)
        )  # fmt: skip
        await session.execute(
            update(User).where(User.id == user.id).values(created_at=now - timedelta(days=15))
        )


@pytest.mark.parametrize("role", ["student", "teacher", "staff", "admin", "mentor", "guardian"])
async def test_every_role_sees_its_own_overview(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    user = north.users[role]
    await add_activity(session_factory, user, chats=6, images=2)
    await add_activity(
        session_factory, north.other_student if role != "other_student" else north.student, 3, 3
    )
    client = gql.as_user(factory.token(user))
    overview = (await client.data(OVERVIEW))["userOverview"]
    assert overview["user"]["name"] == user.name
    assert overview["user"]["email"] == user.email
    assert overview["stats"] == {
        "totalChats": 6,
        "totalImages": 2,
        "totalTokensUsed": 60,
        "accountCreated": "2 weeks ago",
    }
    recent = (await client.data(RECENT))["recentActivity"]
    assert [c["title"] for c in recent["recentChats"]] == [f"chat {n}" for n in (5, 4, 3, 2, 1)]
    assert [(i["prompt"], i["thumbnailUrl"]) for i in recent["recentImages"]] == [
        ("image 1", None),
        ("image 0", None),
    ]


async def test_a_stored_image_gets_a_signed_thumbnail_url(
    http: httpx.AsyncClient,
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    key = MediaStore(settings.media_dir).save(b"\x89PNG\r\n\x1a\nfake", suffix=".png")
    async with session_factory.begin() as session:
        session.add(GeneratedImage(user_id=north.student.id, prompt="a fox", storage_key=key))
    recent = (await gql.as_user(factory.token(north.student)).data(RECENT))["recentActivity"]
    [image] = recent["recentImages"]
    assert decode_id(image["id"])[0] == "GeneratedImage"
    served = await http.get(image["thumbnailUrl"])
    assert (served.status_code, served.headers["content-type"]) == (200, "image/png")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert (await gql.execute(OVERVIEW))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("ago", "phrase"),
    [
        (timedelta(seconds=20), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(days=1, hours=3), "yesterday"),
        (timedelta(days=15), "2 weeks ago"),
        (timedelta(days=65), "2 months ago"),
        (timedelta(days=800), "2 years ago"),
        (timedelta(seconds=-5), "just now"),
    ],
)
def test_time_ago_is_a_human_phrase(ago: timedelta, phrase: str) -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert time_ago(now - ago, now) == phrase
