"""Single sign-on providers (OpenID Connect), configured per school."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column, utcnow
from models.enums import SsoProviderKind


class SsoProvider(IdMixin, CreatedMixin, Base):
    """A school's OpenID provider (Microsoft Entra ID, Google or another). `client_secret` is kept
    encrypted with the server's secret and never returned; only accounts of THIS school whose
    verified e-mail is in `allowed_email_domains` sign in through it."""

    __tablename__ = "sso_providers"
    __table_args__ = (UniqueConstraint("school_id", "key"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[SsoProviderKind] = mapped_column(enum_column(SsoProviderKind))
    display_name: Mapped[str] = mapped_column(String(120))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_encrypted: Mapped[str | None] = mapped_column(String(1000))
    allowed_email_domains: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]
