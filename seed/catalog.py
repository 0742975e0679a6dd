"""The course catalog and every class's coursework: the departments (room pattern, category weights,
skills), each with one course per grade level (credits, topics in syllabus order, prerequisites),
and COURSEWORK, the categories and template due dates of every class's assignments, among them
SCRIPTED_QUIZ, the quiz the demo accounts talk about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from models.enums import AssignmentCategory

HOMEWORK = AssignmentCategory.HOMEWORK
QUIZ = AssignmentCategory.QUIZ
EXAM = AssignmentCategory.EXAM
PROJECT = AssignmentCategory.PROJECT
PARTICIPATION = AssignmentCategory.PARTICIPATION
# Every class's coursework: (category, due date). Topics follow the course's syllabus in order.
COURSEWORK = (
    (HOMEWORK, date(2026, 9, 10)),
    (QUIZ, date(2026, 9, 18)),
    (HOMEWORK, date(2026, 9, 24)),
    (HOMEWORK, date(2026, 10, 8)),
    (QUIZ, date(2026, 10, 16)),
    (EXAM, date(2026, 10, 23)),
    (PARTICIPATION, date(2026, 10, 30)),
    (HOMEWORK, date(2026, 11, 5)),
    (QUIZ, date(2026, 11, 13)),
    (HOMEWORK, date(2026, 11, 19)),
    (HOMEWORK, date(2026, 11, 24)),
    (HOMEWORK, date(2026, 12, 3)),
    (PROJECT, date(2026, 12, 11)),
    (QUIZ, date(2026, 12, 17)),
    (HOMEWORK, date(2027, 1, 7)),
    (EXAM, date(2027, 1, 22)),
    (PARTICIPATION, date(2027, 1, 22)),
)
SCRIPTED_QUIZ = date(2026, 12, 17)  # the Precalculus quiz the demo accounts talk about
STANDARD_WEIGHTS = {HOMEWORK: 20.0, QUIZ: 20.0, EXAM: 35.0, PROJECT: 15.0, PARTICIPATION: 10.0}
WRITING_WEIGHTS = {HOMEWORK: 25.0, QUIZ: 10.0, EXAM: 25.0, PROJECT: 30.0, PARTICIPATION: 10.0}


@dataclass(frozen=True)
class CourseSpec:
    code: str
    title: str
    grade_level: int
    credits: Decimal
    topics: tuple[str, ...]
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Department:
    name: str
    room_pattern: str  # str.format pattern, filled with the teacher's number in the department
    weights: Mapping[AssignmentCategory, float]  # percent per category, summing to 100
    skills: tuple[str, ...]
    courses: tuple[CourseSpec, ...]  # one per grade level


ONE, HALF = Decimal("1.0"), Decimal("0.5")
MATHEMATICS = Department(
    "Mathematics",
    "Room 2{:02d}",
    STANDARD_WEIGHTS,
    ("Algebraic reasoning", "Problem solving"),
    (
        CourseSpec(
            "MATH101",
            "Algebra I",
            9,
            ONE,
            (
                "Expressions and equations",
                "Linear functions",
                "Systems of equations",
                "Exponents",
                "Polynomials",
                "Factoring",
            ),
        ),
        CourseSpec(
            "MATH201",
            "Algebra II",
            10,
            ONE,
            (
                "Quadratic functions",
                "Complex numbers",
                "Polynomial functions",
                "Rational expressions",
                "Exponential functions",
                "Logarithms",
            ),
            ("MATH101",),
        ),
        CourseSpec(
            "MATH301",
            "Precalculus",
            11,
            ONE,
            (
                "Functions and their graphs",
                "Trigonometric functions",
                "Trigonometric identities",
                "Vectors",
                "Sequences and series",
                "Limits",
            ),
            ("MATH201",),
        ),
        CourseSpec(
            "MATH401",
            "AP Calculus AB",
            12,
            ONE,
            (
                "Limits and continuity",
                "Derivatives",
                "Applications of derivatives",
                "Integrals",
                "Differential equations",
                "Area and volume",
            ),
            ("MATH301",),
        ),
    ),
)
ENGLISH = Department(
    "English",
    "Room 1{:02d}",
    WRITING_WEIGHTS,
    ("Reading comprehension", "Argumentative writing"),
    (
        CourseSpec(
            "ENG101",
            "English 9",
            9,
            ONE,
            (
                "Short stories",
                "Narrative writing",
                "Romeo and Juliet",
                "Poetry",
                "Research skills",
                "The Odyssey",
            ),
        ),
        CourseSpec(
            "ENG201",
            "English 10",
            10,
            ONE,
            (
                "Of Mice and Men",
                "Argumentative essays",
                "Julius Caesar",
                "World poetry",
                "Rhetoric",
                "Things Fall Apart",
            ),
            ("ENG101",),
        ),
        CourseSpec(
            "ENG301",
            "American Literature",
            11,
            ONE,
            (
                "The Crucible",
                "Transcendentalism",
                "The Great Gatsby",
                "Harlem Renaissance",
                "Rhetorical analysis",
                "Their Eyes Were Watching God",
            ),
            ("ENG201",),
        ),
        CourseSpec(
            "ENG401",
            "AP English Literature",
            12,
            ONE,
            (
                "Hamlet",
                "Poetry analysis",
                "Frankenstein",
                "Literary argument",
                "Beloved",
                "Timed essays",
            ),
            ("ENG301",),
        ),
    ),
)
SCIENCE = Department(
    "Science",
    "Science Lab {}",
    STANDARD_WEIGHTS,
    ("Scientific reasoning", "Lab technique"),
    (
        CourseSpec(
            "SCI101",
            "Biology",
            9,
            ONE,
            (
                "Cells",
                "Genetics",
                "Evolution",
                "Ecology",
                "Photosynthesis",
                "Human body systems",
            ),
        ),
        CourseSpec(
            "SCI201",
            "Chemistry",
            10,
            ONE,
            (
                "Atomic structure",
                "The periodic table",
                "Chemical bonding",
                "Stoichiometry",
                "Gas laws",
                "Acids and bases",
            ),
            ("SCI101", "MATH101"),
        ),
        CourseSpec(
            "SCI301",
            "Physics",
            11,
            ONE,
            (
                "Kinematics",
                "Newton's laws",
                "Projectile motion",
                "Work and energy",
                "Momentum",
                "Circuits",
            ),
            ("SCI201", "MATH201"),
        ),
        CourseSpec(
            "SCI401",
            "AP Environmental Science",
            12,
            ONE,
            (
                "Ecosystems",
                "Biodiversity",
                "Populations",
                "Energy resources",
                "Pollution",
                "Climate change",
            ),
            ("SCI301",),
        ),
    ),
)
SOCIAL_STUDIES = Department(
    "Social Studies",
    "Room 3{:02d}",
    WRITING_WEIGHTS,
    ("Historical thinking", "Source analysis"),
    (
        CourseSpec(
            "HIS101",
            "World History",
            9,
            ONE,
            (
                "Early civilizations",
                "Classical empires",
                "The Middle Ages",
                "The Renaissance",
                "Age of exploration",
                "Revolutions",
            ),
        ),
        CourseSpec(
            "HIS201",
            "U.S. History",
            10,
            ONE,
            (
                "Colonial America",
                "The Constitution",
                "Civil War and Reconstruction",
                "Industrialization",
                "The Great Depression",
                "Civil rights movement",
            ),
            ("HIS101",),
        ),
        CourseSpec(
            "HIS301",
            "Government and Economics",
            11,
            HALF,
            (
                "Foundations of democracy",
                "The three branches",
                "Elections",
                "Supply and demand",
                "Markets",
                "Personal finance",
            ),
            ("HIS201",),
        ),
        CourseSpec(
            "HIS401",
            "Contemporary World Issues",
            12,
            ONE,
            (
                "Globalization",
                "Human rights",
                "Climate policy",
                "Migration",
                "Technology and society",
                "Conflict and peace",
            ),
            ("HIS301",),
        ),
    ),
)
