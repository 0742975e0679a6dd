"""The Translator against two real local HTTP providers: one shaped like LibreTranslate, one like an
OpenAI-compatible chat completions API. Their "translation" is deterministic: «target» + the text
upper-cased, markers kept, unless a test tells them to misbehave."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from config import Settings
from services.simulator import serving
from services.translation import LANGUAGES_RETRY_SECONDS, SUPPORTED_LANGUAGES, Translator
from tests.services.conftest import FakeClock

LIBRE_KEY = "libre-key"
MODEL_KEY = "model-key"
MARKER = re.compile(r"\[\[\d+\]\]")


def fake_translation(text: str, target: str) -> str:
    # Upper-case the words, keep the markers as they are.
    pieces = MARKER.split(text)
    markers = MARKER.findall(text)
    out = pieces[0].upper()
    for marker, piece in zip(markers, pieces[1:], strict=True):
        out += marker + piece.upper()
    return f"«{target}» {out}"


@dataclass
class Provider:
    """How the fake providers answer (`mode`) and what they were sent."""

    mode: str = "ok"
    requests: list[dict[str, Any]] = field(default_factory=list)
    language_asks: int = 0

    def answer(self, text: str, target: str) -> str:
        if self.mode == "drop":
            return MARKER.sub("", fake_translation(text, target))
        if self.mode == "double":
            return fake_translation(text, target) + " " + " ".join(MARKER.findall(text))
        return fake_translation(text, target)

    async def misbehave(self) -> Response | None:
        if self.mode == "error":
            return PlainTextResponse("boom", status_code=500)
        if self.mode == "slow":
            await asyncio.sleep(1.0)
        if self.mode == "garbage":
            return PlainTextResponse("<html>not json</html>")
        return None


def provider_app(provider: Provider) -> Starlette:
    async def translate(request: Request) -> Response:
        body = await request.json()
        provider.requests.append(body)
        if body.get("api_key") != LIBRE_KEY:
            return JSONResponse({"error": "Invalid API key"}, status_code=403)
        if (failure := await provider.misbehave()) is not None:
            return failure
        texts = body["q"] if isinstance(body["q"], list) else [body["q"]]
        translated = [provider.answer(text, body["target"]) for text in texts]
        if provider.mode == "short":
            translated = translated[:-1]
        return JSONResponse({"translatedText": translated if isinstance(body["q"], list) else translated[0]})

    async def languages(request: Request) -> Response:
        provider.language_asks += 1
        if provider.mode == "error":
            return PlainTextResponse("down", status_code=503)
        return JSONResponse([{"code": c, "name": c, "targets": ["en", "es"]} for c in ("en", "es", "xx")])

    async def chat(request: Request) -> Response:
        body = await request.json()
        provider.requests.append(body | {"authorization": request.headers.get("authorization")})
        if request.headers.get("authorization") != f"Bearer {MODEL_KEY}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if (failure := await provider.misbehave()) is not None:
            return failure
        system, user = body["messages"]
        target = re.search(r"into .*? \((\w+)\)", system["content"])
        assert target is not None
        reply = provider.answer(user["content"], target.group(1))
        return JSONResponse({"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]})

    return Starlette(
        routes=[
            Route("/translate", translate, methods=["POST"]),
            Route("/languages", languages, methods=["GET"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ]
    )


@pytest.fixture
async def provider() -> AsyncIterator[tuple[Provider, str]]:
    state = Provider()
    async with serving(provider_app(state)) as base_url:
        yield state, base_url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def settings(**fields: Any) -> Settings:
    return Settings(environment="test", _env_file=None, translation_timeout_seconds=0.3, **fields)  # type: ignore[call-arg]


def libre(base_url: str, **extra: Any) -> Settings:
    return settings(libretranslate_url=base_url, libretranslate_key=LIBRE_KEY, **extra)


def model(base_url: str, **extra: Any) -> Settings:
    return settings(
        translation_model_url=f"{base_url}/v1",
        translation_model_key=MODEL_KEY,
        translation_model_name="translator-small",
        **extra,
    )


TEXTS = ["Hello {{ recipient.firstName }}, grades for {{student.name}} are out.", "", "{{school.name}}"]


async def test_without_a_provider_nothing_is_translated(http: httpx.AsyncClient) -> None:
    translator = Translator(settings(), http)
    assert not translator.available
    assert await translator.translate(["Hello"], "en", "es") is None
    assert await translator.target_languages() == frozenset()


async def test_libretranslate_keeps_placeholders_and_never_sends_them(
    provider: tuple[Provider, str], http: httpx.AsyncClient
) -> None:
    state, base_url = provider
    translator = Translator(libre(base_url), http)
    assert translator.available
    translated = await translator.translate(TEXTS, "en", "es")
    assert translated == [
        "«es» HELLO {{ recipient.firstName }}, GRADES FOR {{student.name}} ARE OUT.",
        "",
        "{{school.name}}",
    ]
    # One request for all texts with something to translate; no placeholder (nor its value) sent.
    assert len(state.requests) == 1
    sent = state.requests[0]
    assert sent == {
        "q": ["Hello [[0]], grades for [[1]] are out."],
        "source": "en",
        "target": "es",
        "format": "text",
        "api_key": LIBRE_KEY,
    }
    assert await translator.translate(["Same"], "es", "es") == ["Same"]
    assert len(state.requests) == 1


async def test_openai_compatible_model(provider: tuple[Provider, str], http: httpx.AsyncClient) -> None:
    state, base_url = provider
    translator = Translator(model(base_url, libretranslate_url=base_url), http)  # the model wins
    translated = await translator.translate(["Hi {{recipient.name}}", "Bye"], "en", "fr")
    assert translated == ["«fr» HI {{recipient.name}}", "«fr» BYE"]
    assert [request["model"] for request in state.requests] == ["translator-small"] * 2
    assert all("{{" not in json.dumps(request) for request in state.requests)
    assert "[[0]]" in state.requests[0]["messages"][0]["content"]  # told to keep the markers
    assert await translator.target_languages() == frozenset(language.code for language in SUPPORTED_LANGUAGES)


FAILURES = [
    (kind, mode) for kind in ("libre", "model") for mode in ("error", "slow", "garbage", "drop", "double")
]


# "short": fewer translations than texts (the model is asked one text at a time).
@pytest.mark.parametrize(("kind", "mode"), [*FAILURES, ("libre", "short")])
async def test_failures_give_none(
    provider: tuple[Provider, str], http: httpx.AsyncClient, kind: str, mode: str
) -> None:
    state, base_url = provider
    state.mode = mode
    translator = Translator(libre(base_url) if kind == "libre" else model(base_url), http)
    assert await translator.translate(["One {{school.name}}", "Two {{author.name}}"], "en", "es") is None
    assert state.requests  # it was asked, and its answer refused


async def test_a_wrong_key_and_an_unsupported_language_give_none(
    provider: tuple[Provider, str], http: httpx.AsyncClient
) -> None:
    state, base_url = provider
    wrong = Translator(settings(libretranslate_url=base_url, libretranslate_key="nope"), http)
    assert await wrong.translate(["Hello"], "en", "es") is None
    right = Translator(libre(base_url), http)
    assert await right.translate(["Hello"], "en", "tlh") is None
    assert len(state.requests) == 1


async def test_a_text_holding_a_marker_already_is_not_sent(
    provider: tuple[Provider, str], http: httpx.AsyncClient
) -> None:
    state, base_url = provider
    translator = Translator(libre(base_url), http)
    assert await translator.translate(["See [[0]] and {{school.name}}"], "en", "es") is None
    assert state.requests == []
    assert await translator.translate(["See [[7]] and {{school.name}}"], "en", "es") == [
        "«es» SEE [[7]] AND {{school.name}}"
    ]


async def test_libretranslate_languages_are_asked_once_and_failures_retried_later(
    provider: tuple[Provider, str], http: httpx.AsyncClient
) -> None:
    state, base_url = provider
    clock = FakeClock()
    translator = Translator(libre(base_url), http, clock=clock)
    assert await translator.target_languages() == {"en", "es"}
    assert await translator.target_languages() == {"en", "es"}
    assert state.language_asks == 1

    state.mode = "error"
    down = Translator(libre(base_url), http, clock=clock)
    assert await down.target_languages() == frozenset()
    assert await down.target_languages() == frozenset()
    assert state.language_asks == 2
    state.mode = "ok"
    clock.advance(LANGUAGES_RETRY_SECONDS + 1)
    assert await down.target_languages() == {"en", "es"}
    assert state.language_asks == 3
