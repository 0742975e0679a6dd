"""Students: one by id, search with filters, facets and keyset pages, the at-risk list, cohorts.

Search matches every word of the query as a case-insensitive substring of the name, the
email or the student number, or, for words of five letters or more, a word of the name or the
email one typo away (resolvers/text_search.py: the same pages on SQLite and PostgreSQL). Exact
matches come first, then the others by closeness, each in the order asked for. Pages are keyset
pages on (closeness, sort value, id): inserts between two pages never repeat or skip a student.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, tuple_, update
from sqlalchemy.sql import Subquery
from starlette.datastructures import UploadFile

from errors import BadInput, Forbidden, Problem
from loaders.academics import academic_records
from models import (
    ClassTeacher,
    Enrollment,
    FinalGrade,
    GuardianLink,
    MentorLink,
    StudentProfile,
    StudentRisk,
    User,
)
from models.enums import EnrollmentStatus, NotificationCategory, RiskLevel, Role, StudentStatus
from resolvers import audit, text_search
from resolvers.ids import decode_id_of
from resolvers.notifications import add_notifications, announce
from resolvers.pagination import cursor_key, decode_cursor, encode_cursor, page_size
from resolvers.photos import PhotoRejected, normalize_photo, read_upload_limited
from resolvers.policy import (
    NOT_VISIBLE,
    SCHOOL_WIDE_ROLES,
    Relation,
    relation_to_student,
    require_role,
    require_student_visible,
    require_user,
)
from resolvers.text_search import Ranked
from stores.media import MediaStore

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

AnySelect = Select[*tuple[Any, ...]]
# What a search looks in (typos are forgiven in the first two, not in student numbers).
SEARCHED = (User.name, User.email, StudentProfile.student_number)


@dataclass
class StudentFilter:
    statuses: list[StudentStatus] | None = None
    grade_levels: list[int] | None = None
    risk_levels: list[RiskLevel] | None = None
    class_id: int | None = None
    cohort_year: int | None = None


@dataclass
class StudentOrder:
    field: str = "NAME"  # NAME | STUDENT_NUMBER | RISK_SCORE
    descending: bool = False


@dataclass
class StudentRow:
    user: User
    profile: StudentProfile
    risk_level: RiskLevel


@dataclass
class SearchResult:
    rows: list[StudentRow]
    cursors: list[str]
    total_count: int
    has_next_page: bool
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


RISK_LEVEL = func.coalesce(StudentRisk.risk_level, literal(RiskLevel.LOW.value))
RISK_SCORE = func.coalesce(StudentRisk.risk_score, 0.0)


async def get_student(ctx: Context, global_id: str) -> tuple[User, StudentProfile, Relation]:
    """A student the caller may see; reads by anyone but the student are audited."""
    student_id = decode_id_of(global_id, "Student")
    profile = await ctx.loaders.student_profile_by_user_id.load(student_id)
    relation = await require_student_visible(ctx, student_id, profile.school_id if profile else None)
    assert profile is not None
    if relation is not Relation.SELF:
        audit.note_read(ctx, "Student", student_id)
    return await ctx.loaders.user_by_id.load_existing(student_id), profile, relation


def scope_condition(user: CurrentUser) -> ColumnElement[bool] | None:
    """Which students of the school the caller may list: None means all of them."""
    if user.role in SCHOOL_WIDE_ROLES:
        return None
    if user.role == Role.TEACHER:
        taught = (
            select(Enrollment.student_id)
            .join(ClassTeacher, ClassTeacher.class_id == Enrollment.class_id)
            .where(ClassTeacher.teacher_id == user.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        )
        return StudentProfile.user_id.in_(taught)
    if user.role == Role.MENTOR:
        return StudentProfile.user_id.in_(
            select(MentorLink.student_id).where(MentorLink.mentor_id == user.id)
        )
    if user.role == Role.GUARDIAN:
        return StudentProfile.user_id.in_(
            select(GuardianLink.student_id).where(GuardianLink.guardian_id == user.id)
        )
    raise Forbidden("Students cannot list other students.")


def _profile_status(students: Subquery) -> ColumnElement[StudentStatus]:
    """The student status column of a subquery of `filtered_students` (users have a status too)."""
    column = students.corresponding_column(StudentProfile.__table__.c.status)
    assert column is not None
    return column


def filtered_students(ctx: Context, text: str | None, student_filter: StudentFilter) -> AnySelect:
    user = require_user(ctx)
    query: AnySelect = (
        select(User, StudentProfile, RISK_LEVEL.label("risk_level"))
        .join(StudentProfile, StudentProfile.user_id == User.id)
        .outerjoin(StudentRisk, StudentRisk.student_id == User.id)
        .where(StudentProfile.school_id == user.school_id)
    )
    scope = scope_condition(user)
    if scope is not None:
        query = query.where(scope)
    words = text_search.search_words(text)
    if words:
        query = query.where(text_search.candidates(words, exact=SEARCHED, fuzzy=SEARCHED[:2]))
    f = student_filter
    if f.statuses:
        query = query.where(StudentProfile.status.in_(f.statuses))
    if f.grade_levels:
        query = query.where(StudentProfile.grade_level.in_(f.grade_levels))
    if f.risk_levels:
        query = query.where(RISK_LEVEL.in_([level.value for level in f.risk_levels]))
    if f.cohort_year is not None:
        query = query.where(StudentProfile.cohort_year == f.cohort_year)
    if f.class_id is not None:
        enrolled = select(Enrollment.student_id).where(
            Enrollment.class_id == f.class_id, Enrollment.status == EnrollmentStatus.ACTIVE
        )
        query = query.where(StudentProfile.user_id.in_(enrolled))
    return query


def _sort_column(ctx: Context, order: StudentOrder) -> ColumnElement[Any]:
    if order.field == "RISK_SCORE":
        return RISK_SCORE
    column = func.lower(User.name) if order.field == "NAME" else func.lower(StudentProfile.student_number)
    # Byte order on both databases, so that SQLite and PostgreSQL page identically.
    return column if ctx.settings.is_sqlite else column.collate("C")


async def search(
    ctx: Context,
    *,
    text: str | None,
    student_filter: StudentFilter,
    order: StudentOrder,
    first: int | None,
    after: str | None,
) -> SearchResult:
    limit = page_size(first, ctx.settings.max_page_size)
    base = filtered_students(ctx, text, student_filter)
    words = text_search.search_words(text)
    if text_search.is_fuzzy(words):
        return await _closest(ctx, base, words, order, limit, after)
    sort = _sort_column(ctx, order)
    page_query = base.add_columns(sort.label("sort_value"))
    if after is not None:
        sort_value, last_id = _decode_search_cursor(after, numeric=order.field == "RISK_SCORE")
        position = tuple_(sort, User.id)
        mark = tuple_(literal(sort_value), literal(last_id))
        page_query = page_query.where(position < mark if order.descending else position > mark)
    ordering = [sort.desc(), User.id.desc()] if order.descending else [sort.asc(), User.id.asc()]
    page_query = page_query.order_by(*ordering).limit(limit + 1)
    filtered = base.subquery()
    async with ctx.session_factory() as session:
        found = (await session.execute(page_query)).all()
        total = await session.scalar(select(func.count()).select_from(filtered)) or 0
        facets = {}
        for name, column in (
            ("status", _profile_status(filtered)),
            ("gradeLevel", filtered.c.grade_level),
            ("riskLevel", filtered.c.risk_level),
        ):
            counts = (
                await session.execute(select(column, func.count()).group_by(column).order_by(column))
            ).all()
            facets[name] = [(_facet_value(value), count) for value, count in counts]
    rows = [StudentRow(u, p, RiskLevel(level)) for u, p, level, _ in found[:limit]]
    for row in rows:
        audit.note_read(ctx, "Student", row.user.id)
        ctx.loaders.user_by_id.prime(row.user.id, row.user)
        ctx.loaders.student_profile_by_user_id.prime(row.user.id, row.profile)
    return SearchResult(
        rows=rows,
        cursors=[_encode_search_cursor(sort_value, u.id) for u, _, _, sort_value in found[:limit]],
        total_count=total,
        has_next_page=len(found) > limit,
        facets=facets,
    )


async def _closest(
    ctx: Context, base: AnySelect, words: Sequence[str], order: StudentOrder, limit: int, after: str | None
) -> SearchResult:
    """A search that forgives typos: the database narrows, text_search decides and ranks, the same
    on both databases. The candidates are the caller's students that may match (every one in the
    worst case, a few hundred of 10,000 for a typical name); their rows are read for the page only."""
    candidates = base.with_only_columns(
        *SEARCHED, StudentProfile.status, StudentProfile.grade_level, User.id,
        RISK_LEVEL.label("risk_level"), RISK_SCORE.label("risk_score"),
    )  # fmt: skip
    async with ctx.session_factory() as session:
        found = (await session.execute(candidates)).all()
    ranked = []
    for found_row in found:
        close = text_search.closeness(words, found_row[:3], found_row[:2])
        if close is not None:
            by = {"NAME": found_row.name.lower(), "STUDENT_NUMBER": found_row.student_number.lower()}
            ranked.append(Ranked(found_row, close, by.get(order.field, found_row.risk_score), found_row.id))
    page = text_search.rank_page(
        ranked, descending=order.descending, first=limit, after=after, numeric=order.field == "RISK_SCORE"
    )
    query = select(User, StudentProfile).join(StudentProfile, StudentProfile.user_id == User.id)
    ids = [entry.id for entry in page.entries]
    async with ctx.session_factory() as session:
        pairs = {u.id: (u, p) for u, p in (await session.execute(query.where(User.id.in_(ids)))).all()}
    rows = [StudentRow(*pairs[e.id], RiskLevel(e.item.risk_level)) for e in page.entries if e.id in pairs]
    for row in rows:
        audit.note_read(ctx, "Student", row.user.id)
        ctx.loaders.user_by_id.prime(row.user.id, row.user)
        ctx.loaders.student_profile_by_user_id.prime(row.user.id, row.profile)
    facets = {}
    for name, column in (("status", "status"), ("gradeLevel", "grade_level"), ("riskLevel", "risk_level")):
        counts = Counter(getattr(entry.item, column) for entry in ranked)
        in_order = sorted(counts.items(), key=lambda pair: getattr(pair[0], "value", pair[0]))
        facets[name] = [(_facet_value(value), count) for value, count in in_order]
    return SearchResult(rows, page.cursors, len(ranked), page.has_next_page, facets)


def _facet_value(value: Any) -> str:
    return str(value.value if hasattr(value, "value") else value)


def _encode_search_cursor(sort_value: Any, student_id: int) -> str:
    return encode_cursor(json.dumps([sort_value, student_id]))


def _decode_search_cursor(cursor: str, *, numeric: bool) -> tuple[Any, int]:
    """The sort value must be of the order's type (a number for RISK_SCORE, a string for the
    others): PostgreSQL does not compare text with a number."""
    try:
        sort_value, student_id = json.loads(decode_cursor(cursor))
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error
    sort_types = (int, float) if numeric else (str,)
    if isinstance(sort_value, bool) or not isinstance(sort_value, sort_types):
        raise BadInput("Not a valid cursor.")
    return sort_value, cursor_key(student_id)


async def at_risk(
    ctx: Context, threshold: float, first: int | None, after: str | None = None
) -> SearchResult:
    """Students whose risk score is at least `threshold`, riskiest first (then by id), within the
    caller's scope; keyset pages on (risk score, id) after the cursor `after`. No facets."""
    if not 0 <= threshold <= 1:
        raise BadInput("riskThreshold is a score between 0 and 1.")
    user = require_user(ctx)
    if user.role not in (*SCHOOL_WIDE_ROLES, Role.TEACHER, Role.MENTOR):
        raise Forbidden
    limit = page_size(first, ctx.settings.max_page_size)
    query = filtered_students(ctx, None, StudentFilter()).where(RISK_SCORE >= threshold)
    page_query = query.add_columns(RISK_SCORE.label("sort_value"))
    if after is not None:
        score, last_id = _decode_search_cursor(after, numeric=True)
        page_query = page_query.where(or_(RISK_SCORE < score, and_(RISK_SCORE == score, User.id > last_id)))
    page_query = page_query.order_by(RISK_SCORE.desc(), User.id).limit(limit + 1)
    async with ctx.session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        found = (await session.execute(page_query)).all()
    rows = [StudentRow(u, p, RiskLevel(level)) for u, p, level, _ in found[:limit]]
    for row in rows:
        audit.note_read(ctx, "Student", row.user.id)
    return SearchResult(
        rows=rows,
        cursors=[_encode_search_cursor(score, u.id) for u, _, _, score in found[:limit]],
        total_count=total,
        has_next_page=len(found) > limit,
    )


@dataclass
class CohortAnalysis:
    cohort_year: int
    student_count: int
    average_gpa: float | None
    retention_rate: float | None
    risk_distribution: list[tuple[str, int]]
    grade_distribution: list[tuple[str, int]]


async def cohort_analysis(ctx: Context, cohort_year: int) -> CohortAnalysis:
    """A cohort (students by the year they started): size, GPA, retention (not withdrawn),
    current risk levels and the letters of their final grades. Staff and admins."""
    user = require_user(ctx)
    require_role(user, SCHOOL_WIDE_ROLES)
    cohort = filtered_students(ctx, None, StudentFilter(cohort_year=cohort_year)).subquery()
    status = _profile_status(cohort)
    async with ctx.session_factory() as session:
        statuses: dict[StudentStatus, int] = dict(
            (await session.execute(select(status, func.count()).group_by(status))).all()
        )
        risks = (
            await session.execute(select(cohort.c.risk_level, func.count()).group_by(cohort.c.risk_level))
        ).all()
        ids = list((await session.execute(select(cohort.c.user_id))).scalars())
        records = await academic_records(session, ids)
        letters_query = (
            select(FinalGrade.letter, func.count())
            .where(FinalGrade.student_id.in_(ids), FinalGrade.letter.is_not(None))
            .group_by(FinalGrade.letter)
        )
        letters = (await session.execute(letters_query)).all() if ids else []
    count = sum(statuses.values())
    gpas = [gpa for gpa in (record.gpa for record in records.values()) if gpa is not None]
    withdrawn = statuses.get(StudentStatus.WITHDRAWN, 0)
    return CohortAnalysis(
        cohort_year=cohort_year,
        student_count=count,
        average_gpa=round(sum(gpas) / len(gpas), 2) if gpas else None,
        retention_rate=round((count - withdrawn) / count, 4) if count else None,
        risk_distribution=sorted((_facet_value(level), n) for level, n in risks),
        grade_distribution=sorted((str(letter), n) for letter, n in letters),
    )


MAX_BULK_STUDENTS = 500
MAX_MESSAGE_LENGTH = 2000


@dataclass
class BulkResult:
    processed_count: int
    problems: list[Problem]


async def bulk_action(
    ctx: Context, action: str, student_ids: list[str], *, message: str | None, status: StudentStatus | None
) -> BulkResult:
    """SEND_NOTIFICATION (staff, admins, and teachers for their students) or UPDATE_STATUS
    (staff and admins) for many students in one transaction. A student who cannot be done is
    reported by the index of their id; the others are done, each completely."""
    user = require_user(ctx)
    if action == "UPDATE_STATUS":
        require_role(user, SCHOOL_WIDE_ROLES)
    elif user.role not in (*SCHOOL_WIDE_ROLES, Role.TEACHER):
        raise Forbidden
    if len(student_ids) > MAX_BULK_STUDENTS:
        raise BadInput(f"At most {MAX_BULK_STUDENTS} students at once.")
    invalid = _bulk_input_problem(action, message, status)
    if invalid:
        return BulkResult(0, [invalid])
    problems, targets = await _bulk_targets(ctx, student_ids)
    notified: dict[int, int] = {}
    async with ctx.writer.begin() as session:
        if action == "UPDATE_STATUS" and targets:
            assert status is not None
            await session.execute(
                update(StudentProfile).where(StudentProfile.user_id.in_(targets)).values(status=status)
            )
            await audit.record_many(
                session, ctx, "student.update_status", "Student", targets, status=status.value
            )
        elif targets:
            assert message is not None
            notified = await add_notifications(
                session,
                ctx.settings,
                sorted(targets),
                "school_message",
                f"Message from {user.name}",
                message,
                category=NotificationCategory.ANNOUNCEMENTS,
            )
            await audit.record_many(session, ctx, "student.send_notification", "Student", targets)
    await announce(ctx, notified)
    return BulkResult(len(targets), problems)


async def _bulk_targets(ctx: Context, student_ids: list[str]) -> tuple[list[Problem], set[int]]:
    """The students the caller may act on, and a problem for each id that is not one (batched)."""
    problems: list[Problem] = []
    decoded: dict[int, int] = {}
    for index, global_id in enumerate(student_ids):
        try:
            decoded[index] = decode_id_of(global_id, "Student")
        except BadInput:
            problems.append(Problem("Not a student id.", "INVALID", ("input", "studentIds", str(index))))
    profiles = await ctx.loaders.student_profile_by_user_id.load_many(list(decoded.values()))
    relations = await asyncio.gather(
        *(
            relation_to_student(ctx, student_id, profile.school_id) if profile else _no_relation()
            for student_id, profile in zip(decoded.values(), profiles, strict=True)
        )
    )
    targets: set[int] = set()
    for (index, student_id), relation in zip(decoded.items(), relations, strict=True):
        if relation in (Relation.SCHOOL, Relation.TEACHER):
            targets.add(student_id)
        else:
            problems.append(Problem(NOT_VISIBLE, "NOT_FOUND", ("input", "studentIds", str(index))))
    return sorted(problems, key=lambda p: int(p.field[-1]) if p.field else 0), targets


async def _no_relation() -> None:
    return None


def _bulk_input_problem(action: str, message: str | None, status: StudentStatus | None) -> Problem | None:
    if action == "UPDATE_STATUS" and status is None:
        return Problem("Give the new status.", "INVALID", ("input", "status"))
    if action == "SEND_NOTIFICATION" and not (message and message.strip()):
        return Problem("Write the message to send.", "INVALID", ("input", "message"))
    if action == "SEND_NOTIFICATION" and message and len(message) > MAX_MESSAGE_LENGTH:
        return Problem(
            f"The message is limited to {MAX_MESSAGE_LENGTH} characters.", "INVALID", ("input", "message")
        )
    return None


async def upload_photo(
    ctx: Context, global_id: str, upload: UploadFile
) -> tuple[User, StudentProfile] | Problem:
    """Staff and admins set a student's photo: checked from its bytes, re-encoded without metadata."""
    user = require_user(ctx)
    require_role(user, SCHOOL_WIDE_ROLES)
    student, _, _ = await get_student(ctx, global_id)
    try:
        data = await read_upload_limited(upload, ctx.settings.max_upload_bytes)
        jpeg = await asyncio.to_thread(normalize_photo, data)
    except PhotoRejected as rejected:
        return Problem(str(rejected), "INVALID", ("input", "photo"))
    store = MediaStore(ctx.settings.media_dir)
    key = await asyncio.to_thread(store.save, jpeg, suffix=".jpg")
    try:
        async with ctx.writer.begin() as session:
            stored = await session.get(StudentProfile, student.id, with_for_update=True)
            assert stored is not None
            old_key, stored.photo_key = stored.photo_key, key
            audit.record(session, ctx, "student.photo_changed", "Student", student.id)
    except BaseException:
        await asyncio.to_thread(store.delete, key)
        raise
    if old_key:
        await asyncio.to_thread(store.delete, old_key)
    return student, stored
