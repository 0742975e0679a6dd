"""Deterministic demo data: two schools with every kind of record that the clients show.

`python server.py seed --demo [--scale N]` runs `seed_demo`. Every demo account's password is
`campus-demo`:

    Northside High (slug northside, invitation code NORTHSIDE-JOIN)
        admin@ staff@ teacher@ teacher2@ mentor@ student@ (free tier) premium@ guardian@northside.test
    Riverside Academy (slug riverside, invitation code RIVERSIDE-JOIN; grades 9 and 10 only)
        teacher@ staff@ student@riverside.test

The data is a school year as it stands on the seeding day (today's UTC date unless given), so
a demo seeded in any month looks alive: the current term is about twelve weeks in, work due
before today is graded (the newest assignment only partly) and attended, a teacher's last
sessions wait to be completed, later work and sessions are upcoming; last term holds last
year's final grades (GPA, credits, transcripts). The dates below are a template drawn around
TEMPLATE_TODAY (Monday 2026-11-23, in the Fall 2026 term); `Calendar` moves them by whole weeks
to the seeding day, so weekdays of classes, due dates and holidays stay as drawn. Everything
else comes from a fixed random seed: the same seeding day writes the same rows.

Timetable: every student takes one course per department, the one for their grade level, and
department d meets in period (d + grade) % number of departments, so no student or teacher is
in two classes at once. `scale` multiplies the sections of each course, so the students and
classes of each school; every class has CLASS_SIZE students.

Seeding is idempotent: when Northside exists nothing is written (see `seed_demo`). Everything
else is written in one transaction with multi-row inserts; the database assigns the ids, which
come back through RETURNING, the same on SQLite and PostgreSQL. An audit entry per school
("demo.seeded") records the day the data is as of and its scale.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, make_url, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from tqdm import tqdm  # type: ignore[import-untyped]

from config import Settings
from models import (
    AiChat,
    AiMessage,
    Assessment,
    Assignment,
    AttendanceRecord,
    AuditEntry,
    Base,
    CategoryWeight,
    Class,
    ClassTeacher,
    Conversation,
    ConversationParticipant,
    Course,
    CoursePrerequisite,
    Enrollment,
    FinalGrade,
    GeneratedImage,
    Grade,
    GradeChange,
    GuardianLink,
    MeetingTime,
    MentorLink,
    Message,
    Notification,
    School,
    StudentProfile,
    TeacherProfile,
    Term,
    TutoringSession,
    User,
)
from models.db import create_engine
from models.enums import (
    AiMessageRole,
    AssignmentCategory,
    AttendanceStatus,
    EnrollmentStatus,
    Role,
    SessionStatus,
    StudentStatus,
    Tier,
)
from models.schools import DEFAULT_GRADING_SCALE
from resolvers.analytics import refresh_school_risk
from resolvers.grade_math import letter_grade
from resolvers.passwords import hash_password
from resolvers.progress import assessment_level

Row = dict[str, Any]

DEMO_PASSWORD = "campus-demo"  # noqa: S105 - the documented password of the demo accounts
RANDOM_SEED = "campusgraph-demo"
TEMPLATE_TODAY = date(2026, 11, 23)  # the Monday the template dates below are drawn around
LEGACY_AS_OF = TEMPLATE_TODAY  # seeds that did not record their day were all as of it
SEEDED_ACTION = "demo.seeded"  # the audit entry that records a seed's day and scale
CLASS_SIZE = 30
CHUNK_ROWS = 5_000  # rows per INSERT call (the driver splits further); the progress bar moves per chunk
PROGRESS_FROM_SCALE = 5

HOMEWORK = AssignmentCategory.HOMEWORK
QUIZ = AssignmentCategory.QUIZ
EXAM = AssignmentCategory.EXAM
PROJECT = AssignmentCategory.PROJECT
PARTICIPATION = AssignmentCategory.PARTICIPATION

# ---------------------------------------------------------------------------------------------
# The calendar: template dates, and `Calendar`, which moves them to the seeding day


@dataclass(frozen=True)
class TermSpec:
    starts_on: date
    ends_on: date

    @property
    def name(self) -> str:
        """After the season and year of its middle day: "Fall 2026", "Spring 2027", "Summer 2026"."""
        middle = self.starts_on + (self.ends_on - self.starts_on) / 2
        season = "Spring" if middle.month <= 5 else "Summer" if middle.month <= 7 else "Fall"
        return f"{season} {middle.year}"


@dataclass(frozen=True)
class Period:
    """A period of the school day (local time) and the weekdays its classes meet (0 = Monday)."""

    starts: time
    ends: time
    weekdays: tuple[int, ...]


FALL = TermSpec(date(2026, 9, 1), date(2027, 1, 31))  # the current term (of the template)
SPRING = TermSpec(date(2026, 1, 12), date(2026, 6, 12))  # last term
PERIODS = (
    Period(time(8, 0), time(8, 55), (0, 2, 4)),
    Period(time(9, 5), time(10, 0), (1, 3)),
    Period(time(10, 15), time(11, 10), (0, 2, 4)),
    Period(time(11, 20), time(12, 15), (1, 3)),
)
BREAKS = (  # as they fall in the template year
    (date(2026, 9, 7), date(2026, 9, 7)),  # Labor Day
    (date(2026, 10, 12), date(2026, 10, 12)),  # Indigenous Peoples' Day
    (date(2026, 11, 11), date(2026, 11, 11)),  # Veterans Day
    (date(2026, 11, 25), date(2026, 11, 27)),  # Thanksgiving
    (date(2026, 12, 21), date(2027, 1, 1)),  # Winter break
    (date(2027, 1, 18), date(2027, 1, 18)),  # Martin Luther King Jr. Day
)
DUE_TIME = time(23, 59)
TUTORING_TIME = (time(15, 30), time(16, 30))
TUTORING_FROM = date(2026, 9, 14)  # the first day of tutoring sessions
SESSIONS_TO_COMPLETE = 2  # a demo teacher's sessions before today that wait to be completed

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
MAX_SCORES = {HOMEWORK: 20.0, QUIZ: 25.0, EXAM: 100.0, PROJECT: 50.0, PARTICIPATION: 10.0}
EXAM_TITLES = ("Midterm exam", "Final exam")
STANDARD_WEIGHTS = {HOMEWORK: 20.0, QUIZ: 20.0, EXAM: 35.0, PROJECT: 15.0, PARTICIPATION: 10.0}
WRITING_WEIGHTS = {HOMEWORK: 25.0, QUIZ: 10.0, EXAM: 25.0, PROJECT: 30.0, PARTICIPATION: 10.0}
ASSESSMENT_DAYS = (date(2026, 9, 25), date(2026, 10, 23), date(2026, 11, 20))
MENTOR_ASSESSMENT_DAYS = (date(2026, 9, 15), date(2026, 10, 6), date(2026, 10, 27), date(2026, 11, 17))
MENTOR_SKILLS = ("Time management", "Goal setting")


@dataclass(frozen=True)
class Calendar:
    """The template dates moved to a seeding day `today`.

    They move by whole weeks, so that `today` falls in the template's week of TEMPLATE_TODAY and
    every weekday stays as drawn: classes meet on their days, work is due and holidays fall on
    weekdays. The cut between past and upcoming is `today` itself (`now`), wherever in that week
    it falls; the steps that write the data compare with `now`, never with a template date.
    """

    today: date
    offset: timedelta

    @classmethod
    def on(cls, today: date) -> Calendar:
        return cls(today, timedelta(weeks=(today - TEMPLATE_TODAY).days // 7))

    @property
    def now(self) -> datetime:
        """The first moment of the seeding day (UTC), so nothing written as past is later than
        the moment the seed runs."""
        return datetime.combine(self.today, time(0), tzinfo=UTC)

    @property
    def term(self) -> TermSpec:
        """The current term: it contains `today`."""
        return TermSpec(self.day(FALL.starts_on), self.day(FALL.ends_on))

    @property
    def last_term(self) -> TermSpec:
        return TermSpec(self.day(SPRING.starts_on), self.day(SPRING.ends_on))

    def day(self, template: date) -> date:
        return template + self.offset

    def moment(self, template: datetime) -> datetime:
        return template + self.offset

    def school_days(self, first: date, last: date) -> list[date]:
        """Weekdays from first to last (inclusive) outside the holidays and breaks."""
        breaks = [(self.day(start), self.day(end)) for start, end in BREAKS]
        days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
        return [
            day for day in days if day.weekday() < 5 and not any(start <= day <= end for start, end in breaks)
        ]


# ---------------------------------------------------------------------------------------------
# The course catalog


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

# ---------------------------------------------------------------------------------------------
# The schools


@dataclass(frozen=True)
class Account:
    """A demo account; its e-mail is `{key}@{slug}.test`."""

    key: str
    name: str
    role: Role
    joined: date
    tier: Tier = Tier.FREE
    grade_level: int = 0  # students
    department: str = ""  # teachers


@dataclass(frozen=True)
class FeaturedClass:
    """The first section of a course, taught by a demo teacher (and a co-teacher)."""

    course_code: str
    teacher: str
    co_teacher: str | None = None


@dataclass(frozen=True)
class Line:
    author: str  # account key
    body: str  # may name {quiz_day}, the day SCRIPTED_QUIZ falls on
    reply_to: int | None = None  # index of an earlier line


@dataclass(frozen=True)
class ConversationScript:
    title: str
    participants: tuple[str, ...]
    starts: datetime  # template time, like every date of the specs
    lines: tuple[Line, ...]
    unread_for: tuple[str, ...] = ()  # they have not read the last line


@dataclass(frozen=True)
class AiChatScript:
    account: str
    title: str
    at: datetime
    turns: tuple[str, ...]  # the user, the assistant, the user...; may name {quiz_day}


@dataclass(frozen=True)
class ImageScript:
    account: str
    prompt: str
    at: datetime


@dataclass(frozen=True)
class SchoolSpec:
    name: str
    slug: str
    invitation_code: str
    timezone: str
    onboarded: datetime
    number_prefix: str
    grades: tuple[int, ...]
    departments: tuple[Department, ...]
    accounts: tuple[Account, ...]
    featured: tuple[FeaturedClass, ...]
    inactive: tuple[tuple[StudentStatus, float], ...]  # students not in classes, as shares of those who are
    conversations: tuple[ConversationScript, ...]
    ai_chats: tuple[AiChatScript, ...]
    images: tuple[ImageScript, ...] = ()
    double_booking: tuple[str, str] | None = None  # (teacher, student): one overlapping session

    @property
    def domain(self) -> str:
        return f"{self.slug}.test"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


NORTHSIDE = SchoolSpec(
    name="Northside High",
    slug="northside",
    invitation_code="NORTHSIDE-JOIN",
    timezone="America/New_York",
    onboarded=_utc(2024, 6, 3, 14),
    number_prefix="NS",
    grades=(9, 10, 11, 12),
    departments=(MATHEMATICS, ENGLISH, SCIENCE, SOCIAL_STUDIES),
    accounts=(
        Account("admin", "Helen Okafor", Role.ADMIN, date(2024, 6, 3)),
        Account("staff", "Daniel Kim", Role.STAFF, date(2024, 6, 10)),
        Account("teacher", "Maya Patel", Role.TEACHER, date(2024, 8, 19), department="Mathematics"),
        Account("teacher2", "James O'Connor", Role.TEACHER, date(2024, 8, 19), department="Science"),
        Account("mentor", "Rosa Diaz", Role.MENTOR, date(2025, 1, 13)),
        Account("student", "Sam Rivera", Role.STUDENT, date(2024, 8, 26), grade_level=11),
        Account("premium", "Ava Chen", Role.STUDENT, date(2025, 8, 25), Tier.PREMIUM, grade_level=10),
        Account("guardian", "Elena Rivera", Role.GUARDIAN, date(2024, 8, 27)),
    ),
    featured=(
        FeaturedClass("MATH201", "teacher"),
        FeaturedClass("MATH301", "teacher"),
        FeaturedClass("SCI301", "teacher2", "teacher"),
        FeaturedClass("SCI201", "teacher2"),
    ),
    inactive=(
        (StudentStatus.ON_LEAVE, 0.03),
        (StudentStatus.WITHDRAWN, 0.04),
        (StudentStatus.GRADUATED, 0.05),
    ),
    conversations=(
        ConversationScript(
            "Weekly check-ins",
            ("mentor", "student"),
            _utc(2026, 11, 16, 21, 5),
            (
                Line(
                    "mentor",
                    "Hi Sam! How did this week go? Last time you wanted to finish the Physics lab "
                    "report early.",
                ),
                Line("student", "Pretty good! The lab report is done, but the error analysis took forever."),
                Line(
                    "mentor",
                    "That's normal the first time. Could you ask Mr. O'Connor to look at a "
                    "draft of that section?",
                    reply_to=1,
                ),
                Line("student", "Good idea, I'll ask him on Tuesday.", reply_to=2),
                Line(
                    "mentor",
                    "Great. Let's plan your revision for the Precalculus quiz on {quiz_day}.",
                ),
            ),
            unread_for=("student",),
        ),
        ConversationScript(
            "Precalculus: Homework 5",
            ("teacher", "student"),
            _utc(2026, 11, 19, 23, 10),
            (
                Line(
                    "student",
                    "Hi Ms. Patel, on question 4 of tonight's homework, can we leave the unit "
                    "vector with a square root in the denominator?",
                ),
                Line(
                    "teacher",
                    "Please rationalize it, and show how you found the magnitude first.",
                    reply_to=0,
                ),
                Line("student", "Got it, thank you!"),
            ),
        ),
        ConversationScript(
            "Physics: lab report feedback",
            ("teacher2", "teacher", "student"),
            _utc(2026, 11, 18, 20, 0),
            (
                Line(
                    "teacher2",
                    "Sam, I left comments on your work and energy lab report. The data table is excellent.",
                ),
                Line(
                    "teacher",
                    "I can help with the uncertainty calculations at our next tutoring session if you like.",
                ),
                Line(
                    "student",
                    "Thank you both! I'll fix the uncertainties and resubmit by Friday.",
                    reply_to=0,
                ),
            ),
            unread_for=("teacher2",),
        ),
        ConversationScript(
            "Sam's progress in Precalculus",
            ("guardian", "teacher"),
            _utc(2026, 11, 20, 1, 30),
            (
                Line(
                    "guardian",
                    "Hello Ms. Patel, Sam mentioned a quiz on {quiz_day}. Is there anything "
                    "we can do at home to help?",
                ),
                Line(
                    "teacher",
                    "Thanks for reaching out! Sam is doing well. Practising the sequences "
                    "worksheet from class twice a week would help most.",
                    reply_to=0,
                ),
                Line("guardian", "Wonderful, we'll do that. Thank you!"),
            ),
            unread_for=("teacher",),
        ),
        ConversationScript(
            "Algebra II: extra practice",
            ("premium", "teacher"),
            _utc(2026, 11, 21, 15, 40),
            (
                Line(
                    "premium",
                    "Could you recommend extra practice on logarithms? I'd like to get ahead "
                    "before the final.",
                ),
                Line(
                    "teacher",
                    "Sure! Try the challenge set on the class page, problems 1 to 15, and bring "
                    "questions on Tuesday.",
                    reply_to=0,
                ),
            ),
            unread_for=("premium",),
        ),
    ),
    ai_chats=(
        AiChatScript(
            "student",
            "Explain projectile motion",
            _utc(2026, 11, 2, 23, 15),
            (
                "Why does a ball thrown horizontally land at the same time as one that is dropped?",
                "Because horizontal and vertical motion are independent. Both balls start with no vertical "
                "speed and fall with the same acceleration, 9.8 m/s^2, so they fall the same height in the "
                "same time. The thrown ball also moves sideways while it falls.",
            ),
        ),
        AiChatScript(
            "student",
            "Study plan for the Precalculus quiz",
            _utc(2026, 11, 18, 0, 40),
            (
                "Can you help me make a study plan for my Precalculus quiz on sequences and series on "
                "{quiz_day}?",
                "Sure. Week 1: arithmetic and geometric sequences, ten practice problems a day. Week 2: "
                "sums of series and sigma notation. Week 3: two timed practice quizzes, then redo every "
                "mistake.",
                "How do I remember the formula for a geometric series?",
                "Derive it: write S = a + ar + ... + ar^(n-1), multiply by r and subtract. You get "
                "S(1 - r) = a(1 - r^n), so S = a(1 - r^n) / (1 - r).",
            ),
        ),
        AiChatScript(
            "premium",
            "Balancing chemical equations",
            _utc(2026, 10, 20, 22, 0),
            (
                "How do I balance C3H8 + O2 -> CO2 + H2O?",
                "Balance carbon first (3 CO2), then hydrogen (4 H2O), then oxygen: 3 x 2 + 4 = 10 oxygen "
                "atoms, so 5 O2. The result is C3H8 + 5 O2 -> 3 CO2 + 4 H2O.",
            ),
        ),
        AiChatScript(
            "premium",
            "Logarithm practice",
            _utc(2026, 11, 12, 23, 30),
            (
                "Give me three practice problems on logarithm rules.",
                "1. Expand log(x^2 y). 2. Condense 2 log 3 + log 4. 3. Solve log2(x) + log2(x - 2) = 3.",
                "Is the answer to the third one x = 4?",
                "Yes: x(x - 2) = 8 gives x = 4 or x = -2, and only x = 4 keeps both logarithms defined.",
            ),
        ),
        AiChatScript(
            "premium",
            "College essay brainstorm",
            _utc(2026, 11, 20, 0, 5),
            (
                "I want to write my college essay about volunteering at the food bank. Where do I start?",
                "Start with one specific moment that changed how you saw the work, then explain what you "
                "learned and how it shapes what you want to do next.",
            ),
        ),
        AiChatScript(
            "teacher",
            "Quiz ideas: trigonometric identities",
            _utc(2026, 11, 10, 1, 0),
            (
                "Suggest five quiz questions on trigonometric identities for eleventh graders.",
                "1. Prove tan(x) cos(x) = sin(x). 2. Simplify (1 - cos^2 x) / sin x. 3. Prove sec^2 x - "
                "tan^2 x = 1. 4. Simplify sin x cot x. 5. Verify (sin x + cos x)^2 = 1 + 2 sin x cos x.",
            ),
        ),
        AiChatScript(
            "teacher",
            "Parent e-mail draft",
            _utc(2026, 11, 19, 22, 45),
            (
                "Help me write a short e-mail to parents about the {quiz_day} quiz.",
                "Dear families, our class will have a quiz on sequences and series on {quiz_day}. "
                "Practice worksheets are on the class page; tutoring is available Tuesdays and Thursdays "
                "after school. Thank you for your support!",
            ),
        ),
    ),
    images=(
        ImageScript(
            "premium",
            "A labelled diagram of a water molecule showing its bond angle",
            _utc(2026, 10, 21, 0, 10),
        ),
        ImageScript(
            "premium",
            "Graphs of y = log2(x) and y = 2^x mirrored across the line y = x",
            _utc(2026, 11, 12, 23, 50),
        ),
        ImageScript(
            "teacher", "A unit circle poster with angles in degrees and radians", _utc(2026, 11, 2, 1, 20)
        ),
        ImageScript(
            "teacher", "A cartoon triangle studying for a trigonometry test", _utc(2026, 11, 10, 1, 30)
        ),
    ),
    double_booking=("teacher2", "student"),
)

RIVERSIDE = SchoolSpec(
    name="Riverside Academy",
    slug="riverside",
    invitation_code="RIVERSIDE-JOIN",
    timezone="America/Chicago",
    onboarded=_utc(2025, 6, 2, 15),
    number_prefix="RA",
    grades=(9, 10),
    departments=(MATHEMATICS, ENGLISH, SCIENCE),
    accounts=(
        Account("teacher", "Marcus Johnson", Role.TEACHER, date(2025, 8, 11), department="English"),
        Account("staff", "Priya Shah", Role.STAFF, date(2025, 6, 2)),
        Account("student", "Noah Williams", Role.STUDENT, date(2025, 8, 18), grade_level=10),
    ),
    featured=(FeaturedClass("ENG101", "teacher"), FeaturedClass("ENG201", "teacher")),
    inactive=((StudentStatus.ON_LEAVE, 0.03), (StudentStatus.WITHDRAWN, 0.05)),
    conversations=(
        ConversationScript(
            "English 10: essay draft",
            ("student", "teacher"),
            _utc(2026, 11, 17, 22, 20),
            (
                Line(
                    "student",
                    "Hi Mr. Johnson, I uploaded the draft of my argumentative essay. Could "
                    "you check my thesis?",
                ),
                Line(
                    "teacher",
                    "Your thesis is clear. Make the counterargument paragraph more specific, "
                    "with one piece of evidence.",
                    reply_to=0,
                ),
                Line("student", "Thanks, I'll revise it tonight."),
            ),
            unread_for=("teacher",),
        ),
    ),
    ai_chats=(
        AiChatScript(
            "student",
            "Argumentative essay outline",
            _utc(2026, 11, 15, 23, 0),
            (
                "Help me outline an essay arguing that school should start later.",
                "1. Hook and thesis. 2. Teenagers' sleep needs, with evidence. 3. Effects on grades and "
                "safety. 4. The counterargument: bus schedules and sports, and an answer to it. "
                "5. Conclusion.",
            ),
        ),
    ),
)

SCHOOLS = (NORTHSIDE, RIVERSIDE)

# ---------------------------------------------------------------------------------------------
# Names and words

FIRST_NAMES = (
    "Aaliyah",
    "Aarav",
    "Abigail",
    "Adrian",
    "Aisha",
    "Alejandro",
    "Amara",
    "Amir",
    "Ana",
    "Andre",
    "Anika",
    "Arjun",
    "Ava",
    "Benjamin",
    "Bianca",
    "Caleb",
    "Camila",
    "Carlos",
    "Chloe",
    "Daniel",
    "Diego",
    "Elijah",
    "Elena",
    "Emily",
    "Ethan",
    "Fatima",
    "Gabriel",
    "Grace",
    "Hana",
    "Hassan",
    "Isabella",
    "Isaac",
    "Jada",
    "Jamal",
    "Jasmine",
    "Javier",
    "Jin",
    "Jordan",
    "Kai",
    "Kenji",
    "Layla",
    "Leah",
    "Liam",
    "Lucas",
    "Luis",
    "Malik",
    "Mateo",
    "Mei",
    "Mia",
    "Nadia",
    "Naomi",
    "Nathan",
    "Noah",
    "Olivia",
    "Omar",
    "Priya",
    "Rafael",
    "Riya",
    "Samuel",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Valentina",
    "Wei",
    "Yusuf",
    "Zara",
    "Zoe",
)
LAST_NAMES = (
    "Adams",
    "Ahmed",
    "Alvarez",
    "Anderson",
    "Baker",
    "Banerjee",
    "Brooks",
    "Campbell",
    "Castillo",
    "Chen",
    "Clarke",
    "Cohen",
    "Cruz",
    "Dang",
    "Davis",
    "Edwards",
    "Evans",
    "Fernandez",
    "Foster",
    "Garcia",
    "Gonzalez",
    "Green",
    "Gupta",
    "Hall",
    "Harris",
    "Hernandez",
    "Hughes",
    "Ibrahim",
    "Ito",
    "Jackson",
    "Jensen",
    "Khan",
    "Kim",
    "Kowalski",
    "Lee",
    "Lewis",
    "Lopez",
    "Martin",
    "Mensah",
    "Miller",
    "Mitchell",
    "Moreno",
    "Murphy",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Okafor",
    "Ortiz",
    "Park",
    "Perez",
    "Phillips",
    "Ramirez",
    "Reed",
    "Reyes",
    "Robinson",
    "Rossi",
    "Sanchez",
    "Santos",
    "Schmidt",
    "Shah",
    "Singh",
    "Sullivan",
    "Taylor",
    "Thompson",
    "Torres",
    "Tran",
    "Turner",
    "Walker",
    "Wang",
    "Washington",
    "Wilson",
    "Wright",
    "Yamamoto",
    "Young",
    "Zhang",
)
EXCUSES = ("Doctor's appointment", "Illness, note from parent", "Family emergency", "School sports trip")
SESSION_NOTES = (
    "Reviewed {0} and worked through practice problems together.",
    "Focused on {0}; set two extra exercises on {1}.",
    "Went over the mistakes from the last quiz ({0}). Clear progress.",
    "Prepared for the next test: {0} and {1}.",
)
ASSESSMENT_NOTES = {
    1: "Needs support: let's set up regular tutoring.",
    2: "Developing; practise the basics every week.",
    3: "Solid understanding, with a few gaps.",
    4: "Strong work and steady improvement.",
    5: "Excellent: ready for extension work.",
}
SESSION_RATES_CENTS = (3500, 4000, 4500, 5000, 5500)

# ---------------------------------------------------------------------------------------------
# The plan of one school: people and classes, made in Python, given ids as they are inserted


@dataclass(eq=False)
class Member:
    email: str
    name: str
    role: Role
    joined: datetime
    tier: Tier = Tier.FREE
    key: str | None = None  # the account key of a demo account
    active: bool = True
    id: int = 0

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


@dataclass(eq=False)
class Pupil:
    member: Member
    number: str
    grade_level: int
    cohort_year: int  # the year they started at the school
    status: StudentStatus
    ability: float  # expected share of the points, at the start of the term
    trend: float  # change of ability per week
    absence_rate: float


@dataclass(eq=False)
class Teacher:
    member: Member
    department: Department
    room: str
    rate_cents: int
    busy: set[int] = field(default_factory=set)  # the periods of a generated teacher's classes


@dataclass(eq=False)
class Section:
    course: CourseSpec
    department: Department
    term: TermSpec
    period: int
    number: int
    teacher: Teacher
    co_teacher: Teacher | None
    students: list[Pupil]
    id: int = 0

    @property
    def title(self) -> str:
        return f"{self.course.title}, section {self.number}"


@dataclass(eq=False)
class Work:
    """An assignment of a section."""

    section: Section
    title: str
    category: AssignmentCategory
    max_score: float
    due_at: datetime
    id: int = 0


@dataclass(eq=False)
class Thread:
    """A conversation to write: its lines are (author, body, index of the line replied to)."""

    title: str
    participants: list[Member]
    starts: datetime
    lines: list[tuple[Member, str, int | None]]
    unread_for: list[Member]


@dataclass(eq=False)
class World:
    """One school as planned, and what its later steps need from the earlier ones."""

    spec: SchoolSpec
    scale: int
    rng: random.Random
    zone: ZoneInfo
    calendar: Calendar
    members: list[Member] = field(default_factory=list)
    accounts: dict[str, Member] = field(default_factory=dict)
    teachers: list[Teacher] = field(default_factory=list)
    students: list[Pupil] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)  # this term
    past_sections: list[Section] = field(default_factory=list)  # last term
    guardian_links: list[tuple[Member, Pupil]] = field(default_factory=list)
    mentor_links: list[tuple[Member, Pupil]] = field(default_factory=list)
    notifications: list[Row] = field(default_factory=list)
    school_id: int = 0
    term_ids: dict[str, int] = field(default_factory=dict)
    course_ids: dict[str, int] = field(default_factory=dict)

    def local(self, day: date, at: time) -> datetime:
        """A wall-clock time at the school, in UTC."""
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def account_teacher(self, key: str) -> Teacher:
        return next(teacher for teacher in self.teachers if teacher.member.key == key)

    def scripted(self, text: str) -> str:
        """A line of the specs' scripts with the dates it names as they fall."""
        quiz_day = self.calendar.day(SCRIPTED_QUIZ)
        return text.format(quiz_day=f"{quiz_day:%B} {quiz_day.day}")

    def notify(
        self, member: Member, kind: str, title: str, body: str, at: datetime, *, unread: bool = False
    ) -> None:
        """Notifications go to the demo accounts only; unless `unread`, those older than three days
        have been read."""
        if member.key is None:
            return
        recent = at >= self.calendar.now - timedelta(days=3)
        read_at = None if unread or recent else at + timedelta(hours=3)
        self.notifications.append(
            {
                "user_id": member.id,
                "kind": kind,
                "title": title,
                "body": body,
                "created_at": at,
                "read_at": read_at,
            }
        )


class NameMaker:
    """Realistic names with unique e-mail addresses at one school."""

    def __init__(self, rng: random.Random, domain: str) -> None:
        self.rng = rng
        self.domain = domain
        self.emails: set[str] = set()

    def person(self, role: Role, joined: datetime, tier: Tier = Tier.FREE) -> Member:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower()
        email, number = f"{local}@{self.domain}", 2
        while email in self.emails:
            email, number = f"{local}{number}@{self.domain}", number + 1
        self.emails.add(email)
        return Member(email=email, name=f"{first} {last}", role=role, joined=joined, tier=tier)


def plan_school(spec: SchoolSpec, scale: int, calendar: Calendar) -> World:
    world = World(
        spec=spec,
        scale=scale,
        rng=random.Random(f"{RANDOM_SEED}/{spec.slug}"),  # noqa: S311 - demo data, not secrets
        zone=ZoneInfo(spec.timezone),
        calendar=calendar,
    )
    names = NameMaker(world.rng, spec.domain)
    plan_accounts(world)
    plan_students(world, names)
    plan_sections(world, names)
    plan_past_sections(world)
    plan_links(world)
    return world


def plan_accounts(world: World) -> None:
    spec = world.spec
    for account in spec.accounts:
        member = Member(
            email=f"{account.key}@{spec.domain}",
            name=account.name,
            role=account.role,
            joined=world.calendar.moment(datetime.combine(account.joined, time(15), tzinfo=UTC)),
            tier=account.tier,
            key=account.key,
        )
        world.members.append(member)
        world.accounts[account.key] = member
        if account.role is Role.TEACHER:
            department = next(d for d in spec.departments if d.name == account.department)
            add_teacher(world, member, department)
        elif account.role is Role.STUDENT:
            grade_level = account.grade_level
            add_pupil(world, member, grade_level, entry_year(grade_level), StudentStatus.ENROLLED)


def entry_year(grade_level: int) -> int:
    """The template year in which students of the grade level entered the school (in grade 9)."""
    return FALL.starts_on.year - (grade_level - 9)


def add_teacher(world: World, member: Member, department: Department) -> Teacher:
    colleagues = sum(1 for teacher in world.teachers if teacher.department is department)
    teacher = Teacher(
        member=member,
        department=department,
        room=department.room_pattern.format(colleagues + 1),
        rate_cents=world.rng.choice(SESSION_RATES_CENTS),
    )
    world.teachers.append(teacher)
    return teacher


def add_pupil(world: World, member: Member, grade_level: int, entered: int, status: StudentStatus) -> Pupil:
    """A student who entered the school in the template year `entered`; demo students do well,
    about one in ten of the others struggles and slips."""
    rng = world.rng
    if member.key is not None:
        ability, trend, absence_rate = 0.86, 0.001, 0.03
    elif rng.random() < 0.1:
        ability, trend, absence_rate = rng.gauss(0.62, 0.06), -0.005, 0.14
    else:
        ability, trend, absence_rate = rng.gauss(0.82, 0.08), rng.gauss(0.0, 0.002), 0.03
    pupil = Pupil(
        member=member,
        number=f"{world.spec.number_prefix}-{len(world.students) + 1:06d}",
        grade_level=grade_level,
        cohort_year=world.calendar.day(FALL.starts_on.replace(year=entered)).year,
        status=status,
        ability=min(0.98, max(0.45, ability)),
        trend=trend,
        absence_rate=absence_rate,
    )
    world.students.append(pupil)
    return pupil


def plan_students(world: World, names: NameMaker) -> None:
    """CLASS_SIZE x scale enrolled students per grade level, then those on leave, withdrawn, graduated."""
    rng = world.rng
    for grade_level in world.spec.grades:
        present = sum(1 for pupil in world.students if pupil.grade_level == grade_level)
        for _ in range(CLASS_SIZE * world.scale - present):
            new_student(world, names, grade_level, entry_year(grade_level), StudentStatus.ENROLLED)
    enrolled = len(world.students)
    for status, share in world.spec.inactive:
        for _ in range(max(1, round(enrolled * share))):
            if status is StudentStatus.GRADUATED:
                new_student(world, names, 12, entry_year(12) - 1, status)
            else:
                grade_level = rng.choice(world.spec.grades)
                new_student(world, names, grade_level, entry_year(grade_level), status)


def new_student(
    world: World, names: NameMaker, grade_level: int, entered: int, status: StudentStatus
) -> None:
    rng = world.rng
    joined = _utc(entered, 8, 17, 14) + timedelta(days=rng.randint(0, 10), minutes=rng.randint(0, 300))
    tier = Tier.PREMIUM if rng.random() < 0.15 else Tier.FREE
    member = names.person(Role.STUDENT, world.calendar.moment(joined), tier)
    member.active = status is not StudentStatus.WITHDRAWN
    world.members.append(member)
    add_pupil(world, member, grade_level, entered, status)


def plan_sections(world: World, names: NameMaker) -> None:
    """`scale` sections of each course; the first of a featured course goes to its demo teacher."""
    spec = world.spec
    featured = {offer.course_code: offer for offer in spec.featured}
    for index, department in enumerate(spec.departments):
        for course in offered_courses(spec, department):
            period = (index + course.grade_level) % len(spec.departments)
            roster = class_list(world, course.grade_level)
            for number in range(1, world.scale + 1):
                offer = featured.get(course.code) if number == 1 else None
                if offer is not None:
                    teacher = world.account_teacher(offer.teacher)
                    co_teacher = world.account_teacher(offer.co_teacher) if offer.co_teacher else None
                else:
                    teacher, co_teacher = free_teacher(world, names, department, period), None
                    teacher.busy.add(period)
                students = roster[(number - 1) * CLASS_SIZE : number * CLASS_SIZE]
                term = world.calendar.term
                world.sections.append(
                    Section(course, department, term, period, number, teacher, co_teacher, students)
                )


def offered_courses(spec: SchoolSpec, department: Department) -> list[CourseSpec]:
    return [course for course in department.courses if course.grade_level in spec.grades]


def class_list(world: World, grade_level: int) -> list[Pupil]:
    """The enrolled students of a grade level, demo students first (so in the featured sections)."""
    pupils = [
        p for p in world.students if p.grade_level == grade_level and p.status is StudentStatus.ENROLLED
    ]
    demo = [p for p in pupils if p.member.key is not None]
    others = [p for p in pupils if p.member.key is None]
    world.rng.shuffle(others)
    return demo + others


def free_teacher(world: World, names: NameMaker, department: Department, period: int) -> Teacher:
    """A generated teacher of the department who has no class in the period, hired if need be."""
    for teacher in world.teachers:
        if teacher.department is department and teacher.member.key is None and period not in teacher.busy:
            return teacher
    joined = _utc(world.rng.randint(2012, 2025), 8, 10, 14) + timedelta(days=world.rng.randint(0, 14))
    member = names.person(Role.TEACHER, world.calendar.moment(joined))
    world.members.append(member)
    return add_teacher(world, member, department)


def plan_past_sections(world: World) -> None:
    """Last spring, each section's students took the course before theirs, from today's teacher of it."""
    by_course = {(section.course.code, section.number): section for section in world.sections}
    for section in list(world.sections):
        previous = next(
            (
                course
                for course in offered_courses(world.spec, section.department)
                if course.grade_level == section.course.grade_level - 1
            ),
            None,
        )
        if previous is None:
            continue
        taught = by_course[(previous.code, section.number)]
        world.past_sections.append(
            Section(
                previous,
                section.department,
                world.calendar.last_term,
                taught.period,
                section.number,
                taught.teacher,
                None,
                section.students,
            )
        )


def plan_links(world: World) -> None:
    """Guardians and mentors look after the school's first demo student; mentors also the three weakest."""
    child = next(pupil for pupil in world.students if pupil.member.key is not None)
    enrolled = [p for p in world.students if p.member.key is None and p.status is StudentStatus.ENROLLED]
    weakest = sorted(enrolled, key=lambda pupil: pupil.ability)[:3]
    for member in world.accounts.values():
        if member.role is Role.GUARDIAN:
            world.guardian_links.append((member, child))
        elif member.role is Role.MENTOR:
            world.mentor_links.extend((member, mentee) for mentee in [child, *weakest])


# ---------------------------------------------------------------------------------------------
# Writing


class Writer:
    """Multi-row inserts on one connection (so in one transaction), counting the rows per table."""

    def __init__(self, connection: AsyncConnection, bar: Any) -> None:
        self.connection = connection
        self.bar = bar
        self.counts: Counter[str] = Counter()

    async def insert(self, model: type[Base], rows: Sequence[Row]) -> None:
        for chunk in self._chunks(model, rows):
            await self.connection.execute(insert(model), chunk)

    async def insert_returning_ids(
        self, model: type[Base], rows: Sequence[Row], key: Sequence[str]
    ) -> list[int]:
        """Inserts the rows and gives their ids in the rows' order.

        A multi-row INSERT ... RETURNING does not promise the order of what it returns (SQLite
        says so), so each row is found again by its `key` columns, unique among `rows`.
        """
        columns = model.__table__.c
        statement = insert(model).returning(columns.id, *(columns[name] for name in key))
        ids: dict[tuple[Any, ...], int] = {}
        for chunk in self._chunks(model, rows):
            result = await self.connection.execute(statement, chunk)
            ids.update((tuple(found[1:]), found[0]) for found in result)
        return [ids[tuple(row[name] for name in key)] for row in rows]

    def _chunks(self, model: type[Base], rows: Sequence[Row]) -> Iterator[Sequence[Row]]:
        self.bar.set_postfix_str(model.__tablename__)
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            yield chunk
            self.bar.update(len(chunk))
        self.counts[model.__tablename__] += len(rows)


class SeedRefused(SystemExit):
    """A seed request the database cannot honour as asked; the message says what to do instead.
    A SystemExit, so that `server.py seed` ends with that one line and a non-zero status."""


@dataclass(frozen=True)
class Seeded:
    """The demo data a database holds: the day it is as of, and its scale."""

    as_of: date
    scale: int


async def seed_demo(
    settings: Settings, *, scale: int | None = None, progress: bool = False, today: date | None = None
) -> str:
    """Writes the demo schools as of `today` (the current UTC date) unless they are there;
    returns a one-line summary of what happened. `scale=None` is the scale already there, or 1.

    Demo data already there is never rewritten, on a later day either: the database may hold
    work done through the API since (grades, sessions, messages, uploads), which a rebuild would
    lose, so a later run only says which day the data is as of and how to seed it afresh. For
    the same reason another `scale` than the one there is not rebuilt in place: it is refused
    (SeedRefused) with the exact steps, rather than answered with "nothing written".
    """
    if scale is not None and scale < 1:
        raise SeedRefused("seed: --scale must be at least 1")
    calendar = Calendar.on(today or datetime.now(UTC).date())
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            seeded = await seeded_demo(connection)
            if seeded is not None:
                return already_seeded(seeded, settings, calendar.today, scale)
            return await write_demo(connection, calendar, scale or 1, progress)
    finally:
        await engine.dispose()


async def write_demo(connection: AsyncConnection, calendar: Calendar, scale: int, progress: bool) -> str:
    password_hash = hash_password(DEMO_PASSWORD)
    show = progress and scale >= PROGRESS_FROM_SCALE
    with tqdm(desc="seeding demo data", unit=" rows", disable=not show) as bar:
        writer = Writer(connection, bar)
        for spec in SCHOOLS:
            await seed_school(writer, plan_school(spec, scale, calendar), password_hash)
    return f"seeded the demo data as of {calendar.today} (scale {scale}): {summarize(writer.counts)}"


async def seeded_demo(connection: AsyncConnection) -> Seeded | None:
    """The demo data in the database, or None when Northside is not there."""
    school_id = await connection.scalar(select(School.id).where(School.slug == NORTHSIDE.slug))
    if school_id is None:
        return None
    detail = await connection.scalar(
        select(AuditEntry.detail)
        .where(AuditEntry.school_id == school_id, AuditEntry.action == SEEDED_ACTION)
        .order_by(AuditEntry.id)
        .limit(1)
    )
    as_of = date.fromisoformat(detail["asOf"]) if detail else LEGACY_AS_OF
    return Seeded(as_of, await seeded_scale(connection, school_id))


async def seeded_scale(connection: AsyncConnection, school_id: int) -> int:
    """The sections of the school's first course in its newest term: its scale (the API adds no
    classes)."""
    newest = (
        select(Term.id)
        .where(Term.school_id == school_id)
        .order_by(Term.starts_on.desc())
        .limit(1)
        .scalar_subquery()
    )
    first_course = NORTHSIDE.departments[0].courses[0].code
    sections = await connection.scalar(
        select(func.count(Class.id))
        .join(Course, Course.id == Class.course_id)
        .where(Class.term_id == newest, Course.code == first_course)
    )
    return int(sections or 0)


def already_seeded(seeded: Seeded, settings: Settings, today: date, scale: int | None) -> str:
    """The summary of a run that finds the demo data there; SeedRefused when it is not as asked."""
    if scale is not None and scale != seeded.scale:
        raise SeedRefused(
            f"seed: the database already holds the demo data at scale {seeded.scale}, not {scale}, "
            f"and it is not rebuilt in place (that would lose what was done in it since). "
            f"For scale {scale}, {fresh_start(settings, scale)}"
        )
    present = f"demo data already present (as of {seeded.as_of}, scale {seeded.scale})"
    age = (today - seeded.as_of).days
    if age == 0:
        return f"{present}; nothing written"
    when = f"{_days(age)} ago" if age > 0 else f"{_days(-age)} ahead of today"
    return (
        f"{present}; nothing written. Its dates are relative to {seeded.as_of}, {when}: what was "
        f"upcoming then may be past now. For data as of today, {fresh_start(settings, seeded.scale)}"
    )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def fresh_start(settings: Settings, scale: int) -> str:
    """How to seed an empty database instead (without DATABASE_URL, which may hold a password)."""
    command = "server.py seed --demo" + (f" --scale {scale}" if scale != 1 else "")
    if settings.is_sqlite:
        path = make_url(settings.database_url).database
        return f"delete {path} and run `{command}` again (it creates the database)."
    return f"point DATABASE_URL at an empty database, run `server.py migrate`, then `{command}`."


def summarize(counts: Counter[str]) -> str:
    return (
        f"{counts['schools']} schools, {counts['student_profiles']:,} students, "
        f"{counts['teacher_profiles']:,} teachers, {counts['classes']:,} classes, "
        f"{counts['enrollments']:,} enrollments, {counts['assignments']:,} assignments, "
        f"{counts['grades']:,} grades, {counts['attendance_records']:,} attendance records, "
        f"{counts['tutoring_sessions']:,} tutoring sessions ({counts.total():,} rows); "
        f"every demo account's password is {DEMO_PASSWORD}"
    )


async def seed_school(db: Writer, world: World, password_hash: str) -> None:
    await create_school(db, world)
    await create_catalog(db, world)
    await create_people(db, world, password_hash)
    await create_links(db, world)
    await create_classes(db, world)
    await create_enrollments(db, world)
    await create_gradebook(db, world)
    await create_attendance(db, world)
    await create_tutoring_sessions(db, world)
    await create_assessments(db, world)
    await create_conversations(db, world)
    await create_ai_activity(db, world)
    await create_notifications(db, world)
    await refresh_school_risk(db.connection, world.school_id, world.calendar.now)
    await record_seed(db, world)


async def record_seed(db: Writer, world: World) -> None:
    """The audit entry that tells a later run (and the school's admins) the day and scale."""
    entry = {
        "school_id": world.school_id,
        "actor_id": None,
        "action": SEEDED_ACTION,
        "subject_type": "School",
        "subject_id": world.school_id,
        "ip": None,
        "at": world.calendar.now,
        "detail": {"asOf": world.calendar.today.isoformat(), "scale": world.scale},
    }
    await db.insert(AuditEntry, [entry])


async def create_school(db: Writer, world: World) -> None:
    spec = world.spec
    row = {
        "name": spec.name,
        "slug": spec.slug,
        "invitation_code": spec.invitation_code,
        "timezone": spec.timezone,
        "grading_scale": DEFAULT_GRADING_SCALE,
        "created_at": world.calendar.moment(spec.onboarded),
    }
    [world.school_id] = await db.insert_returning_ids(School, [row], key=("slug",))


async def create_catalog(db: Writer, world: World) -> None:
    """The terms, the courses and their prerequisites."""
    terms: list[Row] = [
        {"school_id": world.school_id, "name": t.name, "starts_on": t.starts_on, "ends_on": t.ends_on}
        for t in (world.calendar.last_term, world.calendar.term)
    ]
    term_ids = await db.insert_returning_ids(Term, terms, key=("name",))
    world.term_ids = {row["name"]: term_id for row, term_id in zip(terms, term_ids, strict=True)}
    courses = [course for dept in world.spec.departments for course in offered_courses(world.spec, dept)]
    rows = [
        {
            "school_id": world.school_id,
            "code": course.code,
            "title": course.title,
            "credits": course.credits,
            "description": f"Units: {'; '.join(course.topics)}.",
        }
        for course in courses
    ]
    course_ids = await db.insert_returning_ids(Course, rows, key=("code",))
    world.course_ids = {course.code: course_id for course, course_id in zip(courses, course_ids, strict=True)}
    await db.insert(
        CoursePrerequisite,
        [
            {"course_id": world.course_ids[course.code], "prerequisite_id": world.course_ids[required]}
            for course in courses
            for required in course.requires
            if required in world.course_ids
        ],
    )


async def create_people(db: Writer, world: World, password_hash: str) -> None:
    """Users (all with the one demo password hash), then student and teacher profiles."""
    rows = [
        {
            "school_id": world.school_id,
            "email": member.email,
            "name": member.name,
            "password_hash": password_hash,
            "role": member.role,
            "tier": member.tier,
            "is_active": member.active,
            "created_at": member.joined,
        }
        for member in world.members
    ]
    user_ids = await db.insert_returning_ids(User, rows, key=("email",))
    for member, user_id in zip(world.members, user_ids, strict=True):
        member.id = user_id
    await db.insert(
        StudentProfile,
        [
            {
                "user_id": pupil.member.id,
                "school_id": world.school_id,
                "student_number": pupil.number,
                "grade_level": pupil.grade_level,
                "cohort_year": pupil.cohort_year,
                "status": pupil.status,
            }
            for pupil in world.students
        ],
    )
    await db.insert(
        TeacherProfile,
        [
            {
                "user_id": teacher.member.id,
                "school_id": world.school_id,
                "department": teacher.department.name,
                "session_rate_cents": teacher.rate_cents,
                "currency": "USD",
            }
            for teacher in world.teachers
        ],
    )


async def create_links(db: Writer, world: World) -> None:
    linked = world.calendar.moment(_utc(2026, 9, 8, 14))
    await db.insert(
        GuardianLink,
        [
            {"guardian_id": guardian.id, "student_id": child.member.id, "relationship": "mother"}
            for guardian, child in world.guardian_links
        ],
    )
    await db.insert(
        MentorLink,
        [
            {"mentor_id": mentor.id, "student_id": mentee.member.id, "created_at": linked}
            for mentor, mentee in world.mentor_links
        ],
    )


async def create_classes(db: Writer, world: World) -> None:
    """Both terms' classes with their teachers and meeting times; this term's category weights."""
    sections = world.past_sections + world.sections
    rows = [
        {
            "school_id": world.school_id,
            "course_id": world.course_ids[section.course.code],
            "term_id": world.term_ids[section.term.name],
            "title": section.title,
            "room": section.teacher.room,
        }
        for section in sections
    ]
    class_ids = await db.insert_returning_ids(Class, rows, key=("term_id", "title"))
    for section, class_id in zip(sections, class_ids, strict=True):
        section.id = class_id
    await db.insert(
        ClassTeacher,
        [
            {
                "class_id": section.id,
                "teacher_id": teacher.member.id,
                "is_primary": teacher is section.teacher,
            }
            for section in sections
            for teacher in (section.teacher, section.co_teacher)
            if teacher is not None
        ],
    )
    await db.insert(
        MeetingTime,
        [
            {
                "class_id": section.id,
                "weekday": weekday,
                "starts_at": PERIODS[section.period].starts,
                "ends_at": PERIODS[section.period].ends,
            }
            for section in sections
            for weekday in PERIODS[section.period].weekdays
        ],
    )
    await db.insert(
        CategoryWeight,
        [
            {"class_id": section.id, "category": category, "weight": weight}
            for section in world.sections
            for category, weight in section.department.weights.items()
        ],
    )


async def create_enrollments(db: Writer, world: World) -> None:
    """Active enrollments this term; completed ones last term, with their final grades."""
    rng, moment = world.rng, world.calendar.moment
    rows = [
        {
            "class_id": section.id,
            "student_id": pupil.member.id,
            "status": EnrollmentStatus.ACTIVE,
            "enrolled_at": moment(_utc(2026, 8, 24, 14) + timedelta(days=rng.randint(0, 6))),
        }
        for section in world.sections
        for pupil in section.students
    ]
    rows += [
        {
            "class_id": section.id,
            "student_id": pupil.member.id,
            "status": EnrollmentStatus.COMPLETED,
            "enrolled_at": moment(_utc(2026, 1, 5, 14) + timedelta(days=rng.randint(0, 4))),
        }
        for section in world.past_sections
        for pupil in section.students
    ]
    await db.insert(Enrollment, rows)
    graded = moment(_utc(2026, 6, 15, 18))
    await db.insert(
        FinalGrade,
        [
            final_grade(section, pupil, clamp(pupil.ability + rng.gauss(0.0, 0.04)), graded)
            for section in world.past_sections
            for pupil in section.students
        ],
    )


def final_grade(section: Section, pupil: Pupil, share: float, calculated_at: datetime) -> Row:
    percentage = round(share * 100, 1)
    grade = letter_grade(percentage)
    return {
        "class_id": section.id,
        "student_id": pupil.member.id,
        "percentage": percentage,
        "letter": grade.letter,
        "grade_points": grade.points,
        "calculated_at": calculated_at,
    }


def clamp(share: float) -> float:
    return min(1.0, max(0.0, share))


async def create_gradebook(db: Writer, world: World) -> None:
    """Assignments, grades for work that is due (the newest only partly graded), their history."""
    by_section = [coursework(world, section) for section in world.sections]
    works = [work for section_works in by_section for work in section_works]
    now = world.calendar.now
    term_opened = world.local(world.calendar.term.starts_on, time(7))
    rows = [
        {
            "class_id": work.section.id,
            "title": work.title,
            "category": work.category,
            "weight": 1.0,
            "max_score": work.max_score,
            "due_at": work.due_at,
            "created_at": max(term_opened, min(work.due_at, now) - timedelta(days=14)),
        }
        for work in works
    ]
    work_ids = await db.insert_returning_ids(Assignment, rows, key=("class_id", "title"))
    for work, work_id in zip(works, work_ids, strict=True):
        work.id = work_id
    grades: list[Row] = []
    histories: list[list[Row]] = []
    for section_works in by_section:
        due = [work for work in section_works if work.due_at < now]
        for work in due:
            grade_work(world, work, newest=work is due[-1], grades=grades, histories=histories)
        for work in section_works:
            if now <= work.due_at < now + timedelta(days=7):
                for pupil in work.section.students:
                    world.notify(
                        pupil.member,
                        "assignment_due",
                        f"Due soon: {work.title}",
                        f"{work.section.title}, due {local_day(world, work.due_at)}",
                        min(work.due_at - timedelta(days=2), now - timedelta(hours=1)),
                    )
    grade_ids = await db.insert_returning_ids(Grade, grades, key=("assignment_id", "student_id"))
    await db.insert(
        GradeChange,
        [
            {**change, "grade_id": grade_id}
            for grade_id, history in zip(grade_ids, histories, strict=True)
            for change in history
        ],
    )


def coursework(world: World, section: Section) -> list[Work]:
    works: list[Work] = []
    numbers: Counter[AssignmentCategory] = Counter()
    topics = section.course.topics
    for index, (category, due) in enumerate(COURSEWORK):
        numbers[category] += 1
        topic = topics[index * len(topics) // len(COURSEWORK)]
        title = assignment_title(category, numbers[category], topic)
        due_at = world.local(world.calendar.day(due), DUE_TIME)
        works.append(Work(section, title, category, MAX_SCORES[category], due_at))
    return works


def assignment_title(category: AssignmentCategory, number: int, topic: str) -> str:
    if category is EXAM:
        return EXAM_TITLES[number - 1]
    if category is PARTICIPATION:
        return f"Participation, quarter {number}"
    if category is PROJECT:
        return f"Project: {topic}"
    return f"{category.value.title()} {number}: {topic}"


def grade_work(
    world: World, work: Work, *, newest: bool, grades: list[Row], histories: list[list[Row]]
) -> None:
    """Grades one assignment for its class. Four in ten of the newest are still to grade; one in a
    hundred of the rest is missing. Three in a hundred were raised on a second look (version 2)."""
    rng, now = world.rng, world.calendar.now
    section = work.section
    grader = section.co_teacher if section.co_teacher and work.category is QUIZ else section.teacher
    weeks = (work.due_at.date() - section.term.starts_on).days / 7
    ungraded = 0
    for pupil in section.students:
        if rng.random() < (0.4 if newest else 0.01):
            ungraded += 1
            continue
        share = clamp(pupil.ability + pupil.trend * weeks + rng.gauss(0.0, 0.07))
        score = round(work.max_score * share * 2) / 2
        graded_at = min(
            work.due_at + timedelta(days=rng.randint(1, 3), hours=rng.randint(0, 6)),
            now - timedelta(hours=2),
        )
        history = [grade_change(None, score, 1, graded_at, grader)]
        world.notify(
            pupil.member,
            "grade_posted",
            f"New grade in {section.title}",
            f"You scored {score:g}/{work.max_score:g} on {work.title}.",
            graded_at,
        )
        regraded_at = graded_at + timedelta(days=5)
        if score < work.max_score and regraded_at < now and rng.random() < 0.03:
            raised = min(work.max_score, score + round(work.max_score * 0.1))
            history.append(grade_change(score, raised, 2, regraded_at, grader))
            world.notify(
                pupil.member,
                "grade_changed",
                f"Grade changed in {section.title}",
                f"{work.title} was regraded from {score:g} to {raised:g}/{work.max_score:g}.",
                regraded_at,
            )
        last = history[-1]
        grades.append(
            {
                "assignment_id": work.id,
                "student_id": pupil.member.id,
                "score": last["new_score"],
                "version": last["version"],
                "updated_at": last["changed_at"],
                "updated_by_id": grader.member.id,
            }
        )
        histories.append(history)
    if newest and ungraded:
        world.notify(
            section.teacher.member,
            "grading_reminder",
            "Grading reminder",
            f"{ungraded} submissions of {work.title} in {section.title} are waiting for a grade.",
            now - timedelta(hours=20),
        )


def grade_change(old: float | None, new: float, version: int, at: datetime, by: Teacher) -> Row:
    return {
        "old_score": old,
        "new_score": new,
        "version": version,
        "changed_at": at,
        "changed_by_id": by.member.id,
    }


def local_day(world: World, moment: datetime) -> str:
    day = moment.astimezone(world.zone)
    return f"{day:%A, %B} {day.day}"


async def create_attendance(db: Writer, world: World) -> None:
    """One record per student for each meeting of this term's classes before today."""
    guardians = {child: guardian for guardian, child in world.guardian_links}
    calendar = world.calendar
    days = calendar.school_days(calendar.term.starts_on, calendar.today - timedelta(days=1))
    rows: list[Row] = []
    for section in world.sections:
        period = PERIODS[section.period]
        for day in (day for day in days if day.weekday() in period.weekdays):
            starts, ends = world.local(day, period.starts), world.local(day, period.ends)
            for pupil in section.students:
                row = attendance(world.rng, section, pupil, day, (starts, ends))
                rows.append(row)
                guardian = guardians.get(pupil)
                status = row["status"]
                if guardian is not None and status in (AttendanceStatus.ABSENT, AttendanceStatus.LATE):
                    world.notify(
                        guardian,
                        "attendance",
                        f"{pupil.member.first_name} was {status.value.lower()} in {section.title}",
                        f"{local_day(world, starts)}, period {section.period + 1}",
                        starts + timedelta(hours=1),
                    )
    await db.insert(AttendanceRecord, rows)


def attendance(
    rng: random.Random, section: Section, pupil: Pupil, day: date, meeting: tuple[datetime, datetime]
) -> Row:
    """Mostly present; absent, excused and late as often as the student tends to be."""
    starts, ends = meeting
    draw = rng.random()
    check_in: datetime | None = None
    check_out: datetime | None = None
    note = None
    if draw < pupil.absence_rate * 0.7:
        status = AttendanceStatus.ABSENT
    elif draw < pupil.absence_rate:
        status, note = AttendanceStatus.EXCUSED, rng.choice(EXCUSES)
    elif draw < pupil.absence_rate + 0.05:
        status, check_out = AttendanceStatus.LATE, ends
        check_in = starts + timedelta(minutes=rng.randint(5, 20))
    else:
        status, check_out = AttendanceStatus.PRESENT, ends
        check_in = starts - timedelta(minutes=rng.randint(0, 6))
    return {
        "class_id": section.id,
        "student_id": pupil.member.id,
        "date": day,
        "status": status,
        "check_in_at": check_in,
        "check_out_at": check_out,
        "note": note,
        "recorded_by_id": section.teacher.member.id,
        "recorded_at": starts + timedelta(minutes=15),
    }


async def create_tutoring_sessions(db: Writer, world: World) -> None:
    """Each teacher tutors their own students (demo students first) after school: completed
    sessions, paid out monthly (this month's still pending), and upcoming ones. Demo teachers have
    more, among them a no-show and a cancellation, and their last two sessions, on the last school
    days before today, are still to be completed. One deliberate double booking gives
    scheduleConflicts something to show."""
    booked: set[tuple[int, date]] = set()
    rows: list[Row] = []
    for teacher in world.teachers:
        tutees = tutees_of(world, teacher)
        for days, statuses in zip(session_days(world.calendar), session_statuses(teacher), strict=True):
            chosen = sorted(world.rng.sample(days, len(statuses)))
            for index, (day, status) in enumerate(zip(chosen, statuses, strict=True)):
                rotated = tutees[index % len(tutees) :] + tutees
                free = next(((p, s) for p, s in rotated if (p.member.id, day) not in booked), None)
                if free is not None:
                    pupil, section = free
                    booked.add((pupil.member.id, day))
                    rows.append(tutoring_session(world, teacher, pupil, section, day=day, status=status))
    if world.spec.double_booking is not None:
        rows.append(double_booking(world, rows, *world.spec.double_booking))
    people = {member.id: member for member in world.members}
    for row in rows:
        if row["status"] is SessionStatus.SCHEDULED:
            starts = row["starts_at"]
            when = f"{local_day(world, starts)} at {starts.astimezone(world.zone):%H:%M}"
            world.notify(
                people[row["student_id"]],
                "session_scheduled",
                f"Tutoring booked with {people[row['teacher_id']].name}",
                f"{when}, {row['room']}",
                min(starts - timedelta(days=7), world.calendar.now - timedelta(hours=5)),
            )
    await db.insert(TutoringSession, rows)


def session_days(calendar: Calendar) -> tuple[list[date], list[date], list[date]]:
    """The school days of completed sessions, of those still to complete (the last two before
    today) and of upcoming ones (from a week ahead): apart, so no teacher has two on a day."""
    before = calendar.school_days(calendar.day(TUTORING_FROM), calendar.today - timedelta(days=1))
    upcoming = calendar.school_days(calendar.today + timedelta(days=7), calendar.term.ends_on)
    return before[:-SESSIONS_TO_COMPLETE], before[-SESSIONS_TO_COMPLETE:], upcoming


def session_statuses(teacher: Teacher) -> tuple[list[SessionStatus], ...]:
    """The statuses of a teacher's sessions on each kind of `session_days`."""
    if teacher.member.key is None:
        return [SessionStatus.COMPLETED] * 4, [], [SessionStatus.SCHEDULED] * 2
    done = [SessionStatus.COMPLETED] * 12
    coming = [SessionStatus.SCHEDULED] * 5
    done[3], coming[-1] = SessionStatus.NO_SHOW, SessionStatus.CANCELLED
    return done, [SessionStatus.SCHEDULED] * SESSIONS_TO_COMPLETE, coming


def tutees_of(world: World, teacher: Teacher) -> list[tuple[Pupil, Section]]:
    """The demo students of the teacher's classes, then six others, each with the class they share."""
    sections = [section for section in world.sections if section.teacher is teacher]
    pairs = [(pupil, section) for section in sections for pupil in section.students]
    demo = [pair for pair in pairs if pair[0].member.key is not None]
    others = [pair for pair in pairs if pair[0].member.key is None]
    return demo + world.rng.sample(others, min(6, len(others)))


def tutoring_session(
    world: World, teacher: Teacher, pupil: Pupil, section: Section, *, day: date, status: SessionStatus
) -> Row:
    starts, ends = world.local(day, TUTORING_TIME[0]), world.local(day, TUTORING_TIME[1])
    topics = world.rng.sample(taught_by(world.calendar, section.course, day), 2)
    done = status in (SessionStatus.COMPLETED, SessionStatus.NO_SHOW)
    notes = {
        SessionStatus.COMPLETED: world.rng.choice(SESSION_NOTES).format(*topics),
        SessionStatus.NO_SHOW: "The student did not come; we will rebook.",
        SessionStatus.CANCELLED: "Cancelled by the family: travelling that week.",
    }.get(status)
    paid_out_at = next_month(starts) if status is SessionStatus.COMPLETED else None
    return {
        "school_id": world.school_id,
        "teacher_id": teacher.member.id,
        "student_id": pupil.member.id,
        "class_id": section.id,
        "room": teacher.room,
        "starts_at": starts,
        "ends_at": ends,
        "status": status,
        "attended": {SessionStatus.COMPLETED: True, SessionStatus.NO_SHOW: False}.get(status),
        "notes": notes,
        "topics_covered": topics if status is SessionStatus.COMPLETED else [],
        "completed_at": ends + timedelta(minutes=10) if done else None,
        "rate_cents": teacher.rate_cents,
        "currency": "USD",
        "paid_out_at": paid_out_at if paid_out_at and paid_out_at < world.calendar.now else None,
    }


def taught_by(calendar: Calendar, course: CourseSpec, day: date) -> tuple[str, ...]:
    """The course's topics up to the one of the next assignment due after `day` (at least two)."""
    due = [index for index, (_, due_on) in enumerate(COURSEWORK) if calendar.day(due_on) >= day]
    position = due[0] if due else len(COURSEWORK) - 1
    return course.topics[: max(2, position * len(course.topics) // len(COURSEWORK) + 1)]


def next_month(moment: datetime) -> datetime:
    """Payouts run on the first of the month after a session."""
    year, month = divmod(moment.month, 12)
    return _utc(moment.year + year, month + 1, 1, 17)


def double_booking(world: World, rows: list[Row], teacher_key: str, student_key: str) -> Row:
    """Another teacher's session at the same time as the student's first upcoming one."""
    student = world.accounts[student_key]
    first = next(
        r
        for r in rows
        if r["student_id"] == student.id
        and r["status"] is SessionStatus.SCHEDULED
        and r["starts_at"] > world.calendar.now
    )
    teacher = world.account_teacher(teacher_key)
    section = next(
        s for s in world.sections if s.teacher is teacher and any(p.member is student for p in s.students)
    )
    return {
        **first,
        "teacher_id": teacher.member.id,
        "class_id": section.id,
        "room": teacher.room,
        "rate_cents": teacher.rate_cents,
    }


async def create_assessments(db: Writer, world: World) -> None:
    """Each teacher assesses their students' department skills three times; mentors their mentees'
    habits four times, so every skill has a trend."""
    rows = [
        row
        for section in world.sections
        for pupil in section.students
        for skill in section.department.skills
        for row in assessment_series(world, pupil, section.teacher.member, skill, ASSESSMENT_DAYS)
    ]
    rows += [
        row
        for mentor, mentee in world.mentor_links
        for skill in MENTOR_SKILLS
        for row in assessment_series(world, mentee, mentor, skill, MENTOR_ASSESSMENT_DAYS)
    ]
    await db.insert(Assessment, rows)


def assessment_series(
    world: World, pupil: Pupil, assessor: Member, skill: str, template_days: Sequence[date]
) -> list[Row]:
    rng = world.rng
    bias = rng.gauss(0.0, 0.05)
    days = [world.calendar.day(day) for day in template_days]
    rows = []
    for index, day in enumerate(days):
        weeks = (day - world.calendar.term.starts_on).days / 7
        share = clamp(pupil.ability + bias + pupil.trend * weeks + 0.01 * index + rng.gauss(0.0, 0.04))
        level = assessment_level(share)
        rows.append(
            {
                "student_id": pupil.member.id,
                "assessor_id": assessor.id,
                "skill": skill,
                "score": round(10 * share, 1),
                "max_score": 10.0,
                "level": level,
                "notes": ASSESSMENT_NOTES[level] if index == len(days) - 1 else None,
                "assessed_at": world.local(day, time(15, 45)),
            }
        )
    return rows


async def create_conversations(db: Writer, world: World) -> None:
    """The scripted conversations of the demo accounts, and one office-hours question to each
    generated teacher. Messages are written in order, so ids grow with time."""
    threads = [scripted_thread(world, script) for script in world.spec.conversations]
    threads += [office_hours(world, teacher) for teacher in world.teachers if teacher.member.key is None]
    sent = [[t.starts + timedelta(minutes=37 * n) for n in range(len(t.lines))] for t in threads]
    rows = [
        {
            "school_id": world.school_id,
            "title": thread.title,
            "created_by_id": thread.lines[0][0].id,
            "created_at": thread.starts,
            "last_message_at": times[-1],
        }
        for thread, times in zip(threads, sent, strict=True)
    ]
    conversation_ids = await db.insert_returning_ids(Conversation, rows, key=("title", "created_at"))
    await db.insert(
        ConversationParticipant,
        [
            {
                "conversation_id": conversation_id,
                "user_id": member.id,
                "joined_at": thread.starts,
                "last_read_at": times[-2] if member in thread.unread_for else times[-1],
            }
            for thread, times, conversation_id in zip(threads, sent, conversation_ids, strict=True)
            for member in thread.participants
        ],
    )
    await create_messages(db, world, threads, sent, conversation_ids)


async def create_messages(
    db: Writer, world: World, threads: list[Thread], sent: list[list[datetime]], conversation_ids: list[int]
) -> None:
    rows: list[Row] = []
    replies: list[tuple[int, int]] = []  # (row, the row it replies to)
    for thread, times, conversation_id in zip(threads, sent, conversation_ids, strict=True):
        first = len(rows)
        for (author, body, reply_to), at in zip(thread.lines, times, strict=True):
            if reply_to is not None:
                replies.append((len(rows), first + reply_to))
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "author_id": author.id,
                    "body": body,
                    "reply_to_id": None,
                    "sent_at": at,
                }
            )
        for member in thread.unread_for:
            author, body, _ = thread.lines[-1]
            world.notify(member, "message", f"New message from {author.name}", body, times[-1], unread=True)
    ids = await db.insert_returning_ids(Message, rows, key=("conversation_id", "sent_at"))
    statement = (
        update(Message).where(Message.id == bindparam("message_id")).values(reply_to_id=bindparam("reply_id"))
    )
    await db.connection.execute(statement, [{"message_id": ids[n], "reply_id": ids[to]} for n, to in replies])


def scripted_thread(world: World, script: ConversationScript) -> Thread:
    member = world.accounts
    return Thread(
        title=script.title,
        participants=[member[key] for key in script.participants],
        starts=world.calendar.moment(script.starts),
        lines=[(member[line.author], world.scripted(line.body), line.reply_to) for line in script.lines],
        unread_for=[member[key] for key in script.unread_for],
    )


def office_hours(world: World, teacher: Teacher) -> Thread:
    section = next(section for section in world.sections if section.teacher is teacher)
    pupil = section.students[-1].member
    topic = world.rng.choice(section.course.topics[:4])
    starts = world.calendar.now - timedelta(days=world.rng.randint(3, 40), hours=world.rng.randint(0, 8))
    return Thread(
        title=f"{section.title}: question about {topic}",
        participants=[pupil, teacher.member],
        starts=starts,
        lines=[
            (pupil, f"Hi! I'm stuck on the homework about {topic}. Could we go over it after class?", None),
            (teacher.member, f"Of course. Come to {teacher.room} after school and bring your notes.", 0),
            (pupil, "Thank you, see you then!", None),
        ],
        unread_for=[],
    )


async def create_ai_activity(db: Writer, world: World) -> None:
    """The scripted AI-coach chats (with token counts) and generated images."""
    member, moment = world.accounts, world.calendar.moment
    chats = world.spec.ai_chats
    rows = [{"user_id": member[c.account].id, "title": c.title, "created_at": moment(c.at)} for c in chats]
    chat_ids = await db.insert_returning_ids(AiChat, rows, key=("user_id", "created_at"))
    await db.insert(
        AiMessage,
        [
            {
                "chat_id": chat_id,
                "role": AiMessageRole.USER if index % 2 == 0 else AiMessageRole.ASSISTANT,
                "content": turn,
                "tokens": len(turn) // 4 + 1,
                "created_at": moment(chat.at) + timedelta(seconds=45 * index),
            }
            for chat, chat_id in zip(chats, chat_ids, strict=True)
            for index, turn in enumerate(map(world.scripted, chat.turns))
        ],
    )
    await db.insert(
        GeneratedImage,
        [
            {
                "user_id": member[image.account].id,
                "prompt": image.prompt,
                "storage_key": f"generated/{world.spec.slug}/{image.account}-{number}.png",
                "created_at": moment(image.at),
            }
            for number, image in enumerate(world.spec.images, start=1)
        ],
    )


async def create_notifications(db: Writer, world: World) -> None:
    """What the earlier steps told the demo accounts, oldest first (so ids grow with time)."""
    rows = sorted(world.notifications, key=lambda row: (row["created_at"], row["user_id"]))
    await db.insert(Notification, rows)
