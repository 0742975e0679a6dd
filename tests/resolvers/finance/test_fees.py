"""Fee schedules through the contract's operations: FeeSchedule, CreateFee, UpdateFee and
ArchiveFee, what they refuse (and that a refusal writes nothing), and who may use them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, Fee, FeeInstallment
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

SCHEDULE = contract_operation("FeeSchedule")
CREATE = contract_operation("CreateFee")
UPDATE = contract_operation("UpdateFee")
ARCHIVE = contract_operation("ArchiveFee")
GENERATE = contract_operation("GenerateInvoices")
TERMS = contract_operation("FinanceTerms")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def term_id(school: SchoolData) -> str:
    return encode_id("Term", school.klass.term_id)


def fee_input(school: SchoolData, **fields: Any) -> dict[str, Any]:
    return {
        "termId": term_id(school),
        "name": "Tuition",
        "amount": "1200.00",
        "currency": "USD",
        "dueDate": "2026-10-01",
    } | fields


async def create(client: GraphQLClient, fields: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": fields}))["createFee"]
    return payload


async def fee_rows(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with session_factory() as session:
        fees = await session.scalar(select(func.count()).select_from(Fee)) or 0
        parts = await session.scalar(select(func.count()).select_from(FeeInstallment)) or 0
    return fees, parts


async def test_staff_define_a_fee_with_installments_and_list_the_schedule(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    plan = [{"dueDate": "2026-09-15", "amount": "400.00"}, {"dueDate": "2026-10-01", "amount": "800.00"}]
    made = await create(staff, fee_input(north, gradeLevels=[10, 9], installments=plan, description=" Fall "))
    assert made["userErrors"] == []
    fee = made["fee"]
    assert fee["amount"] == "1200.00"
    assert fee["currency"] == "USD"
    assert fee["gradeLevels"] == [9, 10]
    assert fee["class"] is None
    assert fee["term"]["name"] == "Fall"
    assert fee["installments"] == [
        {"number": 1, "dueDate": "2026-09-15", "amount": "400.00"},
        {"number": 2, "dueDate": "2026-10-01", "amount": "800.00"},
    ]
    klass = encode_id("Class", north.klass.id)
    lab = (
        await create(staff, fee_input(north, name="Lab", amount="25.50", dueDate="2026-09-10", classId=klass))
    )["fee"]
    assert lab["class"] == {"id": klass, "title": "Algebra A"}

    schedule = (await staff.data(SCHEDULE, {"termId": term_id(north)}))["fees"]
    assert schedule["totalCount"] == 2
    assert [node["name"] for node in schedule["nodes"]] == ["Lab", "Tuition"]  # earliest due first
    tuition = schedule["nodes"][1]
    assert tuition["description"] == "Fall"
    assert tuition["archived"] is False
    assert tuition["billedCount"] == 0
    first = (await staff.data(SCHEDULE, {"termId": term_id(north), "first": 1}))["fees"]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    rest = (await staff.data(SCHEDULE, {"termId": term_id(north), "first": 1, "after": after}))["fees"]
    assert [node["name"] for node in rest["nodes"]] == ["Tuition"]
    assert rest["pageInfo"]["hasNextPage"] is False
    terms = (await staff.data(TERMS, {"first": 5}))["terms"]
    assert terms["nodes"][0]["id"] == term_id(north)


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"amount": "0"}, "INVALID", "amount"),
        ({"amount": "-5.00"}, "INVALID", "amount"),
        ({"amount": "10.001"}, "INVALID", "amount"),
        ({"currency": "EUR"}, "CURRENCY_MISMATCH", "currency"),
        ({"name": "  "}, "INVALID", "name"),
        ({"gradeLevels": [10], "classId": "KLASS"}, "INVALID", "gradeLevels"),
        ({"installments": [{"dueDate": "2026-09-01", "amount": "100.00"}]}, "INVALID", "installments"),
        (
            {
                "installments": [
                    {"dueDate": "2026-10-01", "amount": "600.00"},
                    {"dueDate": "2026-09-01", "amount": "600.00"},
                ]
            },
            "INVALID",
            "installments",
        ),
        ({"installments": [{"dueDate": "2026-09-01", "amount": "1200.00"}]}, "INVALID", "installments"),
        ({"termId": encode_id("Term", 999_999)}, "NOT_FOUND", "termId"),
        ({"classId": encode_id("Class", 999_999)}, "NOT_FOUND", "classId"),
    ],
)
async def test_create_refuses_bad_fees_and_writes_nothing(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    fields: dict[str, Any],
    code: str,
    field: str,
) -> None:
    if fields.get("classId") == "KLASS":
        fields = fields | {"classId": encode_id("Class", north.klass.id)}
    staff = gql.as_user(factory.token(north.staff))
    refused = await create(staff, fee_input(north, **fields))
    assert refused["fee"] is None
    assert [(error["code"], error["field"][:2]) for error in refused["userErrors"]][:1] == [
        (code, ["input", field])
    ]
    assert await fee_rows(session_factory) == (0, 0)


async def test_another_schools_term_or_class_is_not_found(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    foreign_term = await create(staff, fee_input(north, termId=term_id(south)))
    assert foreign_term["userErrors"][0]["code"] == "NOT_FOUND"
    foreign_class = await create(staff, fee_input(north, classId=encode_id("Class", south.klass.id)))
    assert foreign_class["userErrors"][0]["code"] == "NOT_FOUND"
    schedule = await staff.execute(SCHEDULE, {"termId": term_id(south)})
    missing = await staff.execute(SCHEDULE, {"termId": encode_id("Term", 999_999)})
    assert (
        schedule["errors"][0]["message"]
        == missing["errors"][0]["message"]
        == "Not found, or not yours to see."
    )


async def test_only_staff_and_admins_manage_fees(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    for role in ("teacher", "mentor", "student", "guardian"):
        client = gql.as_user(factory.token(north.users[role]))
        for document, variables in (
            (CREATE, {"input": fee_input(north)}),
            (SCHEDULE, {"termId": term_id(north)}),
            (ARCHIVE, {"input": {"feeId": encode_id("Fee", 1)}}),
        ):
            refused = await client.execute(document, variables)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    admin = gql.as_user(factory.token(north.admin))
    assert (await create(admin, fee_input(north)))["userErrors"] == []


async def test_update_changes_an_unbilled_fee_and_refuses_a_billed_one(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    fee_id = (await create(staff, fee_input(north)))["fee"]["id"]
    plan = [{"dueDate": "2026-09-01", "amount": "500.00"}, {"dueDate": "2026-11-01", "amount": "500.00"}]
    changed = (
        await staff.data(
            UPDATE,
            {"input": {"feeId": fee_id, "amount": "1000.00", "dueDate": "2026-11-01", "installments": plan}},
        )
    )["updateFee"]
    assert changed["userErrors"] == []
    assert changed["fee"]["amount"] == "1000.00"
    assert [part["number"] for part in changed["fee"]["installments"]] == [1, 2]

    # The plan stays: a new amount that it no longer adds up to is INVALID.
    bad = (await staff.data(UPDATE, {"input": {"feeId": fee_id, "amount": "900.00"}}))["updateFee"]
    assert bad["userErrors"][0]["code"] == "INVALID"
    renamed = (
        await staff.data(UPDATE, {"input": {"feeId": fee_id, "name": "Tuition II", "description": "x"}})
    )["updateFee"]
    assert renamed["fee"]["name"] == "Tuition II"
    assert renamed["fee"]["amount"] == "1000.00"

    generated = (await staff.data(GENERATE, {"input": {"termId": term_id(north)}}))["generateInvoices"]
    assert generated["createdCount"] == 2
    billed = (await staff.data(UPDATE, {"input": {"feeId": fee_id, "name": "Later"}}))["updateFee"]
    assert billed["userErrors"][0]["code"] == "FORBIDDEN_STATE"
    async with session_factory() as session:
        assert await session.scalar(select(Fee.name)) == "Tuition II"
    schedule = (await staff.data(SCHEDULE, {"termId": term_id(north)}))["fees"]
    assert schedule["nodes"][0]["billedCount"] == 2
    missing = (await staff.data(UPDATE, {"input": {"feeId": encode_id("Fee", 999_999), "name": "x"}}))[
        "updateFee"
    ]
    assert missing["userErrors"][0]["code"] == "NOT_FOUND"


async def test_archive_hides_the_fee_from_runs_and_schedule_once(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    fee_id = (await create(staff, fee_input(north)))["fee"]["id"]
    foreign = await gql.as_user(factory.token(south.staff)).data(ARCHIVE, {"input": {"feeId": fee_id}})
    assert foreign["archiveFee"]["userErrors"][0]["code"] == "NOT_FOUND"
    archived = (await staff.data(ARCHIVE, {"input": {"feeId": fee_id}}))["archiveFee"]
    assert archived == {"fee": {"id": fee_id, "archived": True}, "userErrors": []}
    again = (await staff.data(ARCHIVE, {"input": {"feeId": fee_id}}))["archiveFee"]
    assert again["userErrors"][0]["code"] == "FORBIDDEN_STATE"
    assert (await staff.data(SCHEDULE, {"termId": term_id(north)}))["fees"]["totalCount"] == 0
    shown = (await staff.data(SCHEDULE, {"termId": term_id(north), "includeArchived": True}))["fees"]
    assert [node["archived"] for node in shown["nodes"]] == [True]
    generated = (await staff.data(GENERATE, {"input": {"termId": term_id(north)}}))["generateInvoices"]
    assert generated["createdCount"] == 0
    async with session_factory() as session:
        actions = list(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.subject_type == "Fee"))
        )
    assert actions == ["fee.created", "fee.archived"]
