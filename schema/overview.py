"""The user's overview card, and their recent AI activity."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import overview
from resolvers.ids import encode_id
from schema.base import Info, Node
from schema.coach import AiChat


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
