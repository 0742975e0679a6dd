"""How a class grade is calculated, in one place: the gradebook, `calculateFinalGrades`,
`closeTerm`, profiles, dashboards and analytics all use it.

The rule: within a category (homework, quiz, ...) points are summed (earned / possible);
categories count with the class's category weights. A class without category weights weighs
its categories equally; categories with nothing counted are left out and the remaining weights
scale up to 100%. Archived assignments are never read (the callers leave them out).

What one cell counts for (`counted_work`), by its status:
- EXCUSED: nothing; the assignment is left out of the student's grade entirely.
- MISSING: zero of the assignment's max score.
- LATE: its score less its late penalty, a percent of the score: score * (1 - penalty / 100)
  (the `adjusted_score`); a LATE cell without a score yet is ungraded.
- NONE: its score.
An ungraded cell (no score, NONE or LATE) is left out of the current grade (`current_percentage`:
graded work so far) and counts as zero in the final grade (`final_percentage`) once the
assignment is past due; work not yet due is left out of both.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.enums import AssignmentCategory, GradeStatus
from models.schools import DEFAULT_GRADING_SCALE


@dataclass(frozen=True, slots=True)
class GradedWork:
    category: AssignmentCategory
    score: float
    max_score: float


@dataclass(frozen=True, slots=True)
class Mark:
    """A grade cell as the rule reads it; `Mark()` is a cell nobody has graded."""

    score: float | None = None
    status: GradeStatus = GradeStatus.NONE
    late_penalty: float | None = None


UNMARKED = Mark()


@dataclass(frozen=True, slots=True)
class Column:
    """An assignment as the rule reads it."""

    category: AssignmentCategory
    max_score: float
    due_at: datetime | None


@dataclass(frozen=True)
class LetterGrade:
    letter: str
    points: float


def adjusted_score(mark: Mark) -> float | None:
    """What a cell's score counts for: None for EXCUSED or ungraded, 0 for MISSING, a LATE
    score less its penalty, otherwise the score."""
    if mark.status == GradeStatus.EXCUSED:
        return None
    if mark.status == GradeStatus.MISSING:
        return 0.0
    if mark.score is None:
        return None
    if mark.status == GradeStatus.LATE and mark.late_penalty:
        return round(mark.score * (1 - mark.late_penalty / 100), 4)
    return mark.score


def counted_work(column: Column, mark: Mark, *, ungraded_as_zero: bool) -> GradedWork | None:
    """What one cell adds to a class grade, or None where it is left out (see the module)."""
    if mark.status == GradeStatus.EXCUSED:
        return None
    score = adjusted_score(mark)
    if score is None:
        if not ungraded_as_zero:
            return None
        score = 0.0
    return GradedWork(column.category, score, column.max_score)


def current_percentage(
    cells: Iterable[tuple[Column, Mark]], category_weights: Mapping[AssignmentCategory, float]
) -> float | None:
    """The grade so far: graded work only (EXCUSED out, MISSING zero, LATE less its penalty)."""
    work = (counted_work(column, mark, ungraded_as_zero=False) for column, mark in cells)
    return class_percentage([w for w in work if w is not None], category_weights)


def final_percentage(
    cells: Iterable[tuple[Column, Mark]], category_weights: Mapping[AssignmentCategory, float], now: datetime
) -> float | None:
    """The final grade: as the current one, and work past due at `now` and ungraded as zero."""
    work = (
        counted_work(column, mark, ungraded_as_zero=column.due_at is not None and column.due_at < now)
        for column, mark in cells
    )
    return class_percentage([w for w in work if w is not None], category_weights)


def class_percentage(
    work: Iterable[GradedWork], category_weights: Mapping[AssignmentCategory, float]
) -> float | None:
    """The weighted percentage (0-100) of the work that counts (see `counted_work`); None if none."""
    earned: defaultdict[AssignmentCategory, float] = defaultdict(float)
    possible: defaultdict[AssignmentCategory, float] = defaultdict(float)
    for item in work:
        if item.max_score > 0:
            earned[item.category] += item.score
            possible[item.category] += item.max_score
    if not possible:
        return None
    weights = {
        category: category_weights.get(category, 0.0) if category_weights else 1.0 for category in possible
    }
    total_weight = sum(weights.values())
    if total_weight <= 0:
        weights = dict.fromkeys(possible, 1.0)
        total_weight = float(len(possible))
    weighted = sum(weights[c] * earned[c] / possible[c] for c in possible)
    return round(100 * weighted / total_weight, 2)


FAILING = LetterGrade("F", 0.0)


class GradingScale:
    """A school's grading scale, sorted once (highest floor first) for many lookups."""

    def __init__(self, scale: Sequence[Mapping[str, Any]] | None = None) -> None:
        steps = sorted(scale or DEFAULT_GRADING_SCALE, key=lambda s: float(s["min"]), reverse=True)
        self._steps = [(float(s["min"]), LetterGrade(str(s["letter"]), float(s["points"]))) for s in steps]

    def grade(self, percentage: float) -> LetterGrade:
        for floor, grade in self._steps:
            if percentage >= floor:
                return grade
        return FAILING

    def letter_of(self, score: float | None, max_score: float) -> str | None:
        """The letter of one piece of work (its adjusted score); None while it is ungraded."""
        if score is None or max_score <= 0:
            return None
        return self.grade(100 * score / max_score).letter


def letter_grade(percentage: float, scale: Sequence[Mapping[str, Any]] | None = None) -> LetterGrade:
    """The letter and grade points of a percentage on the school's scale."""
    return GradingScale(scale).grade(percentage)
