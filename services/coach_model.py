"""The AI coach's language model: `POST {AI_COACH_MODEL_URL}/chat/completions` (OpenAI format).

Nothing here makes an answer up: a model that is not configured, fails, times out or answers
something unreadable raises ModelUnavailable, and the caller tells the user so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, ValidationError

from config import Settings

TIMEOUT_SECONDS = 30.0


class ModelUnavailable(Exception):
    """No reply: the model is not configured or did not answer; the message says why (for logs)."""


@dataclass(frozen=True)
class Turn:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Completion:
    reply: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class _Message(BaseModel):
    content: str


class _Choice(BaseModel):
    message: _Message


class _Usage(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class _Answer(BaseModel):
    choices: list[_Choice]
    usage: _Usage | None = None


def configured(settings: Settings) -> bool:
    return bool(settings.ai_coach_model_url and settings.ai_coach_model_key)


async def complete(http: httpx.AsyncClient, settings: Settings, turns: Sequence[Turn]) -> Completion:
    """The model's reply to the conversation `turns`, and the tokens the endpoint says it used."""
    if not configured(settings):
        raise ModelUnavailable("AI_COACH_MODEL_URL and AI_COACH_MODEL_KEY are not set")
    url = f"{(settings.ai_coach_model_url or '').rstrip('/')}/chat/completions"
    body = {
        "model": settings.ai_coach_model_name,
        "messages": [{"role": turn.role, "content": turn.content} for turn in turns],
    }
    headers = {"Authorization": f"Bearer {settings.ai_coach_model_key}"}
    try:
        response = await http.post(url, json=body, headers=headers, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        answer = _Answer.model_validate_json(response.content)
    except (httpx.HTTPError, ValidationError) as error:
        raise ModelUnavailable(f"{type(error).__name__}: {error}"[:300]) from error
    reply = answer.choices[0].message.content.strip() if answer.choices else ""
    if not reply:
        raise ModelUnavailable("the model answered no text")
    usage = answer.usage or _Usage()
    completion_tokens = usage.completion_tokens or 0
    prompt_tokens = usage.prompt_tokens
    if prompt_tokens is None:  # only a total reported
        prompt_tokens = max((usage.total_tokens or 0) - completion_tokens, 0)
    return Completion(reply, prompt_tokens, completion_tokens)
