"""The explainable risk model: five signals, each with a weight and a sentence a teacher can act on.

    risk score = sum of weight * severity, each severity in [0, 1]

| factor      | weight | severity 0 at          | severity 1 at              |
|-------------|--------|------------------------|----------------------------|
| ATTENDANCE  | 0.30   | 95% of meetings or more | 70% or less                |
| GRADES      | 0.30   | an 85% average or more | 60% or less                |
| TREND       | 0.15   | no drop                | a drop of 15 points         |
| MISSING_WORK| 0.15   | nothing missing        | 5 or more assignments      |
| ENGAGEMENT  | 0.10   | no missed sessions     | every tutoring session missed |

Severities are linear in between. A signal without data (no attendance taken yet, nothing
graded) has severity 0 and says so. Levels: HIGH from 0.5, MEDIUM from 0.25, LOW below.
The success prediction is the complement of the risk, shrunk towards one half when there
is little data, with a confidence that grows with the data behind it. No randomness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.enums import RiskLevel

WEIGHTS = {"ATTENDANCE": 0.30, "GRADES": 0.30, "TREND": 0.15, "MISSING_WORK": 0.15, "ENGAGEMENT": 0.10}
HIGH_FROM, MEDIUM_FROM = 0.5, 0.25
RECOMMENDATIONS = {
    "ATTENDANCE": "Talk with the student and their guardian about the missed classes; agree on a plan.",
    "GRADES": "Offer extra help or a tutoring session in the weakest class.",
    "TREND": "Check in now: the recent drop is recent enough to turn around.",
    "MISSING_WORK": "Agree on a schedule to hand in the missing work.",
    "ENGAGEMENT": "Ask why tutoring sessions were missed; find a time that works.",
}


@dataclass
class Signals:
    """What the model reads about one student (current enrollments)."""

    attended: int = 0  # present or late
    absent: int = 0  # not excused
    average_grade: float | None = None  # mean of the class percentages
    trend_points: float | None = None  # recent graded work minus earlier, in points
    missing_work: int = 0
    sessions_kept: int = 0
    sessions_missed: int = 0
    graded_count: int = 0


@dataclass
class Assessment:
    risk_score: float
    risk_level: RiskLevel
    factors: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    success_probability: float = 0.5
    confidence: float = 0.0
    key_factors: list[str] = field(default_factory=list)


def _ramp(value: float, good: float, bad: float) -> float:
    """0 at `good` (or better), 1 at `bad` (or worse), linear between."""
    return max(0.0, min(1.0, (good - value) / (good - bad)))


def _factors(s: Signals) -> list[tuple[str, float, str]]:
    """(factor, severity, detail) for every signal."""
    found = []
    meetings = s.attended + s.absent
    if meetings:
        rate = s.attended / meetings
        detail = f"Attended {rate:.0%} of {meetings} class meetings ({s.absent} unexcused absences)."
        found.append(("ATTENDANCE", _ramp(rate, 0.95, 0.70), detail))
    else:
        found.append(("ATTENDANCE", 0.0, "No attendance recorded yet."))
    if s.average_grade is not None:
        detail = f"Average grade is {s.average_grade:.0f}% across current classes."
        found.append(("GRADES", _ramp(s.average_grade, 85.0, 60.0), detail))
    else:
        found.append(("GRADES", 0.0, "Nothing graded yet."))
    if s.trend_points is not None:
        direction = "down" if s.trend_points < 0 else "up"
        detail = f"Recent work is {direction} {abs(s.trend_points):.0f} points on earlier work."
        found.append(("TREND", _ramp(s.trend_points, 0.0, -15.0), detail))
    else:
        found.append(("TREND", 0.0, "Not enough graded work to see a trend."))
    missing_detail = f"{s.missing_work} assignments are more than a week past due and not handed in."
    found.append(("MISSING_WORK", _ramp(-s.missing_work, 0.0, -5.0), missing_detail))
    sessions = s.sessions_kept + s.sessions_missed
    if sessions:
        detail = f"Missed {s.sessions_missed} of {sessions} tutoring sessions in the last 90 days."
        found.append(("ENGAGEMENT", s.sessions_missed / sessions, detail))
    else:
        found.append(("ENGAGEMENT", 0.0, "No tutoring sessions in the last 90 days."))
    return found


def assess(signals: Signals) -> Assessment:
    found = _factors(signals)
    contributions = [(name, WEIGHTS[name] * severity, detail) for name, severity, detail in found]
    score = round(sum(weight for _, weight, _ in contributions), 4)
    level = (
        RiskLevel.HIGH if score >= HIGH_FROM else RiskLevel.MEDIUM if score >= MEDIUM_FROM else RiskLevel.LOW
    )
    risky = sorted((c for c in contributions if c[1] > 0), key=lambda c: -c[1])
    data_points = signals.graded_count + signals.attended + signals.absent
    confidence = round(min(1.0, data_points / 60), 2)
    # Little data: the prediction leans to 50/50 rather than claiming certainty.
    success = round(0.5 + confidence * ((1.0 - score) - 0.5), 4)
    return Assessment(
        risk_score=score,
        risk_level=level,
        factors=[
            {"factor": name, "weight": round(weight, 4), "detail": detail} for name, weight, detail in risky
        ],
        recommendations=[RECOMMENDATIONS[name] for name, _, _ in risky],
        success_probability=success,
        confidence=confidence,
        key_factors=[detail for _, _, detail in sorted(found, key=lambda f: -WEIGHTS[f[0]])],
    )
