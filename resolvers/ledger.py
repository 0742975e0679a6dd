"""Posting to the students' ledger (models/ledger.py): the one place LedgerEntry rows are made.

`post` writes one balanced transaction in the caller's database transaction and refuses one
that does not balance, has fewer than two entries, or an amount of more than two decimals: a
bug, not a user's mistake, so it raises. `reverse` posts the mirror image of earlier entries,
each naming the entry it reverses; nothing is ever updated or deleted. Balances are sums of
entries, computed by the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import FinanceCounter, LedgerEntry
from models.base import utcnow
from models.enums import EntryKind, LedgerAccount
from models.money import CENT
from models.upsert import upsert_insert

ZERO = Decimal("0.00")


class UnbalancedTransaction(ValueError):
    """Entries that do not sum to zero: a bug in the caller."""


@dataclass(frozen=True)
class Posting:
    """One side of a transaction: a debit (positive) or credit (negative) to an account."""

    account: LedgerAccount
    amount: Decimal


@dataclass(frozen=True)
class Links:
    """What a transaction is about (each optional), copied onto each of its entries."""

    invoice_id: int | None = None
    invoice_line_id: int | None = None
    payment_id: int | None = None
    refund_id: int | None = None
    award_id: int | None = None


def charge(amount: Decimal) -> list[Posting]:
    """The student owes `amount` more: RECEIVABLE debited, REVENUE credited."""
    return [Posting(LedgerAccount.RECEIVABLE, amount), Posting(LedgerAccount.REVENUE, -amount)]


def receipt(amount: Decimal) -> list[Posting]:
    """Money received from the student: CASH debited, RECEIVABLE credited."""
    return [Posting(LedgerAccount.CASH, amount), Posting(LedgerAccount.RECEIVABLE, -amount)]


def award(amount: Decimal) -> list[Posting]:
    """A scholarship pays `amount` of the student's charges: SCHOLARSHIP debited, RECEIVABLE credited."""
    return [Posting(LedgerAccount.SCHOLARSHIP, amount), Posting(LedgerAccount.RECEIVABLE, -amount)]


def _check(postings: Sequence[Posting]) -> None:
    if len(postings) < 2:
        raise UnbalancedTransaction("a transaction has at least two entries")
    for posting in postings:
        if posting.amount != posting.amount.quantize(CENT) or posting.amount == 0:
            raise UnbalancedTransaction(f"{posting.amount} is not a non-zero amount in cents")
    if sum((posting.amount for posting in postings), ZERO) != 0:
        raise UnbalancedTransaction("the entries do not sum to zero")


async def post(
    session: AsyncSession,
    *,
    school_id: int,
    student_id: int,
    currency: str,
    kind: EntryKind,
    postings: Sequence[Posting],
    description: str,
    posted_by_id: int | None,
    links: Links = Links(),
    reference: str | None = None,
    at: datetime | None = None,
) -> str:
    """One balanced transaction; its id."""
    _check(postings)
    transaction_id = uuid.uuid4().hex
    posted_at = at or utcnow()
    await session.execute(
        insert(LedgerEntry),
        [
            {
                "school_id": school_id,
                "student_id": student_id,
                "transaction_id": transaction_id,
                "account": posting.account,
                "kind": kind,
                "amount": posting.amount,
                "currency": currency,
                "description": description,
                "reference": reference,
                "posted_at": posted_at,
                "posted_by_id": posted_by_id,
                **vars(links),
            }
            for posting in postings
        ],
    )
    return transaction_id


async def reverse(
    session: AsyncSession,
    entries: Sequence[LedgerEntry],
    *,
    kind: EntryKind,
    description: str,
    posted_by_id: int | None,
    links: Links | None = None,
    share: Decimal | None = None,
    at: datetime | None = None,
) -> str:
    """The mirror image of `entries` (one balanced transaction of theirs) as a new transaction,
    each entry naming the one it reverses. `share`: reverse only that much of a two-entry
    transaction (a partial refund), else all of it."""
    if share is not None:
        if len(entries) != 2:
            raise UnbalancedTransaction("a part can only be taken of a two-entry transaction")
        amounts = [share if entry.amount < 0 else -share for entry in entries]
    else:
        amounts = [-entry.amount for entry in entries]
    postings = [Posting(entry.account, amount) for entry, amount in zip(entries, amounts, strict=True)]
    _check(postings)
    first = entries[0]
    transaction_id = uuid.uuid4().hex
    posted_at = at or utcnow()
    await session.execute(
        insert(LedgerEntry),
        [
            {
                "school_id": entry.school_id,
                "student_id": entry.student_id,
                "transaction_id": transaction_id,
                "account": entry.account,
                "kind": kind,
                "amount": amount,
                "currency": entry.currency,
                "description": description,
                "reference": first.reference,
                "posted_at": posted_at,
                "posted_by_id": posted_by_id,
                "reverses_id": entry.id,
                **vars(links or _links_of(first)),
            }
            for entry, amount in zip(entries, amounts, strict=True)
        ],
    )
    return transaction_id


def _links_of(entry: LedgerEntry) -> Links:
    return Links(entry.invoice_id, entry.invoice_line_id, entry.payment_id, entry.refund_id, entry.award_id)


async def balances(session: AsyncSession, student_ids: Collection[int]) -> dict[int, Decimal]:
    """What each student owes (negative: in credit): the sum of their RECEIVABLE entries."""
    rows = await session.execute(
        select(LedgerEntry.student_id, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.student_id.in_(student_ids), LedgerEntry.account == LedgerAccount.RECEIVABLE)
        .group_by(LedgerEntry.student_id)
    )
    found: dict[int, Decimal] = dict(rows.all())
    return {student_id: found.get(student_id, ZERO) for student_id in student_ids}


async def next_number(session: AsyncSession, school_id: int, name: str, count: int = 1) -> int:
    """The school's next number of a kind ("invoice", "receipt"); with `count`, the last of that
    many consecutive ones. The counter's row stays locked until the caller's transaction ends,
    so concurrent callers wait and get the next ones."""
    await session.execute(
        upsert_insert(session, FinanceCounter)
        .values(school_id=school_id, name=name, value=0)
        .on_conflict_do_nothing(index_elements=["school_id", "name"])
    )
    value: int | None = await session.scalar(
        update(FinanceCounter)
        .where(FinanceCounter.school_id == school_id, FinanceCounter.name == name)
        .values(value=FinanceCounter.value + count)
        .returning(FinanceCounter.value)
    )
    assert value is not None, "the counter row exists"
    return value
