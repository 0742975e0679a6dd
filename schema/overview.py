"""The user's overview card, recent AI activity, and the AI coach."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import AiChat as AiChatModel
from resolvers import coach, overview
from resolvers.ids import encode_id
from schema.base import Info, Node, UserError, user_errors


@strawberry.type
class OverviewUser:
    name: str
    email: str
    joined: datetime


@strawberry.type(description="Counted when asked, so always current.")
class OverviewStats:
    total_chats: int = strawberry.field(description="AI coach chats.")
    total_images: int
    total_tokens_used: int
    account_created: str = strawberry.field(description='A human phrase, like "2 weeks ago".')


@strawberry.type
class UserOverview:
    user: OverviewUser
    stats: OverviewStats


@strawberry.type
class AiChat(Node):
    title: str
    created_at: datetime

    @classmethod
    def from_model(cls, row: AiChatModel) -> AiChat:
        return cls(id=strawberry.ID(encode_id("AiChat", row.id)), title=row.title, created_at=row.created_at)


@strawberry.type
class GeneratedImage(Node):
    prompt: str
    thumbnail_url: str | None = strawberry.field(
        description="Signed, for 15 minutes; null if the file is gone."
    )
    created_at: datetime


@strawberry.type
class RecentActivity:
    recent_chats: list[AiChat]
    recent_images: list[GeneratedImage]


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
class OverviewQueries:
    @strawberry.field(description="The signed-in user's overview card.")
    async def user_overview(self, info: Info) -> UserOverview:
        user, stats = await overview.overview(info.context)
        return UserOverview(
            user=OverviewUser(name=user.name, email=user.email, joined=user.created_at),
            stats=OverviewStats(
                total_chats=stats.total_chats,
                total_images=stats.total_images,
                total_tokens_used=stats.total_tokens_used,
                account_created=stats.account_created,
            ),
        )

    @strawberry.field(description="The caller's five newest AI chats and generated images.")
    async def recent_activity(self, info: Info) -> RecentActivity:
        chats, images = await overview.recent_activity(info.context)
        return RecentActivity(
            recent_chats=[AiChat.from_model(chat) for chat in chats],
            recent_images=[
                GeneratedImage(
                    id=strawberry.ID(encode_id("GeneratedImage", image.id)),
                    prompt=image.prompt,
                    thumbnail_url=overview.image_url(info.context.settings, image),
                    created_at=image.created_at,
                )
                for image in images
            ],
        )


@strawberry.type
class OverviewMutations:
    @strawberry.mutation(description="Asks the AI coach; AI_UNAVAILABLE when no model answers.")
    async def ask_ai_coach(self, info: Info, input: AskAiCoachInput) -> AskAiCoachPayload:
        answer = await coach.ask(info.context, str(input.chat_id) if input.chat_id else None, input.message)
        return AskAiCoachPayload(
            chat=AiChat.from_model(answer.chat) if answer.chat else None,
            reply=answer.reply,
            tokens_used=answer.tokens_used,
            user_errors=user_errors(answer.problems),
        )
