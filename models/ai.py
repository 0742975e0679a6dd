"""The AI assistant: chats with the coach model, their messages, and generated images."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, enum_column, utcnow
from models.enums import AiMessageRole


class AiChat(IdMixin, Base):
    __tablename__ = "ai_chats"
    __table_args__ = (Index("ix_ai_chats_user_created", "user_id", "created_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AiMessage(IdMixin, Base):
    """One turn of an AI chat; `tokens` is what the model endpoint reported for it."""

    __tablename__ = "ai_messages"
    __table_args__ = (Index("ix_ai_messages_chat_id_id", "chat_id", "id"),)

    chat_id: Mapped[int] = mapped_column(ForeignKey("ai_chats.id", ondelete="CASCADE"))
    role: Mapped[AiMessageRole] = mapped_column(enum_column(AiMessageRole))
    content: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class GeneratedImage(IdMixin, Base):
    __tablename__ = "generated_images"
    __table_args__ = (Index("ix_generated_images_user_created", "user_id", "created_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    prompt: Mapped[str] = mapped_column(Text)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
