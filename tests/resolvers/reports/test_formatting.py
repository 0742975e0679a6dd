"""How the exports write numbers."""

from __future__ import annotations

import pytest

from resolvers.reports.formatting import plain_number


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (10.0, 2, "10"),
        (8.50, 2, "8.5"),
        (0.1 + 0.2, 4, "0.3"),
        (100, 4, "100"),
        (0, 2, "0"),
        (-0.001, 2, "0"),
        (87.456, 2, "87.46"),
        (7, 0, "7"),
    ],
)
def test_plain_number(value: float, decimals: int, expected: str) -> None:
    assert plain_number(value, decimals) == expected
