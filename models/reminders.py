"""Payment reminder rules and the reminders they sent: one per invoice, rule and due date
(`uq_payment_reminders_once`), however often the run repeats, on any number of processes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column, utcnow
from models.enums import ReminderTrigger
from models.money import Money


class PaymentReminderRule(IdMixin, CreatedMixin, Base):
    __tablename__ = "payment_reminder_rules"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[ReminderTrigger] = mapped_column(enum_column(ReminderTrigger))
    days: Mapped[int] = mapped_column(Integer)
    send_email: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str | None] = mapped_column(String(1000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PaymentReminder(IdMixin, Base):
    __tablename__ = "payment_reminders"
    __table_args__ = (
        UniqueConstraint("invoice_id", "rule_id", "due_date", name="uq_payment_reminders_once"),
        Index("ix_payment_reminders_invoice", "invoice_id", "id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("payment_reminder_rules.id", ondelete="RESTRICT"))
    due_date: Mapped[date]
    amount_due: Mapped[Decimal] = mapped_column(Money)
    channels: Mapped[list[str]] = mapped_column(JSON)
    recipient_ids: Mapped[list[int]] = mapped_column(JSON)
    as_of: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
