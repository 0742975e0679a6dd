"""awardScholarship, revokeAward and StudentAccount.awards through the contract's operations: an
award credits the ledger and pays the oldest open lines (the rest is credit), within the budget
even under concurrent awards; INACTIVE, NOT_ELIGIBLE, ALREADY_AWARDED, OVER_BUDGET and INVALID
write nothing; a revocation reverses the award's entries (never edits them), opens the lines it
paid again and frees the budget; every award and revocation is audited; staff and admins only."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Allocation, AuditEntry, Invoice, LedgerEntry, ScholarshipAward
from models.enums import AwardStatus, EntryKind, InvoiceStatus, LedgerAccount
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice
from tests.resolvers.finance.test_scholarships import award, created_id, scholarship_input

REVOKE = contract_operation("RevokeAward")
UPDATE = contract_operation("UpdateScholarship")
ACCOUNT = contract_operation("StudentAccount")
AUDIT = contract_operation("FinanceAuditTrail")
VOID = contract_operation("VoidInvoice")
PAST, FUTURE = date(2020, 1, 15), date(2099, 1, 15)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def revoke(client: GraphQLClient, award_id: str, reason: str = "Left the programme") -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(REVOKE, {"input": {"awardId": award_id, "reason": reason}}))[
        "revokeAward"
    ]
    return payload


async def written(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int, int, int]:
    """Awards, ledger entries, allocations and award audit entries in the database."""
    async with session_factory() as session:
        found = [
            await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (ScholarshipAward, LedgerEntry, Allocation)
        ]
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("scholarship.a%"))
        )
    return found[0], found[1], found[2], audited or 0


async def statuses(session_factory: async_sessionmaker[AsyncSession]) -> list[InvoiceStatus]:
    async with session_factory() as session:
        return list(await session.scalars(select(Invoice.status).order_by(Invoice.id)))


async def test_an_award_pays_the_oldest_lines_and_the_rest_is_credit(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("60.00", FUTURE)])
    await issued_invoice(session_factory, north, [("40.00", PAST)])
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, amount="120.00"))
    awarded = await award(staff, scholarship_id, north.student, note="Top of the class")
    assert awarded["userErrors"] == []
    given = awarded["award"]
    assert (given["amount"], given["currency"], given["status"]) == ("120.00", "USD", "ACTIVE")
    assert given["awardedAt"]
    assert given["awardedBy"] == {"id": encode_id("User", north.staff.id), "name": north.staff.name}
    assert given["student"]["financialSummary"] == {"balance": "-20.00", "creditBalance": "20.00"}
    assert awarded["scholarship"] == {
        "id": scholarship_id,
        "awardedAmount": "120.00",
        "remainingBudget": "880.00",
        "awardCount": 1,
    }
    assert await statuses(session_factory) == [InvoiceStatus.PAID, InvoiceStatus.PAID]
    async with session_factory() as session:
        entries = (
            await session.execute(
                select(LedgerEntry.account, LedgerEntry.amount).where(LedgerEntry.kind == EntryKind.AWARD)
            )
        ).all()
        applied = await session.scalar(
            select(func.sum(Allocation.amount)).where(Allocation.award_id.is_not(None))
        )
    assert sorted(entries, key=lambda row: row[1]) == [
        (LedgerAccount.RECEIVABLE, Decimal("-120.00")),
        (LedgerAccount.SCHOLARSHIP, Decimal("120.00")),
    ]
    assert applied == Decimal("100.00")
    account = (
        await gql.as_user(factory.token(north.student)).data(
            ACCOUNT, {"studentId": encode_id("Student", north.student.id)}
        )
    )["studentAccount"]
    assert account["awards"] == [
        {
            "id": given["id"],
            "amount": "120.00",
            "status": "ACTIVE",
            "awardedAt": given["awardedAt"],
            "scholarship": {"id": scholarship_id, "name": "Merit award"},
        }
    ]
    assert [invoice["amountCredited"] for invoice in account["invoices"]["nodes"]] == ["40.00", "60.00"]
    trail = (await staff.data(AUDIT, {"subjectId": given["id"]}))["auditLog"]["nodes"]
    assert [(node["action"], node["detail"]["amount"]) for node in trail] == [
        ("scholarship.awarded", "120.00")
    ]


async def test_an_amount_is_at_most_the_scholarships_for_the_student(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("80.00", FUTURE), ("20.00", FUTURE)])
    staff = gql.as_user(factory.token(north.staff))
    half = await created_id(staff, scholarship_input(north, amount=None, percentage="50"))
    too_much = await award(staff, half, north.student, amount="50.01")
    assert [(e["code"], e["field"]) for e in too_much["userErrors"]] == [("INVALID", ["input", "amount"])]
    for bad in ("0", "-1.00", "1.005"):
        assert (await award(staff, half, north.student, amount=bad))["userErrors"][0]["code"] == "INVALID"
    nothing_billed = await award(staff, half, north.other_student)
    assert nothing_billed["userErrors"][0]["code"] == "INVALID", "50% of no charges is nothing to award"
    assert await written(session_factory) == (0, 4, 0, 0)
    part = await award(staff, half, north.student, amount="30.00")
    assert part["award"]["amount"] == "30.00"
    assert part["scholarship"]["awardedAmount"] == "30.00"


async def test_refusals_write_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("500.00", FUTURE)])
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, budget="150.00"))
    assert (await award(staff, scholarship_id, north.student))["userErrors"] == []
    before = await written(session_factory)
    cases = [
        (await award(staff, scholarship_id, north.student), "ALREADY_AWARDED", "studentId"),
        (await award(staff, scholarship_id, north.other_student), "OVER_BUDGET", "amount"),
    ]
    picky = await created_id(staff, scholarship_input(north, name="Picky", criteria={"minGpa": 3.0}))
    cases.append((await award(staff, picky, north.other_student), "NOT_ELIGIBLE", "studentId"))
    await staff.data(UPDATE, {"input": {"scholarshipId": picky, "active": False}})
    cases.append((await award(staff, picky, north.other_student), "INACTIVE", "scholarshipId"))
    south = await factory.school("south")
    cases.append((await award(staff, scholarship_id, south.student), "NOT_FOUND", "studentId"))
    theirs = await created_id(gql.as_user(factory.token(south.staff)), scholarship_input(south))
    cases.append((await award(staff, theirs, north.student), "NOT_FOUND", "scholarshipId"))
    for payload, code, field in cases:
        assert payload["award"] is None
        assert payload["scholarship"] is None
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, ["input", field])], code
    over = cases[1][0]["userErrors"][0]["message"]
    assert over == "100.00 is more than the 50.00 left of the budget."
    assert cases[2][0]["userErrors"][0]["message"] == "The student does not meet: MIN_GPA."
    assert await written(session_factory) == before


async def test_concurrent_awards_stay_within_the_budget(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    students = await factory.students(north, [f"Pupil {n}" for n in range(6)])
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, budget="250.00", amount="100.00"))
    answers = await asyncio.gather(*(award(staff, scholarship_id, student) for student in students))
    codes = sorted(answer["userErrors"][0]["code"] if answer["userErrors"] else "OK" for answer in answers)
    assert codes == ["OK", "OK", "OVER_BUDGET", "OVER_BUDGET", "OVER_BUDGET", "OVER_BUDGET"]
    same = await asyncio.gather(
        *(award(staff, scholarship_id, north.student, amount="25.00") for _ in range(5))
    )
    codes = sorted(answer["userErrors"][0]["code"] if answer["userErrors"] else "OK" for answer in same)
    assert codes == ["ALREADY_AWARDED"] * 4 + ["OK"]
    async with session_factory() as session:
        held = await session.scalar(
            select(func.sum(ScholarshipAward.amount)).where(ScholarshipAward.status == AwardStatus.ACTIVE)
        )
        scholarship_side = await session.scalar(
            select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account == LedgerAccount.SCHOLARSHIP)
        )
    assert held == scholarship_side == Decimal("225.00")


async def test_a_revocation_reverses_the_award_and_frees_the_budget(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("40.00", PAST), ("60.00", FUTURE)])
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, amount="120.00", budget="120.00"))
    award_id = (await award(staff, scholarship_id, north.student))["award"]["id"]
    async with session_factory() as session:
        originals = list(
            await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.AWARD))
        )
    blank = await revoke(staff, award_id, "   ")
    assert [(e["code"], e["field"]) for e in blank["userErrors"]] == [("INVALID", ["input", "reason"])]
    revoked = await revoke(gql.as_user(factory.token(north.admin)), award_id, " Grades fell ")
    assert revoked["userErrors"] == []
    assert revoked["award"]["status"] == "REVOKED"
    assert (revoked["award"]["revokeReason"], bool(revoked["award"]["revokedAt"])) == ("Grades fell", True)
    assert revoked["award"]["student"]["financialSummary"] == {"balance": "100.00"}
    assert revoked["scholarship"] == {
        "id": scholarship_id,
        "awardedAmount": "0.00",
        "remainingBudget": "120.00",
    }
    assert await statuses(session_factory) == [InvoiceStatus.ISSUED], "the lines it paid are open again"
    async with session_factory() as session:
        reversals = list(
            await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.AWARD_REVOKED))
        )
        unchanged = list(
            await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.AWARD))
        )
        net = await session.scalar(
            select(func.sum(Allocation.amount)).where(Allocation.award_id.is_not(None))
        )
    assert {entry.reverses_id: entry.amount for entry in reversals} == {
        entry.id: -entry.amount for entry in originals
    }
    assert [(entry.id, entry.amount) for entry in unchanged] == [
        (entry.id, entry.amount) for entry in originals
    ]
    assert net == Decimal("0.00")
    again = await revoke(staff, award_id)
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [
        ("FORBIDDEN_STATE", ["input", "awardId"])
    ]
    trail = (await staff.data(AUDIT, {"subjectId": award_id}))["auditLog"]["nodes"]
    assert [node["action"] for node in trail] == ["scholarship.award_revoked", "scholarship.awarded"]
    assert trail[0]["detail"]["reason"] == "Grades fell"
    renewed = await award(staff, scholarship_id, north.student)
    assert renewed["userErrors"] == [], "a revoked award does not block a new one"
    account = (await staff.data(ACCOUNT, {"studentId": encode_id("Student", north.student.id)}))[
        "studentAccount"
    ]
    assert [row["status"] for row in account["awards"]] == ["ACTIVE", "REVOKED"]


async def test_revoking_after_a_void_takes_back_only_what_is_still_applied(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    invoice = await issued_invoice(session_factory, north, [("100.00", FUTURE)])
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, amount="100.00"))
    award_id = (await award(staff, scholarship_id, north.student))["award"]["id"]
    voided = await staff.data(
        VOID, {"input": {"invoiceId": encode_id("Invoice", invoice.id), "reason": "Wrong"}}
    )
    assert voided["voidInvoice"]["userErrors"] == []
    revoked = await revoke(staff, award_id)
    assert revoked["award"]["student"]["financialSummary"] == {"balance": "0.00"}
    async with session_factory() as session:
        net = await session.scalar(
            select(func.sum(Allocation.amount)).where(Allocation.award_id.is_not(None))
        )
        taken_back = await session.scalar(
            select(func.count()).select_from(Allocation).where(Allocation.amount < 0)
        )
    assert (net, taken_back) == (Decimal("0.00"), 1), "the void took it back; the revocation adds nothing"


async def test_only_staff_and_admins_award_and_revoke(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north))
    award_id = (await award(staff, scholarship_id, north.other_student))["award"]["id"]
    before = await written(session_factory)
    for user in (north.teacher, north.mentor, north.guardian, north.student):
        client = gql.as_user(factory.token(user))
        given = {"scholarshipId": scholarship_id, "studentId": encode_id("Student", north.student.id)}
        for query, variables in (
            (contract_operation("AwardScholarship"), {"input": given}),
            (REVOKE, {"input": {"awardId": award_id, "reason": "No"}}),
        ):
            result = await client.execute(query, variables)
            assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
    south = await factory.school("south")
    foreign = await revoke(gql.as_user(factory.token(south.admin)), award_id)
    assert [(e["code"], e["field"]) for e in foreign["userErrors"]] == [("NOT_FOUND", ["input", "awardId"])]
    assert await written(session_factory) == before
