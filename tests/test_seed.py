"""The demo seed (the seed package): its accounts and how they hang together, idempotency,
determinism, scale, and data relative to the seeding day.

Plain synchronous tests on throwaway SQLite files; the seeded database is read with sqlite3.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Date, DateTime

import models
from auth.passwords import verify_password
from config import Settings
from context import build_state, close_state
from migrations.runner import upgrade_to_head
from resolvers.teacher_dashboard import assemble
from seed import SeedRefused, seed_demo
from tests.conftest import ROOT
from tests.runtime_tables import RUNTIME_TABLES

# The columns whose values may lie after the seeding day: what is upcoming.
UPCOMING = {
    ("assignments", "due_at"),
    ("grading_periods", "starts_on"),
    ("grading_periods", "ends_on"),
    ("terms", "ends_on"),
    ("tutoring_sessions", "starts_at"),
    ("tutoring_sessions", "ends_at"),
}


@dataclass
class Seeded:
    db: sqlite3.Connection
    path: Path
    as_of: date
    first_summary: str
    second_summary: str
    counts_after_first: dict[str, int]
    counts_after_second: dict[str, int]

    @property
    def cutoff(self) -> str:
        """The seeding day's first moment, as SQLite stores times."""
        return f"{self.as_of} 00:00:00"


def migrated(path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{path}", environment="test")
    upgrade_to_head(settings)
    return settings


def table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def utc_today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """Seeded as of today: the day the seed picks when it is given none."""
    path = tmp_path_factory.mktemp("seed") / "t.db"
    settings = migrated(path)
    today = utc_today()
    first = asyncio.run(seed_demo(settings))
    after_first = table_counts(path)
    second = asyncio.run(seed_demo(settings))
    db = sqlite3.connect(path)
    as_of = date.fromisoformat(scalar(db, "SELECT json_extract(detail, '$.asOf') FROM audit_log"))
    assert as_of in (today, utc_today())  # the UTC day, even if midnight passed meanwhile
    yield Seeded(db, path, as_of, first, second, after_first, table_counts(path))
    db.close()


def scalar(db: sqlite3.Connection, sql: str, *params: Any) -> Any:
    return db.execute(sql, params).fetchone()[0]


def user_id(db: sqlite3.Connection, email: str) -> int:
    return int(scalar(db, "SELECT id FROM users WHERE email = ?", email))


def current_term(db: sqlite3.Connection, school: str = "northside") -> int:
    """The school's newest term: the one that holds the seeding day."""
    return int(
        scalar(
            db,
            "SELECT t.id FROM terms t JOIN schools s ON s.id = t.school_id WHERE s.slug = ? "
            "ORDER BY t.starts_on DESC LIMIT 1",
            school,
        )
    )


def current_classes_taught(db: sqlite3.Connection, email: str, *, primary: bool | None = None) -> set[int]:
    rows = db.execute(
        """SELECT c.id FROM classes c JOIN class_teachers ct ON ct.class_id = c.id
           WHERE c.term_id = ? AND ct.teacher_id = ? AND (? IS NULL OR ct.is_primary = ?)""",
        (current_term(db), user_id(db, email), primary, primary),
    )
    return {class_id for (class_id,) in rows}


def test_the_demo_accounts_have_their_roles_and_tiers(seeded: Seeded) -> None:
    expected = {
        "admin@northside.test": ("ADMIN", "FREE"),
        "staff@northside.test": ("STAFF", "FREE"),
        "teacher@northside.test": ("TEACHER", "FREE"),
        "teacher2@northside.test": ("TEACHER", "FREE"),
        "mentor@northside.test": ("MENTOR", "FREE"),
        "student@northside.test": ("STUDENT", "FREE"),
        "premium@northside.test": ("STUDENT", "PREMIUM"),
        "guardian@northside.test": ("GUARDIAN", "FREE"),
        "teacher@riverside.test": ("TEACHER", "FREE"),
        "staff@riverside.test": ("STAFF", "FREE"),
        "student@riverside.test": ("STUDENT", "FREE"),
    }
    found = {
        email: (role, tier)
        for email, role, tier in seeded.db.execute(
            f"SELECT email, role, tier FROM users WHERE email IN ({','.join('?' * len(expected))})",
            tuple(expected),
        )
    }
    assert found == expected
    profiles = {
        "teacher_profiles": ("teacher@northside.test", "teacher2@northside.test", "teacher@riverside.test"),
        "student_profiles": ("student@northside.test", "premium@northside.test", "student@riverside.test"),
    }
    for table, emails in profiles.items():
        for email in emails:
            user = user_id(seeded.db, email)
            found = scalar(seeded.db, f"SELECT count(*) FROM {table} WHERE user_id = ?", user)
            assert found == 1, (table, email)


def test_every_account_has_the_demo_password(seeded: Seeded) -> None:
    hashes = [h for (h,) in seeded.db.execute("SELECT DISTINCT password_hash FROM users")]
    assert len(hashes) == 1
    assert verify_password(hashes[0], "campus-demo")


def test_the_two_schools_and_their_invitation_codes(seeded: Seeded) -> None:
    schools = set(seeded.db.execute("SELECT name, slug, invitation_code FROM schools"))
    assert schools == {
        ("Northside High", "northside", "NORTHSIDE-JOIN"),
        ("Riverside Academy", "riverside", "RIVERSIDE-JOIN"),
    }


def test_teacher_teaches_two_classes_and_co_teaches_with_teacher2(seeded: Seeded) -> None:
    db = seeded.db
    own = current_classes_taught(db, "teacher@northside.test", primary=True)
    assert len(own) >= 2
    for class_id in own:
        assert scalar(db, "SELECT count(*) FROM assignments WHERE class_id = ?", class_id)
        assert scalar(
            db,
            "SELECT count(*) FROM grades g JOIN assignments a ON a.id = g.assignment_id WHERE a.class_id = ?",
            class_id,
        )
        assert scalar(db, "SELECT count(*) FROM attendance_records WHERE class_id = ?", class_id)
    shared = current_classes_taught(db, "teacher@northside.test") & current_classes_taught(
        db, "teacher2@northside.test"
    )
    assert shared
    for class_id in shared:
        primaries = [
            p for (p,) in db.execute("SELECT is_primary FROM class_teachers WHERE class_id = ?", (class_id,))
        ]
        assert sorted(primaries) == [0, 1]


def test_the_demo_student_is_in_teachers_classes_with_grades_and_attendance(seeded: Seeded) -> None:
    db = seeded.db
    student = user_id(db, "student@northside.test")
    enrolled = {
        c
        for (c,) in db.execute(
            "SELECT class_id FROM enrollments WHERE student_id = ? AND status = 'ACTIVE'", (student,)
        )
    }
    with_teacher = enrolled & current_classes_taught(db, "teacher@northside.test")
    assert len(with_teacher) >= 2
    for class_id in with_teacher:
        assert (
            scalar(
                db,
                "SELECT count(*) FROM grades g JOIN assignments a ON a.id = g.assignment_id "
                "WHERE a.class_id = ? AND g.student_id = ?",
                class_id,
                student,
            )
            >= 5
        )
        assert (
            scalar(
                db,
                "SELECT count(*) FROM attendance_records WHERE class_id = ? AND student_id = ?",
                class_id,
                student,
            )
            >= 10
        )
    assert scalar(db, "SELECT count(*) FROM final_grades WHERE student_id = ?", student) >= 1


def test_classes_have_about_thirty_students(seeded: Seeded) -> None:
    sizes = [
        n
        for (n,) in seeded.db.execute(
            """SELECT count(e.id) FROM classes c LEFT JOIN enrollments e ON e.class_id = c.id
               WHERE c.term_id = ? GROUP BY c.id""",
            (current_term(seeded.db),),
        )
    ]
    assert len(sizes) >= 8
    assert all(25 <= n <= 35 for n in sizes)


def test_mentor_and_guardian_look_after_the_demo_student(seeded: Seeded) -> None:
    db = seeded.db
    student = user_id(db, "student@northside.test")
    assert (
        scalar(
            db,
            "SELECT count(*) FROM mentor_links WHERE mentor_id = ? AND student_id = ?",
            user_id(db, "mentor@northside.test"),
            student,
        )
        == 1
    )
    assert (
        scalar(
            db,
            "SELECT count(*) FROM guardian_links WHERE guardian_id = ? AND student_id = ?",
            user_id(db, "guardian@northside.test"),
            student,
        )
        == 1
    )


def test_the_gradebook_hangs_together(seeded: Seeded) -> None:
    db = seeded.db
    weights = "SELECT class_id FROM category_weights GROUP BY class_id HAVING sum(weight) != 100"
    assert not db.execute(weights).fetchall()
    # Nothing due in the future is graded, and some work that is due is not graded yet.
    assert not scalar(
        db,
        "SELECT count(*) FROM grades g JOIN assignments a ON a.id = g.assignment_id WHERE a.due_at > ?",
        seeded.cutoff,
    )
    pending = scalar(
        db,
        """SELECT count(*) FROM assignments a WHERE a.due_at < ?
           AND (SELECT count(*) FROM grades g WHERE g.assignment_id = a.id)
             < (SELECT count(*) FROM enrollments e WHERE e.class_id = a.class_id)""",
        seeded.cutoff,
    )
    assert pending > 0
    # Each grade has one history row per version, and some were changed.
    assert not db.execute(
        "SELECT g.id FROM grades g LEFT JOIN grade_changes gc ON gc.grade_id = g.id "
        "GROUP BY g.id HAVING count(gc.id) != max(g.version)"
    ).fetchall()
    assert scalar(db, "SELECT count(*) FROM grades WHERE version = 2")


def test_nobody_is_in_two_classes_at_once(seeded: Seeded) -> None:
    slots = """SELECT {who}, c.term_id, m.weekday, m.starts_at FROM classes c
               JOIN meeting_times m ON m.class_id = c.id JOIN {link} x ON x.class_id = c.id
               GROUP BY 1, 2, 3, 4 HAVING count(*) > 1"""
    assert not seeded.db.execute(slots.format(who="x.teacher_id", link="class_teachers")).fetchall()
    assert not seeded.db.execute(slots.format(who="x.student_id", link="enrollments")).fetchall()


def test_sessions_chats_and_notifications_have_past_and_upcoming_data(seeded: Seeded) -> None:
    db = seeded.db
    statuses = dict(db.execute("SELECT status, count(*) FROM tutoring_sessions GROUP BY status").fetchall())
    assert statuses.keys() >= {"COMPLETED", "SCHEDULED", "CANCELLED"}
    assert not scalar(
        db,
        "SELECT count(*) FROM tutoring_sessions WHERE status = 'COMPLETED' "
        "AND (completed_at IS NULL OR notes IS NULL OR rate_cents = 0)",
    )
    assert scalar(db, "SELECT count(*) FROM messages WHERE reply_to_id IS NOT NULL")
    student = user_id(db, "student@northside.test")
    read = dict(
        db.execute(
            "SELECT read_at IS NULL, count(*) FROM notifications WHERE user_id = ? GROUP BY 1", (student,)
        ).fetchall()
    )
    assert read.get(0)  # some read
    assert read.get(1)  # some unread
    assert scalar(db, "SELECT count(*) FROM ai_chats WHERE user_id = ?", student)


def test_every_table_the_clients_read_has_rows(seeded: Seeded) -> None:
    empty = {table for table, count in seeded.counts_after_first.items() if count == 0}
    assert empty <= RUNTIME_TABLES


def test_a_second_run_writes_nothing(seeded: Seeded) -> None:
    assert seeded.first_summary.startswith(f"seeded the demo data as of {seeded.as_of} (scale 1): ")
    assert "students" in seeded.first_summary
    assert seeded.second_summary == (
        f"demo data already present (as of {seeded.as_of}, scale 1); nothing written"
    )
    assert seeded.counts_after_second == seeded.counts_after_first


def test_a_run_on_a_later_day_rewrites_nothing_and_says_the_datas_day(seeded: Seeded) -> None:
    settings = Settings(database_url=f"sqlite:///{seeded.path}", environment="test")
    later = asyncio.run(seed_demo(settings, today=seeded.as_of + timedelta(days=30)))
    assert later.startswith(f"demo data already present (as of {seeded.as_of}, scale 1); nothing written.")
    assert f"relative to {seeded.as_of}, 30 days ago" in later
    assert f"delete {seeded.path} and run `server.py seed --demo` again" in later
    assert table_counts(seeded.path) == seeded.counts_after_first


def test_the_seed_is_deterministic(seeded: Seeded, tmp_path: Path) -> None:
    """A fresh database seeded as of the same day gets the very same rows; only the (salted)
    password hash differs. (Rows only: the order of constraints in a table that a migration
    rebuilt on SQLite is not the same from one migration run to the next.)"""
    path = tmp_path / "again.db"
    asyncio.run(seed_demo(migrated(path), today=seeded.as_of))

    def dump(path: Path) -> list[str]:
        with sqlite3.connect(path) as db:
            rows = [line for line in db.iterdump() if line.startswith("INSERT")]
            return [re.sub(r"\$argon2[^']*", "HASH", line) for line in rows]

    assert dump(path) == dump(seeded.path)


def test_scale_multiplies_students_and_classes(seeded: Seeded, tmp_path: Path) -> None:
    path = tmp_path / "scale2.db"
    settings = migrated(path)
    asyncio.run(seed_demo(settings, scale=2, today=seeded.as_of))
    double = table_counts(path)
    single = seeded.counts_after_first
    for table in ("student_profiles", "classes", "enrollments"):
        assert 1.9 <= double[table] / single[table] <= 2.1, table
    # Without a scale, a later run takes the one there.
    again = asyncio.run(seed_demo(settings, today=seeded.as_of))
    assert again == f"demo data already present (as of {seeded.as_of}, scale 2); nothing written"


def test_another_scale_is_refused_with_the_steps_to_get_it(seeded: Seeded) -> None:
    settings = Settings(database_url=f"sqlite:///{seeded.path}", environment="test")
    with pytest.raises(SeedRefused) as refused:
        asyncio.run(seed_demo(settings, scale=3, today=seeded.as_of))
    message = str(refused.value)
    assert message.startswith("seed: the database already holds the demo data at scale 1, not 3")
    assert f"For scale 3, delete {seeded.path} and run `server.py seed --demo --scale 3` again" in message
    assert "nothing written" not in message
    assert table_counts(seeded.path) == seeded.counts_after_first
    with pytest.raises(SeedRefused, match="at least 1"):
        asyncio.run(seed_demo(settings, scale=0))


def test_the_command_line_refuses_another_scale_in_one_line(seeded: Seeded) -> None:
    done = subprocess.run(
        [sys.executable, "server.py", "seed", "--demo", "--scale", "2"],
        cwd=ROOT,
        env={"PATH": "", "DATABASE_URL": f"sqlite:///{seeded.path}", "ENVIRONMENT": "test"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("seed: the database already holds the demo data at scale 1, not 2")
    assert done.stderr.count("\n") == 1  # one line, no traceback


def test_data_seeded_before_the_day_was_recorded_is_taken_as_of_the_old_fixed_day(
    seeded: Seeded, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    shutil.copyfile(seeded.path, path)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM audit_log")
    settings = Settings(database_url=f"sqlite:///{path}", environment="test")
    summary = asyncio.run(seed_demo(settings, today=date(2026, 11, 23)))
    assert summary == "demo data already present (as of 2026-11-23, scale 1); nothing written"


@pytest.mark.parametrize(
    ("day", "term"),
    [
        (date(2026, 11, 23), "Fall 2026"),  # the template's own day
        (date(2026, 12, 6), "Fall 2026"),  # a Sunday
        (date(2027, 2, 15), "Spring 2027"),
        (date(2026, 8, 1), "Summer 2026"),
    ],
)
def test_the_data_is_relative_to_the_seeding_day(tmp_path: Path, day: date, term: str) -> None:
    path = tmp_path / "as-of.db"
    settings = migrated(path)
    asyncio.run(seed_demo(settings, today=day))
    with sqlite3.connect(path) as db:
        assert_alive_on(db, day)
        assert scalar(db, "SELECT name FROM terms WHERE id = ?", current_term(db)) == term
    asyncio.run(assert_the_teacher_dashboard_is_alive(settings, day))


def test_the_data_seeded_today_is_relative_to_today(seeded: Seeded) -> None:
    assert_alive_on(seeded.db, seeded.as_of)


def assert_alive_on(db: sqlite3.Connection, day: date) -> None:
    """The current term holds `day`, the last term ended before it; past work is graded and
    attended, and the only things after it are what is upcoming."""
    cutoff = f"{day} 00:00:00"
    for school in ("northside", "riverside"):
        starts, ends = db.execute(
            "SELECT starts_on, ends_on FROM terms WHERE id = ?", (current_term(db, school),)
        ).fetchone()
        assert starts < day.isoformat() < ends, school
        last_ended = scalar(
            db,
            "SELECT max(t.ends_on) FROM terms t JOIN schools s ON s.id = t.school_id "
            "WHERE s.slug = ? AND t.ends_on < ?",
            school,
            day.isoformat(),
        )
        assert last_ended is not None, school
    teacher = user_id(db, "teacher@northside.test")
    scheduled = "SELECT count(*) FROM tutoring_sessions WHERE teacher_id = ? AND status = 'SCHEDULED' AND "
    assert scalar(db, scheduled + "starts_at > ?", teacher, cutoff) >= 2  # upcoming
    assert scalar(db, scheduled + "ends_at < ?", teacher, cutoff) >= 2  # to be completed
    completed = "SELECT count(*) FROM tutoring_sessions WHERE teacher_id = ? AND status = 'COMPLETED' AND "
    assert scalar(db, completed + "completed_at < ?", teacher, cutoff) >= 2
    graded = "SELECT count(*) FROM assignments a JOIN grades g ON g.assignment_id = a.id WHERE a.due_at < ?"
    assert scalar(db, graded, cutoff)
    assert scalar(db, "SELECT count(*) FROM assignments WHERE due_at > ?", cutoff)  # upcoming
    last_attended = scalar(db, "SELECT max(date) FROM attendance_records")
    assert day - timedelta(days=7) < date.fromisoformat(last_attended) < day
    student = user_id(db, "student@northside.test")
    unread = "SELECT count(*) FROM notifications WHERE user_id = ? AND read_at IS NULL AND created_at > ?"
    assert scalar(db, unread, student, f"{day - timedelta(days=7)} 00:00:00")
    for table in models.Base.metadata.sorted_tables:
        for column in table.columns:
            if (table.name, column.name) in UPCOMING or not isinstance(column.type, Date | DateTime):
                continue
            bound = day.isoformat() if isinstance(column.type, Date) else cutoff
            later = scalar(db, f'SELECT count(*) FROM "{table.name}" WHERE "{column.name}" > ?', bound)
            assert not later, f"{table.name}.{column.name} after {day}"


async def assert_the_teacher_dashboard_is_alive(settings: Settings, day: date) -> None:
    """What the teacher dashboard shows during the seeding day: this term's classes (not last
    term's), upcoming sessions, recent ones and work to grade."""
    state = build_state(settings)
    try:
        now = datetime.combine(day, time(15), tzinfo=UTC)
        with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
            teacher = user_id(db, "teacher@northside.test")
            this_term = current_classes_taught(db, "teacher@northside.test")
        dashboard = await assemble(state, teacher, now)
    finally:
        await close_state(state)
    assert {klass.id for klass in dashboard.classes} == this_term
    assert dashboard.upcoming_sessions
    assert all(s.starts_at > now for s in dashboard.upcoming_sessions)
    assert dashboard.recent_sessions
    assert dashboard.pending_grading
