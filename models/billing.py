"""What a school bills: fees per term (for grade levels or a class, paid at once or in
installments), invoices with a line per fee or installment, and the per-school counters that
number invoices and receipts.

An invoice line is billed once per student, fee and installment (`uq_invoice_lines_billed`):
that unique key is what makes `generateInvoices` idempotent, even with two runs at once. A
line's installment_number is 0 for a fee paid at once (a NULL would not take part in the key).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column, utcnow
from models.enums import InvoiceStatus
from models.money import Money


class Fee(IdMixin, CreatedMixin, Base):
    __tablename__ = "fees"
    __table_args__ = (Index("ix_fees_term", "term_id", "id"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    due_date: Mapped[date]
    # None: every grade level (unless class_id narrows it to one class).
    grade_levels: Mapped[list[int] | None] = mapped_column(JSON)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]


class FeeInstallment(IdMixin, Base):
    """One part of a fee's plan; the parts add up to the fee, the last falls due on its due date."""

    __tablename__ = "fee_installments"
    __table_args__ = (UniqueConstraint("fee_id", "number"),)

    fee_id: Mapped[int] = mapped_column(ForeignKey("fees.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    due_date: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Money)


class Invoice(IdMixin, CreatedMixin, Base):
    """A student's bill for a term. Its amounts paid and credited are the sums of the allocations
    to its lines (models/ledger.py), never stored, so they cannot drift from the ledger."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("school_id", "number"),
        Index("ix_invoices_school_id", "school_id", "id"),
        Index("ix_invoices_student", "student_id", "id"),
        Index("ix_invoices_term", "term_id", "id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id", ondelete="RESTRICT"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    number: Mapped[str] = mapped_column(String(32))
    status: Mapped[InvoiceStatus] = mapped_column(enum_column(InvoiceStatus), default=InvoiceStatus.DRAFT)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)
    due_date: Mapped[date] = mapped_column(doc="The earliest due date of its lines.")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    issued_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    void_reason: Mapped[str | None] = mapped_column(String(500))
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class InvoiceLine(IdMixin, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        UniqueConstraint("student_id", "fee_id", "installment_number", name="uq_invoice_lines_billed"),
        Index("ix_invoice_lines_invoice", "invoice_id", "id"),
        Index("ix_invoice_lines_due", "school_id", "due_date"),
    )

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    fee_id: Mapped[int] = mapped_column(ForeignKey("fees.id", ondelete="RESTRICT"))
    installment_number: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    due_date: Mapped[date]


class FinanceCounter(Base):
    """The last number a school gave of a kind ("invoice", "receipt"): the next is taken by an
    UPDATE ... RETURNING, which holds the row until commit, so numbers are unique and, for
    transactions that commit, without gaps."""

    __tablename__ = "finance_counters"

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)
