"""Problems the user can fix. Mutations return them; the schema shows them as `userErrors`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    message: str
    code: str
    field: tuple[str, ...] | None = None


class ProblemError(Exception):
    """Raised inside a mutation to roll its transaction back and report `problems`."""

    def __init__(self, *problems: Problem) -> None:
        super().__init__(problems[0].message if problems else "")
        self.problems = list(problems)
