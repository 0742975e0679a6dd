"""The demo seed (seed.py): its accounts and how they hang together, idempotency, determinism, scale.

Plain synchronous tests on throwaway SQLite files; the seeded database is read with sqlite3.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from migrations.runner import upgrade_to_head
from resolvers.passwords import verify_password
from seed import seed_demo

# Written by the API at run time, not by the seed.
RUNTIME_TABLES = {
    "alembic_version",
    "attachments",
    "audit_log",
    "dashboard_actions",
    "notification_outbox",
    "refresh_tokens",
}


@dataclass
class Seeded:
    db: sqlite3.Connection
    path: Path
    first_summary: str
    second_summary: str
    counts_after_first: dict[str, int]
    counts_after_second: dict[str, int]


def migrated(path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{path}", environment="test")
    upgrade_to_head(settings)
    return settings


def table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    path = tmp_path_factory.mktemp("seed") / "t.db"
    settings = migrated(path)
    first = asyncio.run(seed_demo(settings))
    after_first = table_counts(path)
    second = asyncio.run(seed_demo(settings))
    db = sqlite3.connect(path)
    yield Seeded(db, path, first, second, after_first, table_counts(path))
    db.close()


def scalar(db: sqlite3.Connection, sql: str, *params: Any) -> Any:
    return db.execute(sql, params).fetchone()[0]


def user_id(db: sqlite3.Connection, email: str) -> int:
    return int(scalar(db, "SELECT id FROM users WHERE email = ?", email))


def fall_classes_taught(db: sqlite3.Connection, email: str, *, primary: bool | None = None) -> set[int]:
    rows = db.execute(
        """SELECT c.id FROM classes c JOIN terms t ON t.id = c.term_id
           JOIN class_teachers ct ON ct.class_id = c.id
           WHERE t.name = 'Fall 2026' AND ct.teacher_id = ? AND (? IS NULL OR ct.is_primary = ?)""",
        (user_id(db, email), primary, primary),
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
    own = fall_classes_taught(db, "teacher@northside.test", primary=True)
    assert len(own) >= 2
    for class_id in own:
        assert scalar(db, "SELECT count(*) FROM assignments WHERE class_id = ?", class_id)
        assert scalar(
            db,
            "SELECT count(*) FROM grades g JOIN assignments a ON a.id = g.assignment_id WHERE a.class_id = ?",
            class_id,
        )
        assert scalar(db, "SELECT count(*) FROM attendance_records WHERE class_id = ?", class_id)
    shared = fall_classes_taught(db, "teacher@northside.test") & fall_classes_taught(
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
    with_teacher = enrolled & fall_classes_taught(db, "teacher@northside.test")
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
            """SELECT count(e.id) FROM classes c JOIN terms t ON t.id = c.term_id
               LEFT JOIN enrollments e ON e.class_id = c.id WHERE t.name = 'Fall 2026' GROUP BY c.id"""
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
        "SELECT count(*) FROM grades g JOIN assignments a ON a.id = g.assignment_id "
        "WHERE a.due_at > '2026-11-23 17:00'",
    )
    pending = scalar(
        db,
        """SELECT count(*) FROM assignments a WHERE a.due_at < '2026-11-23 17:00'
           AND (SELECT count(*) FROM grades g WHERE g.assignment_id = a.id)
             < (SELECT count(*) FROM enrollments e WHERE e.class_id = a.class_id)""",
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
    assert "students" in seeded.first_summary
    assert "already" in seeded.second_summary
    assert seeded.counts_after_second == seeded.counts_after_first


def test_the_seed_is_deterministic(seeded: Seeded, tmp_path: Path) -> None:
    """A fresh database gets the very same rows; only the (salted) password hash differs."""
    path = tmp_path / "again.db"
    asyncio.run(seed_demo(migrated(path)))

    def dump(path: Path) -> list[str]:
        with sqlite3.connect(path) as db:
            return [re.sub(r"\$argon2[^']*", "HASH", line) for line in db.iterdump()]

    assert dump(path) == dump(seeded.path)


def test_scale_multiplies_students_and_classes(seeded: Seeded, tmp_path: Path) -> None:
    path = tmp_path / "scale2.db"
    asyncio.run(seed_demo(migrated(path), scale=2))
    double = table_counts(path)
    single = seeded.counts_after_first
    for table in ("student_profiles", "classes", "enrollments"):
        assert 1.9 <= double[table] / single[table] <= 2.1, table
