"""The two demo schools as specified, Northside High and Riverside Academy: each `SchoolSpec` names
the school's departments and grade levels, its demo accounts, the classes its demo teachers teach
(FeaturedClass), the shares of students not in classes, and the scripts of its demo accounts'
conversations, AI-coach chats and generated images.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from models.enums import Role, StudentStatus, Tier
from seed.calendar import utc
from seed.catalog import ENGLISH, MATHEMATICS, SCIENCE, SOCIAL_STUDIES, Department


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


NORTHSIDE = SchoolSpec(
    name="Northside High",
    slug="northside",
    invitation_code="NORTHSIDE-JOIN",
    timezone="America/New_York",
    onboarded=utc(2024, 6, 3, 14),
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
            utc(2026, 11, 16, 21, 5),
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
            utc(2026, 11, 19, 23, 10),
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
            utc(2026, 11, 18, 20, 0),
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
            utc(2026, 11, 20, 1, 30),
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
            utc(2026, 11, 21, 15, 40),
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
            utc(2026, 11, 2, 23, 15),
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
            utc(2026, 11, 18, 0, 40),
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
            utc(2026, 10, 20, 22, 0),
            (
                "How do I balance C3H8 + O2 -> CO2 + H2O?",
                "Balance carbon first (3 CO2), then hydrogen (4 H2O), then oxygen: 3 x 2 + 4 = 10 oxygen "
                "atoms, so 5 O2. The result is C3H8 + 5 O2 -> 3 CO2 + 4 H2O.",
            ),
        ),
        AiChatScript(
            "premium",
            "Logarithm practice",
            utc(2026, 11, 12, 23, 30),
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
            utc(2026, 11, 20, 0, 5),
            (
                "I want to write my college essay about volunteering at the food bank. Where do I start?",
                "Start with one specific moment that changed how you saw the work, then explain what you "
                "learned and how it shapes what you want to do next.",
            ),
        ),
        AiChatScript(
            "teacher",
            "Quiz ideas: trigonometric identities",
            utc(2026, 11, 10, 1, 0),
            (
                "Suggest five quiz questions on trigonometric identities for eleventh graders.",
                "1. Prove tan(x) cos(x) = sin(x). 2. Simplify (1 - cos^2 x) / sin x. 3. Prove sec^2 x - "
                "tan^2 x = 1. 4. Simplify sin x cot x. 5. Verify (sin x + cos x)^2 = 1 + 2 sin x cos x.",
            ),
        ),
        AiChatScript(
            "teacher",
            "Parent e-mail draft",
            utc(2026, 11, 19, 22, 45),
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
            utc(2026, 10, 21, 0, 10),
        ),
        ImageScript(
            "premium",
            "Graphs of y = log2(x) and y = 2^x mirrored across the line y = x",
            utc(2026, 11, 12, 23, 50),
        ),
        ImageScript(
            "teacher", "A unit circle poster with angles in degrees and radians", utc(2026, 11, 2, 1, 20)
        ),
        ImageScript(
            "teacher", "A cartoon triangle studying for a trigonometry test", utc(2026, 11, 10, 1, 30)
        ),
    ),
    double_booking=("teacher2", "student"),
)
RIVERSIDE = SchoolSpec(
    name="Riverside Academy",
    slug="riverside",
    invitation_code="RIVERSIDE-JOIN",
    timezone="America/Chicago",
    onboarded=utc(2025, 6, 2, 15),
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
            utc(2026, 11, 17, 22, 20),
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
            utc(2026, 11, 15, 23, 0),
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
