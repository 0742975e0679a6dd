"""A term's finance analytics (financeAnalytics) and its report (exportFinanceReport), as the API
shows them: resolvers/finance/analytics.py, forecast.py and finance_report.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import strawberry

from resolvers.finance import analytics, finance_report
from resolvers.finance.analytics import FinanceAnalytics as Analytics
from resolvers.finance.forecast import Forecast
from schema.base import Info, user_errors
from schema.reports import ExportFormat, FileLinkPayload
from schema.terms import Term


@strawberry.type(
    description="What is open on a term's invoice lines, by how many days past due they are on the day asked."
)
class FinanceAging:
    current: Decimal = strawberry.field(description="Not yet due (due on the day asked or later).")
    days_1_to_30: Decimal
    days_31_to_60: Decimal
    days_61_to_90: Decimal
    over_90: Decimal


@strawberry.type
class FinanceMonth:
    month: str = strawberry.field(description="YYYY-MM, in the school's timezone.")
    billed: Decimal
    collected: Decimal


@strawberry.type
class ForecastMonth:
    month: str = strawberry.field(description="YYYY-MM.")
    due_amount: Decimal = strawberry.field(description="What falls due in the month (still open).")
    expected_collections: Decimal | None = strawberry.field(
        description="dueAmount times the method's rate; null when there is no history to take a rate from."
    )


@strawberry.type
class CollectionForecast:
    method: str = strawberry.field(description="e.g. TRAILING_3_MONTH_COLLECTION_RATE.")
    explanation: str = strawberry.field(description="How the numbers were made, with the rate and its basis.")
    months: list[ForecastMonth]

    @classmethod
    def of(cls, forecast: Forecast) -> CollectionForecast:
        return cls(
            method=forecast.method,
            explanation=forecast.explanation,
            months=[
                ForecastMonth(
                    month=month.month,
                    due_amount=month.due_amount,
                    expected_collections=month.expected_collections,
                )
                for month in forecast.months
            ],
        )


@strawberry.type(description="A term's money as of a day: billed = collected + awarded + outstanding.")
class FinanceAnalytics:
    term: Term
    as_of: date
    currency: str
    billed: Decimal = strawberry.field(description="Charges of the term's invoices, net of voids.")
    collected: Decimal = strawberry.field(description="Payments applied to them, net of refunds.")
    awarded: Decimal = strawberry.field(description="Scholarship awards applied to them.")
    outstanding: Decimal = strawberry.field(
        description="What the lines still owe: billed - collected - awarded."
    )
    credit: Decimal = strawberry.field(
        description=(
            "What the term's students paid or were awarded that no line holds (overpayments, what voids "
            "freed): theirs, not the term's, so in none of the sums above."
        )
    )
    collection_rate: float | None = strawberry.field(
        description="collected / billed, to four decimals; null (not 0) when nothing is billed."
    )
    invoice_count: int = strawberry.field(description="Invoices with charges standing (issued, not void).")
    overdue_invoice_count: int = strawberry.field(
        description="Invoices with a line past due that still owes."
    )
    aging: FinanceAging
    by_month: list[FinanceMonth] = strawberry.field(
        description="Every month from the first with activity (or the term's first) to asOf's."
    )
    forecast: CollectionForecast

    @classmethod
    def of(cls, found: Analytics) -> FinanceAnalytics:
        return cls(
            term=Term.from_model(found.term),
            as_of=found.as_of,
            currency=found.currency,
            billed=found.billed,
            collected=found.collected,
            awarded=found.awarded,
            outstanding=found.outstanding,
            credit=found.credit,
            collection_rate=found.collection_rate,
            invoice_count=found.invoice_count,
            overdue_invoice_count=found.overdue_invoice_count,
            aging=FinanceAging(
                current=found.aging.current,
                days_1_to_30=found.aging.days_1_to_30,
                days_31_to_60=found.aging.days_31_to_60,
                days_61_to_90=found.aging.days_61_to_90,
                over_90=found.aging.over_90,
            ),
            by_month=_months(found.by_month),
            forecast=CollectionForecast.of(found.forecast),
        )


def _months(months: Sequence[analytics.MonthTotals]) -> list[FinanceMonth]:
    return [
        FinanceMonth(month=month.month, billed=month.billed, collected=month.collected) for month in months
    ]


@strawberry.input
class ExportFinanceReportInput:
    term_id: strawberry.ID
    format: ExportFormat


@strawberry.type
class FinanceAnalyticsQueries:
    @strawberry.field(
        description="A term's billing, collections, aging and forecast as of a day (staff, admins)."
    )
    async def finance_analytics(
        self, info: Info, term_id: strawberry.ID, as_of: date | None = None
    ) -> FinanceAnalytics:
        return FinanceAnalytics.of(await analytics.finance_analytics(info.context, str(term_id), as_of))


@strawberry.type
class FinanceAnalyticsMutations:
    @strawberry.mutation(description="The term's finance report, CSV or PDF, behind a signed URL.")
    async def export_finance_report(self, info: Info, input: ExportFinanceReportInput) -> FileLinkPayload:
        file_format: finance_report.ReportFormat = "PDF" if input.format is ExportFormat.PDF else "CSV"
        result = await finance_report.export_finance_report(info.context, str(input.term_id), file_format)
        if isinstance(result, list):
            return FileLinkPayload(url=None, expires_at=None, user_errors=user_errors(result))
        url, expires_at = result
        return FileLinkPayload(url=url, expires_at=expires_at, user_errors=[])
