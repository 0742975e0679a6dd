"""Batched reads behind conversations: participants, unread counts, last messages, replies,
attachments, and notifications by id (for live events)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.base import RowByKeyLoader, RowsByKeyLoader, SessionLoader
from models import Attachment, Conversation, ConversationParticipant, Message, Notification

ConversationUser = tuple[int, int]  # (conversation id, user id)


class UnreadCountLoader(SessionLoader[ConversationUser, int]):
    """Messages of others sent after the participant last read the conversation."""

    async def batch_load_fn(self, keys: Sequence[ConversationUser]) -> list[int]:
        participant = ConversationParticipant
        query = (
            select(participant.conversation_id, participant.user_id, func.count(Message.id))
            .join(
                Message,
                and_(
                    Message.conversation_id == participant.conversation_id,
                    or_(Message.author_id.is_(None), Message.author_id != participant.user_id),
                    or_(participant.last_read_at.is_(None), Message.sent_at > participant.last_read_at),
                ),
            )
            .where(tuple_(participant.conversation_id, participant.user_id).in_(list(keys)))
            .group_by(participant.conversation_id, participant.user_id)
        )
        async with self._session_factory() as session:
            counts = {(c, u): n for c, u, n in (await session.execute(query)).all()}
        return [counts.get(key, 0) for key in keys]


class LastMessageLoader(SessionLoader[int, Message | None]):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[Message | None]:
        newest = (
            select(func.max(Message.id))
            .where(Message.conversation_id.in_(keys))
            .group_by(Message.conversation_id)
            .scalar_subquery()
        )
        async with self._session_factory() as session:
            rows = (await session.scalars(select(Message).where(Message.id.in_(newest)))).all()
        by_conversation = {row.conversation_id: row for row in rows}
        return [by_conversation.get(key) for key in keys]


class ReplyCountLoader(SessionLoader[int, int]):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        query = (
            select(Message.reply_to_id, func.count())
            .where(Message.reply_to_id.in_(keys))
            .group_by(Message.reply_to_id)
        )
        async with self._session_factory() as session:
            counts: dict[int | None, int] = dict((await session.execute(query)).all())
        return [counts.get(key, 0) for key in keys]


class ChatLoaders:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.conversation_by_id: RowByKeyLoader[int, Conversation] = RowByKeyLoader(
            session_factory, Conversation.id
        )
        self.participants_by_conversation: RowsByKeyLoader[int, ConversationParticipant] = RowsByKeyLoader(
            session_factory,
            ConversationParticipant.conversation_id,
            order_by=[ConversationParticipant.joined_at, ConversationParticipant.user_id],
        )
        self.message_by_id: RowByKeyLoader[int, Message] = RowByKeyLoader(session_factory, Message.id)
        self.attachments_by_message: RowsByKeyLoader[int, Attachment] = RowsByKeyLoader(
            session_factory, Attachment.message_id, order_by=[Attachment.id]
        )
        self.notification_by_id: RowByKeyLoader[int, Notification] = RowByKeyLoader(
            session_factory, Notification.id
        )
        self.unread_count = UnreadCountLoader(session_factory)
        self.last_message = LastMessageLoader(session_factory)
        self.reply_count = ReplyCountLoader(session_factory)
