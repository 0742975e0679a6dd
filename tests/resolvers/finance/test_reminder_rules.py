"""paymentReminderRules, createPaymentReminderRule and updatePaymentReminderRule through the
contract's operations: staff and admins of the school manage its rules, each write audited;
INVALID days (outside 0-365) or a blank name write nothing; another school's rule is NOT_FOUND;
students, teachers, mentors and guardians are FORBIDDEN."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, PaymentReminderRule
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

LIST = contract_operation("PaymentReminderRules")
CREATE = contract_operation("CreatePaymentReminderRule")
UPDATE = contract_operation("UpdatePaymentReminderRule")
AUDIT = contract_operation("FinanceAuditTrail")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def rule_input(**fields: Any) -> dict[str, Any]:
    return {"name": "A week before", "trigger": "BEFORE_DUE", "days": 7, **fields}


async def create(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": rule_input(**fields)}))[
        "createPaymentReminderRule"
    ]
    return payload


async def update(client: GraphQLClient, rule_id: str, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(UPDATE, {"input": {"ruleId": rule_id, **fields}}))[
        "updatePaymentReminderRule"
    ]
    return payload


async def rule_rows(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """Rules, and audit entries of rule writes."""
    async with session_factory() as session:
        rules = await session.scalar(select(func.count()).select_from(PaymentReminderRule))
        audited = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action.like("payment_reminder_rule.%"))
        )
    return rules or 0, audited or 0


async def test_staff_create_list_and_change_rules_each_audited(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    created = await create(staff, name="  A week before  ", sendEmail=True, message=" Pay online. ")
    assert created["userErrors"] == []
    rule = created["rule"]
    assert {key: rule[key] for key in ("name", "trigger", "days", "sendEmail", "message", "active")} == {
        "name": "A week before",
        "trigger": "BEFORE_DUE",
        "days": 7,
        "sendEmail": True,
        "message": "Pay online.",
        "active": True,
    }
    admin = gql.as_user(factory.token(north.admin))
    overdue = (await create(admin, name="Overdue", trigger="OVERDUE", days=0))["rule"]
    assert (overdue["sendEmail"], overdue["message"]) == (False, None)

    listed = (await staff.data(LIST))["paymentReminderRules"]
    assert [(r["id"], r["name"], r["trigger"]) for r in listed] == [
        (rule["id"], "A week before", "BEFORE_DUE"),
        (overdue["id"], "Overdue", "OVERDUE"),
    ]
    assert all(r["createdAt"] for r in listed)

    changed = await update(staff, rule["id"], name="Three days before", days=3, message="", active=False)
    assert changed["userErrors"] == []
    assert changed["rule"] == {
        "id": rule["id"],
        "name": "Three days before",
        "trigger": "BEFORE_DUE",
        "days": 3,
        "sendEmail": True,
        "message": None,
        "active": False,
    }
    untouched = await update(staff, rule["id"])
    assert untouched["rule"]["name"] == "Three days before", "fields not given stay as they are"

    trail = (await admin.data(AUDIT, {"subjectId": rule["id"]}))["auditLog"]["nodes"]
    assert [(node["action"], node["detail"]["days"], node["detail"]["active"]) for node in trail] == [
        ("payment_reminder_rule.updated", 3, False),
        ("payment_reminder_rule.updated", 3, False),
        ("payment_reminder_rule.created", 7, True),
    ]
    assert {node["actorId"] for node in trail} == {encode_id("User", north.staff.id)}


async def test_invalid_days_and_blank_names_write_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    for fields, field in (
        ({"days": -1}, "days"),
        ({"days": 366}, "days"),
        ({"name": "   "}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"message": "x" * 1001}, "message"),
    ):
        refused = await create(staff, **fields)
        assert refused["rule"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID", ["input", field])]
    assert await rule_rows(session_factory) == (0, 0)

    for days in (0, 365):
        assert (await create(staff, days=days))["rule"]["days"] == days, "the edges are allowed"
    rule_id = (await create(staff))["rule"]["id"]
    assert await rule_rows(session_factory) == (3, 3)
    for fields, field in (({"days": 400}, "days"), ({"days": -5}, "days"), ({"name": " "}, "name")):
        refused = await update(staff, rule_id, **fields)
        assert refused["rule"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID", ["input", field])]
    assert await rule_rows(session_factory) == (3, 3)
    listed = (await staff.data(LIST))["paymentReminderRules"]
    assert [r["days"] for r in listed] == [0, 365, 7], "refused changes changed nothing"


async def test_another_schools_rule_is_not_found_and_its_list_not_shown(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    south_rule = (await create(gql.as_user(factory.token(south.staff)), name="South's"))["rule"]["id"]
    staff = gql.as_user(factory.token(north.staff))
    refused = await update(staff, south_rule, active=False)
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("NOT_FOUND", ["input", "ruleId"])]
    for malformed in ("not-an-id", "U2Nob29sOjE"):  # garbage, and a School id
        missing = await update(staff, malformed, active=False)
        assert missing["userErrors"][0]["code"] == "NOT_FOUND"
    assert (await staff.data(LIST))["paymentReminderRules"] == []
    assert await rule_rows(session_factory) == (1, 1)
    async with session_factory() as session:
        assert (await session.scalars(select(PaymentReminderRule.active))).all() == [True]


async def test_only_staff_and_admins_manage_rules(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    rule_id = (await create(gql.as_user(factory.token(north.admin))))["rule"]["id"]
    for user in (north.student, north.teacher, north.mentor, north.guardian):
        client = gql.as_user(factory.token(user))
        for query, variables in (
            (LIST, {}),
            (CREATE, {"input": rule_input()}),
            (UPDATE, {"input": {"ruleId": rule_id, "active": False}}),
        ):
            result = await client.execute(query, variables)
            assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", (user.name, query[:30])
    anonymous = await gql.execute(LIST, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await rule_rows(session_factory) == (1, 1)
