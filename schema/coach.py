"""The AI coach as the API shows it: its chats, and asking it a question."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import AiChat as AiChatModel
from resolvers import coach
from resolvers.ids import encode_id
from schema.base import Info, Node, UserError, user_errors


@strawberry.type
class AiChat(Node):
    title: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: AiChatModel) -> AiChat:
        return cls(id=strawberry.ID(encode_id("AiChat", row.id)), title=row.title, created_at=row.created_at)


@strawberry.input
class AskAiCoachInput:
    chat_id: strawberry.ID | None = strawberry.field(default=None, description="null: a new chat.")
    message: str


@strawberry.type
class AskAiCoachPayload:
    chat: AiChat | None
    reply: str | None
    tokens_used: int = strawberry.field(description="Tokens this question used, as the model reported them.")
    user_errors: list[UserError]


@strawberry.type
class CoachMutations:
    @strawberry.mutation(description="Asks the AI coach; AI_UNAVAILABLE when no model answers.")
    async def ask_ai_coach(self, info: Info, input: AskAiCoachInput) -> AskAiCoachPayload:
        answer = await coach.ask(info.context, str(input.chat_id) if input.chat_id else None, input.message)
        return AskAiCoachPayload(
            chat=AiChat.from_model(answer.chat) if answer.chat else None,
            reply=answer.reply,
            tokens_used=answer.tokens_used,
            user_errors=user_errors(answer.problems),
        )
