"""Writing the demo accounts' AI activity: their scripted AI-coach chats, with token counts, and
their generated images.
"""

from __future__ import annotations

from datetime import timedelta

from models import AiChat, AiMessage, GeneratedImage
from models.enums import AiMessageRole
from seed.world import World
from seed.writer import Writer


async def create_ai_activity(db: Writer, world: World) -> None:
    """The scripted AI-coach chats (with token counts) and generated images."""
    member, moment = world.accounts, world.calendar.moment
    chats = world.spec.ai_chats
    rows = [{"user_id": member[c.account].id, "title": c.title, "created_at": moment(c.at)} for c in chats]
    chat_ids = await db.insert_returning_ids(AiChat, rows, key=("user_id", "created_at"))
    await db.insert(
        AiMessage,
        [
            {
                "chat_id": chat_id,
                "role": AiMessageRole.USER if index % 2 == 0 else AiMessageRole.ASSISTANT,
                "content": turn,
                "tokens": len(turn) // 4 + 1,
                "created_at": moment(chat.at) + timedelta(seconds=45 * index),
            }
            for chat, chat_id in zip(chats, chat_ids, strict=True)
            for index, turn in enumerate(map(world.scripted, chat.turns))
        ],
    )
    await db.insert(
        GeneratedImage,
        [
            {
                "user_id": member[image.account].id,
                "prompt": image.prompt,
                "storage_key": f"generated/{world.spec.slug}/{image.account}-{number}.png",
                "created_at": moment(image.at),
            }
            for number, image in enumerate(world.spec.images, start=1)
        ],
    )
