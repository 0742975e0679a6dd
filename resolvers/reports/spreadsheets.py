"""The gradebook as a spreadsheet file: CSV in UTF-8, guarded against formula injection."""

from __future__ import annotations

import csv
import io

from resolvers.reports.formatting import plain_number
from resolvers.reports.gradebook import GradebookSheet

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_DECIMALS = 4  # more than the PDF's two: the CSV is data to re-use, not only to read


def neutralize_formula(text: str) -> str:
    """`text`, prefixed with a single quote if a spreadsheet would read it as a formula.

    OWASP's rule for CSV injection: a cell starting with =, +, -, @, tab or carriage return
    could run as a formula (e.g. `=HYPERLINK(...)` leaking data) when the file is opened.
    """
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def gradebook_csv(sheet: GradebookSheet) -> bytes:
    """The sheet as CSV in UTF-8 with a byte order mark, which Excel needs to read accents right.

    Columns: Student number, Student, one per assignment ("Title (max)"), Final %, Letter.
    An ungraded score is an empty cell. Every text cell is guarded by `neutralize_formula`;
    numbers are written by us and need no guard (a negative score stays a number).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "Student number",
            "Student",
            *(
                neutralize_formula(f"{a.title} ({plain_number(a.max_score, CSV_DECIMALS)})")
                for a in sheet.assignments
            ),
            "Final %",
            "Letter",
        ]
    )
    for row in sheet.rows:
        writer.writerow(
            [
                neutralize_formula(row.student_number),
                neutralize_formula(row.student_name),
                *(_csv_number(score) for score in row.scores),
                _csv_number(row.final_percentage),
                neutralize_formula(row.final_letter or ""),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _csv_number(value: float | None) -> str:
    return "" if value is None else plain_number(value, CSV_DECIMALS)
