"""How values are written as text in the exports: numbers, missing values, times, long titles.

Plain string functions, shared by the CSV and the PDFs; nothing here knows about reportlab.
"""

from __future__ import annotations

from datetime import datetime

MISSING = "—"
"""Shown in a PDF where there is no value yet (an ungraded score, a course still in progress)."""


def plain_number(value: float, decimals: int) -> str:
    """`value` rounded to at most `decimals` places, without float noise: 10.0 -> "10", 8.50 -> "8.5"."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def display_number(value: float | None) -> str:
    return MISSING if value is None else plain_number(value, 2)


def fixed_number(value: float | None) -> str:
    """A number with exactly two decimals, so that a column of them lines up (GPAs, percentages)."""
    return MISSING if value is None else f"{value:.2f}"


def display_time(moment: datetime) -> str:
    """A date and time as `2025-06-01 14:30`, with the zone's name when the time has one."""
    shown = moment.strftime("%Y-%m-%d %H:%M")
    zone = moment.tzname()
    return f"{shown} {zone}" if zone else shown


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a space when there is one in its second half."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    head, _, _ = cut.rpartition(" ")
    return (head if len(head) > limit // 2 else cut).rstrip() + "…"
