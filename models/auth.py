"""Refresh tokens (stored hashed, grouped in rotation families), password-reset links and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, utcnow


class RefreshToken(IdMixin, Base):
    """One refresh token. Using it marks it used and issues the next of its family;
    presenting a used one revokes the whole family (reuse detection)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))
    # How the session began: PASSWORD, INVITATION (accepting one) or SSO (with its provider key).
    sign_in_method: Mapped[str] = mapped_column(String(16), default="PASSWORD")
    sso_provider: Mapped[str | None] = mapped_column(String(64))


class PasswordReset(IdMixin, Base):
    """A password-reset link: only the token's hash is kept; it works once, until `expires_at`."""

    __tablename__ = "password_resets"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    requested_ip: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(IdMixin, Base):
    """Who read or wrote what, when, from where. Append-only: the API never changes it."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_school_at", "school_id", "at"),
        Index("ix_audit_log_subject", "subject_type", "subject_id"),
    )

    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(60))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
