"""exportFinanceReport through the contract's operation: the CSV (parsed with the csv module) has the
contract's columns and one row per invoice, each adding up, its columns summing to financeAnalytics;
the PDF is a PDF with the analytics in it; both behind a signed, expiring link that refuses a
tampered or expired token; the export is audited; staff/admin only, another school's term NOT_FOUND."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AuditEntry
from models.enums import InvoiceStatus
from resolvers.finance.finance_report import CSV_COLUMNS
from stores.media import read_token, sign_url
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice
from tests.resolvers.finance.test_analytics import analytics, mixed_term, term_id, today

EXPORT = contract_operation("ExportFinanceReport")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def export(client: GraphQLClient, school: SchoolData, file_format: str) -> dict[str, Any]:
    given = {"termId": term_id(school), "format": file_format}
    payload: dict[str, Any] = (await client.data(EXPORT, {"input": given}))["exportFinanceReport"]
    return payload


async def exported(
    session_factory: async_sessionmaker[AsyncSession],
) -> list[tuple[str, str, int | None, dict[str, Any] | None]]:
    async with session_factory() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.subject_type, AuditEntry.subject_id, AuditEntry.detail)
            .where(AuditEntry.action == "finance.report_exported")
            .order_by(AuditEntry.id)
        )
        return [(action, subject, subject_id, detail) for action, subject, subject_id, detail in rows.all()]


async def test_the_csv_has_a_row_per_invoice_that_adds_up_to_the_analytics(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    http: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    mixed = await mixed_term(gql, factory, north, session_factory)
    draft = await issued_invoice(session_factory, north, [("45.00", today())], status=InvoiceStatus.DRAFT)
    staff = gql.as_user(factory.token(north.staff))
    payload = await export(staff, north, "CSV")
    assert payload["userErrors"] == []
    assert payload["url"].startswith("/media/")
    assert payload["expiresAt"]
    response = await http.get(payload["url"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    rows = list(reader)
    a, b, c = mixed.invoices
    assert [row["invoice_number"] for row in rows] == sorted([a.number, b.number, c.number, draft.number])
    by_number = {row["invoice_number"]: row for row in rows}
    assert by_number[a.number] | {"student_name": ""} == {
        "invoice_number": a.number,
        "student_number": by_number[a.number]["student_number"],
        "student_name": "",
        "status": "PARTIALLY_PAID",
        "due_date": a.due_date.isoformat(),
        "currency": "USD",
        "billed": "210.00",
        "paid": "100.00",
        "credited": "25.00",
        "outstanding": "85.00",
    }
    assert by_number[a.number]["student_name"] == north.student.name
    assert by_number[b.number]["status"] == "PAID"
    assert [by_number[c.number][key] for key in ("status", "billed", "paid", "outstanding")] == [
        "VOID",
        "0.00",
        "0.00",
        "0.00",
    ]
    assert [by_number[draft.number][key] for key in ("status", "billed")] == ["DRAFT", "0.00"]
    for row in rows:
        assert Decimal(row["billed"]) == sum(Decimal(row[key]) for key in ("paid", "credited", "outstanding"))
    found = await analytics(staff, north)
    sums = {key: sum((Decimal(row[key]) for row in rows), Decimal("0.00")) for key in CSV_COLUMNS[-4:]}
    assert sums == {
        "billed": Decimal(found["billed"]),
        "paid": Decimal(found["collected"]),
        "credited": Decimal(found["awarded"]),
        "outstanding": Decimal(found["outstanding"]),
    }
    assert await exported(session_factory) == [
        (
            "finance.report_exported",
            "Term",
            north.klass.term_id,
            {"format": "CSV", "invoices": 4, "asOf": today().isoformat()},
        )
    ]


async def test_the_pdf_shows_the_analytics_and_the_invoices(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    http: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    mixed = await mixed_term(gql, factory, north, session_factory)
    payload = await export(gql.as_user(factory.token(north.admin)), north, "PDF")
    assert payload["userErrors"] == []
    response = await http.get(payload["url"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for shown in ("Finance report", "Fall", "USD 290.00", "USD 180.00", "TRAILING_3_MONTH_COLLECTION_RATE"):
        assert shown in text, shown
    assert all(invoice.number in text for invoice in mixed.invoices)
    assert [detail["format"] for *_, detail in await exported(session_factory) if detail] == ["PDF"]


async def test_the_link_is_signed_and_expires(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    http: httpx.AsyncClient,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await mixed_term(gql, factory, north, session_factory)
    url = (await export(gql.as_user(factory.token(north.staff)), north, "CSV"))["url"]
    token = url.removeprefix("/media/")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    refused = await http.get(f"/media/{tampered}")
    assert (refused.status_code, refused.text) == (403, "This link is not valid.")
    link = read_token(settings, token)
    expired, _ = sign_url(
        settings, link.key, filename=link.filename, content_type=link.content_type, expires_in_seconds=-1
    )
    late = await http.get(expired)
    assert (late.status_code, late.text) == (403, "This link has expired.")
    assert (await http.get(url)).status_code == 200


async def test_only_staff_and_admins_export_their_schools_terms(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await mixed_term(gql, factory, north, session_factory)
    variables = {"input": {"termId": term_id(north), "format": "CSV"}}
    for user in (north.teacher, north.mentor, north.guardian, north.student):
        refused = await gql.as_user(factory.token(user)).execute(EXPORT, variables)
        assert refused["data"] is None, user.name
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
    south = await factory.school("south")
    for file_format in ("CSV", "PDF"):
        foreign = await export(gql.as_user(factory.token(south.staff)), north, file_format)
        assert (foreign["url"], foreign["expiresAt"]) == (None, None)
        assert [(e["code"], e["field"]) for e in foreign["userErrors"]] == [
            ("NOT_FOUND", ["input", "termId"])
        ]
    assert await exported(session_factory) == [], "a refusal is not an export"
