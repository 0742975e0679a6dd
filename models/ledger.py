"""The students' double-entry ledger, and the payments, refunds and allocations it records.

Every transaction (a charge, payment, refund, void, award or revocation) is two or more
LedgerEntry rows with one `transaction_id` whose amounts sum to zero: the student's RECEIVABLE
against the school's REVENUE, CASH or SCHOLARSHIP. A debit is positive: a charge debits
RECEIVABLE (the student owes more), a payment credits it. A student's balance is the sum of
their RECEIVABLE entries. Rows are only ever inserted: a correction is a new transaction whose
entries name the ones they reverse (`reverses_id`).

Allocations say which invoice line a payment or award paid. They are inserted too, never
changed: a refund or void that takes money back from a line adds a negative allocation naming
the one it reverses. What of a payment is not allocated is the student's credit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, enum_column, utcnow
from models.enums import EntryKind, LedgerAccount, PaymentMethod
from models.money import Money


class LedgerEntry(IdMixin, Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_account", "student_id", "account", "id"),
        Index("ix_ledger_entries_school", "school_id", "posted_at"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    transaction_id: Mapped[str] = mapped_column(String(32), index=True)
    account: Mapped[LedgerAccount] = mapped_column(enum_column(LedgerAccount))
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    description: Mapped[str] = mapped_column(String(300))
    reference: Mapped[str | None] = mapped_column(String(120))
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)
    invoice_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_lines.id", ondelete="RESTRICT"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="RESTRICT"))
    award_id: Mapped[int | None] = mapped_column(
        ForeignKey("scholarship_awards.id", ondelete="RESTRICT"), index=True
    )
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id", ondelete="RESTRICT"))


class Payment(IdMixin, Base):
    """Money received at the point of sale. `idempotency_key` is unique in the school: a retried
    request finds the payment its first try made; `request_hash` tells a true retry (the same
    details) from a reuse of the key for another payment (CONFLICT)."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("school_id", "idempotency_key"),
        UniqueConstraint("school_id", "receipt_number"),
        Index("ix_payments_student", "student_id", "id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    idempotency_key: Mapped[str] = mapped_column(String(120))
    request_hash: Mapped[str] = mapped_column(String(64))
    receipt_number: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[PaymentMethod] = mapped_column(enum_column(PaymentMethod))
    reference: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Refund(IdMixin, Base):
    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("payment_id", "idempotency_key"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    refunded_at: Mapped[datetime] = mapped_column(default=utcnow)
    refunded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Allocation(IdMixin, Base):
    """Part of a payment or an award applied to an invoice line (negative: taken back)."""

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("(payment_id IS NULL) <> (award_id IS NULL)", name="payment_or_award"),
        Index("ix_allocations_line", "invoice_line_id"),
        Index("ix_allocations_payment", "payment_id"),
        Index("ix_allocations_award", "award_id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id", ondelete="RESTRICT"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"))
    award_id: Mapped[int | None] = mapped_column(ForeignKey("scholarship_awards.id", ondelete="RESTRICT"))
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Money)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("allocations.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
