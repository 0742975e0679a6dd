"""askAiCoach: a chat with the language model of services/coach_model.py, for every signed-in user.

The history of the chat goes with each question, the reply and the tokens the endpoint reports
are stored (the prompt's on the user's turn, the completion's on the reply), and each user may
ask `RATE` questions (shared by all processes through the rate limiter).

Without a configured model: AI_UNAVAILABLE and nothing stored. When the model fails or times
out: AI_UNAVAILABLE and no reply is made up, but the question is kept in the chat (a new chat
is created for it), so it is not lost; asking the same question again answers that stored
turn instead of repeating it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from errors import Forbidden, Problem
from models import AiChat, AiMessage
from models.base import utcnow
from models.enums import AiMessageRole
from resolvers.ids import decode_id_of
from resolvers.policy import NOT_VISIBLE, require_user
from services.coach_model import Completion, ModelUnavailable, Turn, complete, configured

if TYPE_CHECKING:
    from context import Context

log = logging.getLogger(__name__)

RATE = "30/hour"
MAX_QUESTION_LENGTH = 4000
HISTORY_TURNS = 20  # the newest turns sent along as context
TITLE_LENGTH = 60
SYSTEM_PROMPT = (
    "You are the CampusGraph study coach. Help students, families and school staff with study "
    "habits, planning and learning. Be encouraging, concise and honest; say when you do not know."
)
UNAVAILABLE = "The AI coach is not available right now. Please try again later."


@dataclass
class CoachAnswer:
    chat: AiChat | None
    reply: str | None
    tokens_used: int
    problems: list[Problem]


async def ask(ctx: Context, chat_global_id: str | None, message: str) -> CoachAnswer:
    user = require_user(ctx)
    question = message.strip()
    if not question or len(question) > MAX_QUESTION_LENGTH:
        text = f"Ask a question of at most {MAX_QUESTION_LENGTH} characters."
        return CoachAnswer(None, None, 0, [Problem(text, "INVALID", ("input", "message"))])
    if not configured(ctx.settings):
        return CoachAnswer(None, None, 0, [Problem(UNAVAILABLE, "AI_UNAVAILABLE")])
    chat, history = await _chat_and_history(ctx, chat_global_id, user.id)
    if not await ctx.app.limiter.hit(RATE, "ai-coach", str(user.id)):
        text = "You have asked the coach many questions this hour; please wait a little."
        return CoachAnswer(chat, None, 0, [Problem(text, "RATE_LIMITED")])
    # The same question again after a failure: answer the stored turn instead of adding another.
    retry = history[-1] if history and history[-1].role == AiMessageRole.USER else None
    if retry is not None and retry.content != question:
        retry = None
    turns = [Turn("system", SYSTEM_PROMPT)]
    turns += [Turn("user" if m.role == AiMessageRole.USER else "assistant", m.content) for m in history]
    if retry is None:
        turns.append(Turn("user", question))
    try:
        completion = await complete(ctx.app.http, ctx.settings, turns)
    except ModelUnavailable as error:
        log.warning("AI coach model unavailable: %s", error)
        chat = await _store(ctx, chat, user.id, question, retry, None)
        return CoachAnswer(chat, None, 0, [Problem(UNAVAILABLE, "AI_UNAVAILABLE")])
    chat = await _store(ctx, chat, user.id, question, retry, completion)
    return CoachAnswer(chat, completion.reply, completion.total_tokens, [])


async def _chat_and_history(
    ctx: Context, chat_global_id: str | None, user_id: int
) -> tuple[AiChat | None, list[AiMessage]]:
    if chat_global_id is None:
        return None, []
    chat_id = decode_id_of(chat_global_id, "AiChat")
    async with ctx.session_factory() as session:
        chat = await session.get(AiChat, chat_id)
        if chat is None or chat.user_id != user_id:
            raise Forbidden(NOT_VISIBLE)
        newest = await session.scalars(
            select(AiMessage)
            .where(AiMessage.chat_id == chat_id)
            .order_by(AiMessage.id.desc())
            .limit(HISTORY_TURNS)
        )
        return chat, list(newest.all())[::-1]


async def _store(
    ctx: Context,
    chat: AiChat | None,
    user_id: int,
    question: str,
    retry: AiMessage | None,
    completion: Completion | None,
) -> AiChat:
    """The question (unless it is `retry`, already stored) and the reply, in one transaction."""
    prompt_tokens = completion.prompt_tokens if completion else 0
    async with ctx.writer.begin() as session:
        if chat is None:
            title = question if len(question) <= TITLE_LENGTH else question[: TITLE_LENGTH - 1].rstrip() + "…"
            chat = AiChat(user_id=user_id, title=title, created_at=utcnow())
            session.add(chat)
            await session.flush()
        if retry is None:
            session.add(
                AiMessage(chat_id=chat.id, role=AiMessageRole.USER, content=question, tokens=prompt_tokens)
            )
        else:
            await session.execute(
                update(AiMessage).where(AiMessage.id == retry.id).values(tokens=prompt_tokens)
            )
        if completion is not None:
            session.add(
                AiMessage(
                    chat_id=chat.id,
                    role=AiMessageRole.ASSISTANT,
                    content=completion.reply,
                    tokens=completion.completion_tokens,
                )
            )
    return chat
