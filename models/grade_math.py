"""How a class grade is calculated, in one place: the gradebook, profiles, dashboards and
analytics all use it.

The rule: within a category (homework, quiz, ...) points are summed (earned / possible);
categories count with the class's category weights. Only graded work counts: an assignment
with no score yet is left out rather than counted as zero, and categories with no graded work
are left out with the remaining weights scaled up to 100%. A class without category weights
weighs its categories equally. Missing work is shown separately (the risk model counts it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from models.enums import AssignmentCategory
from models.schools import DEFAULT_GRADING_SCALE


@dataclass(frozen=True, slots=True)
class GradedWork:
    category: AssignmentCategory
    score: float
    max_score: float


@dataclass(frozen=True)
class LetterGrade:
    letter: str
    points: float


def class_percentage(
    work: Iterable[GradedWork], category_weights: Mapping[AssignmentCategory, float]
) -> float | None:
    """The weighted percentage (0-100) of a student's graded work in a class; None if none."""
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
        """The letter of one piece of work; None while it is ungraded."""
        if score is None or max_score <= 0:
            return None
        return self.grade(100 * score / max_score).letter


def letter_grade(percentage: float, scale: Sequence[Mapping[str, Any]] | None = None) -> LetterGrade:
    """The letter and grade points of a percentage on the school's scale."""
    return GradingScale(scale).grade(percentage)
