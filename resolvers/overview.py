"""The signed-in user's overview card and recent AI activity, for every role.

The stats are counted when asked, in one statement over indexed columns (ai_chats and
generated_images by user, ai_messages by chat): always current, and nothing is added to
the requests that change them, which a kept counter would have to update in their transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from models import AiChat, AiMessage, GeneratedImage, User
from models.base import utcnow
from resolvers.policy import require_user
from stores.filetypes import GIF, JPEG, PNG, WEBP
from stores.media import InvalidMediaKey, sign_url

if TYPE_CHECKING:
    from config import Settings
    from context import Context

RECENT = 5
IMAGE_TYPES = {file_type.suffix: file_type for file_type in (PNG, JPEG, GIF, WEBP)}
# (seconds in the unit, its name), largest first.
UNITS = ((365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"),
         (3600, "hour"), (60, "minute"))  # fmt: skip


@dataclass(frozen=True)
class Stats:
    total_chats: int
    total_images: int
    total_tokens_used: int
    account_created: str


def time_ago(then: datetime, now: datetime) -> str:
    """A human phrase for how long ago `then` was: "just now", "yesterday", "2 weeks ago"."""
    seconds = max(int((now - then).total_seconds()), 0)
    for size, unit in UNITS:
        count = seconds // size
        if count >= 1:
            if (count, unit) == (1, "day"):
                return "yesterday"
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


async def overview(ctx: Context) -> tuple[User, Stats]:
    user = require_user(ctx)
    chats = select(func.count()).select_from(AiChat).where(AiChat.user_id == user.id)
    images = select(func.count()).select_from(GeneratedImage).where(GeneratedImage.user_id == user.id)
    tokens = (
        select(func.coalesce(func.sum(AiMessage.tokens), 0))
        .join(AiChat, AiChat.id == AiMessage.chat_id)
        .where(AiChat.user_id == user.id)
    )
    async with ctx.session_factory() as session:
        row = (
            await session.execute(
                select(
                    User, chats.scalar_subquery(), images.scalar_subquery(), tokens.scalar_subquery()
                ).where(User.id == user.id)
            )
        ).one()
    account, total_chats, total_images, total_tokens = row
    return account, Stats(total_chats, total_images, total_tokens, time_ago(account.created_at, utcnow()))


async def recent_activity(ctx: Context) -> tuple[list[AiChat], list[GeneratedImage]]:
    """The caller's `RECENT` newest AI chats and generated images."""
    user = require_user(ctx)
    async with ctx.session_factory() as session:
        chats = await session.scalars(
            select(AiChat)
            .where(AiChat.user_id == user.id)
            .order_by(AiChat.created_at.desc(), AiChat.id.desc())
            .limit(RECENT)
        )
        images = await session.scalars(
            select(GeneratedImage)
            .where(GeneratedImage.user_id == user.id)
            .order_by(GeneratedImage.created_at.desc(), GeneratedImage.id.desc())
            .limit(RECENT)
        )
        return list(chats.all()), list(images.all())


def image_url(settings: Settings, image: GeneratedImage) -> str | None:
    """A signed link to the image, or None when its file is not in the media store."""
    file_type = IMAGE_TYPES.get("." + image.storage_key.rpartition(".")[2].lower())
    if file_type is None:
        return None
    try:
        url, _ = sign_url(
            settings,
            image.storage_key,
            filename=f"image-{image.id}{file_type.suffix}",
            content_type=file_type.content_type,
        )
    except InvalidMediaKey:
        return None
    return url
