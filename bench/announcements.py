"""Publishing an announcement as its audience grows: a SCHOOL-scope announcement to the school's
students and guardians, on IN_APP and EMAIL, to about 100 and about 1,000 recipients.

Each size is a school of its own (tests/factories.py's `school`: two students and a guardian,
plus families of one ENROLLED student and one guardian each, inserted in bulk), all in one new
database, served by the app in this process (httpx's ASGI transport) with debug metrics on and
e-mail pointed at a real local SMTP server (tests/smtp_sink.py). The app's lifespan is not run: its
background loops (the outbox among them) would send the e-mails themselves; the bench calls
`deliver_due` instead. For each size it does, `--repeats` times (default 3):

- createAnnouncement, then publishAnnouncement through the GraphQL API with a staff member's
  token, as the frontend sends them (the contract's operations): the wall time of the publish
  request, the server's `durationMs`, and `extensions.metrics.sqlStatements` (the SELECT that
  checks the bearer token comes before the operation and is not in it);
- `deliver_due` until the outbox is empty: e-mails the sink received per second, the SQL
  statements of the drain per e-mail (the same counter as the debug metrics), and the most
  e-mails one `deliver_due` leased (its batch is SEND_BATCH = 50); then as many e-mails through
  the same mailer to the same sink, as many at a time, without the database ("SMTP only");
- AnnouncementRecipients (first: 100) as the staff member and AnnouncementFeed (first: 20) as a
  guardian: their statements.

It then prints a table (medians of the repeats) and, for the publish, the statements that are
not the same number at every size, grouped by their text (what a growing count is made of).
With --redis the event bus runs on a private redis-server, as in production, and the Redis
PUBLISH commands of one publishAnnouncement are counted (INFO commandstats).
Prints numbers; decides nothing.

    .venv/bin/python -m bench.announcements [--database sqlite,postgres] [--sizes 100,1000]
        [--repeats 3] [--redis] [--postgres-url URL]

PostgreSQL: a new `campusgraph_bench_*` database, dropped at the end, unless --postgres-url
names an existing empty one (migrated here; its owner drops it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    UNLIMITED_BUDGET,
    contract_operation,
    print_machine,
    redis_server,
    throwaway_database,
)
from config import Settings
from context import AppState, close_state
from migrations.runner import upgrade_to_head
from models import Delivery, GuardianLink, StudentProfile, User
from models.base import utcnow
from models.db import operation_statements
from models.enums import CommunicationChannel, DeliveryStatus, Role, Tier
from resolvers.delivery.outbox import PARALLEL_SENDS, deliver_due
from server import create_app
from services.email import EmailOutcome, OutgoingEmail
from tests.factories import PASSWORD_HASH, Factory, SchoolData
from tests.smtp_sink import SmtpSink

CREATE = contract_operation("CreateAnnouncement")
PUBLISH = contract_operation("PublishAnnouncement")
RECIPIENTS = contract_operation("AnnouncementRecipients")
FEED = contract_operation("AnnouncementFeed")
AUDIENCE = {"scope": "SCHOOL", "includeStudents": True, "includeGuardians": True}
BODY = "Dear {{recipient.firstName}}, {{school.name}} is closed on Friday. {{author.name}}"
DRAIN_LIMIT = 900.0  # seconds; the drain of one announcement is cancelled after that


@dataclass
class Measured:
    """One size on one database: a value per repeat."""

    recipients: int
    publish_seconds: list[float] = field(default_factory=list)
    publish_server_ms: list[float] = field(default_factory=list)
    publish_sql: list[int] = field(default_factory=list)
    emails: list[int] = field(default_factory=list)
    drain_seconds: list[float] = field(default_factory=list)
    drain_sql: list[int] = field(default_factory=list)
    largest_lease: list[int] = field(default_factory=list)  # most e-mails one deliver_due took
    recipients_sql: list[int] = field(default_factory=list)
    feed_sql: list[int] = field(default_factory=list)
    smtp_only_seconds: list[float] = field(default_factory=list)
    redis_publishes: list[int] = field(default_factory=list)
    statements: Counter[str] = field(default_factory=Counter)  # of the first publish, by text
    drain_statements: Counter[str] = field(default_factory=Counter)  # of the first drain


# --- Data ----------------------------------------------------------------------------------------


async def add_families(state: AppState, data: SchoolData, families: int) -> None:
    """`families` ENROLLED students (grades 9-12), each with a guardian of their own."""
    school, now = data.school, utcnow()

    def people(role: Role, prefix: str) -> list[dict[str, Any]]:
        return [
            {"school_id": school.id, "email": f"{prefix}{n}@{school.slug}.test",
             "name": f"{prefix.title()} {n:04d} {school.slug}", "password_hash": PASSWORD_HASH,
             "role": role, "tier": Tier.FREE, "created_at": now}
            for n in range(families)
        ]  # fmt: skip

    async with state.session_factory.begin() as session:
        kids = [
            row.id
            for row in await session.execute(insert(User).returning(User.id), people(Role.STUDENT, "kid"))
        ]
        parents = [
            row.id
            for row in await session.execute(insert(User).returning(User.id), people(Role.GUARDIAN, "parent"))
        ]
        await session.execute(
            insert(StudentProfile),
            [
                {"user_id": kid, "school_id": school.id, "student_number": f"B-{kid:07d}",
                 "grade_level": 9 + n % 4, "cohort_year": 2027}
                for n, kid in enumerate(kids)
            ],
        )  # fmt: skip
        await session.execute(
            insert(GuardianLink),
            [{"guardian_id": parent, "student_id": kid} for parent, kid in zip(parents, kids, strict=True)],
        )


async def queued(state: AppState) -> int:
    async with state.session_factory() as session:
        count = await session.scalar(
            select(func.count()).where(
                Delivery.status == DeliveryStatus.QUEUED, Delivery.channel == CommunicationChannel.EMAIL
            )
        )
    return int(count or 0)


# --- Measuring -----------------------------------------------------------------------------------


async def call(
    http: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], float]:
    """One GraphQL request (no errors allowed): its body, and its wall time in seconds."""
    started = time.perf_counter()
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body, seconds


def sql(body: dict[str, Any]) -> int:
    count: int = body["extensions"]["metrics"]["sqlStatements"]
    return count


@contextlib.contextmanager
def recorded(state: AppState) -> Iterator[list[str]]:
    """The text of every statement run while the block runs (nothing else runs in this process)."""
    texts: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        texts.append(" ".join(statement.split())[:90])

    event.listen(state.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield texts
    finally:
        event.remove(state.engine.sync_engine, "before_cursor_execute", record)


async def redis_publish_calls(state: AppState) -> int:
    if state.redis is None:
        return 0
    stats = await state.redis.info("commandstats")
    return int(stats.get("cmdstat_publish", {}).get("calls", 0))


async def publish_once(http: httpx.AsyncClient, state: AppState, token: str, n: int, m: Measured) -> str:
    """Creates and publishes one announcement, recording the publish; its global id."""
    draft, _ = await call(
        http,
        token,
        CREATE,
        {"input": {"audience": AUDIENCE, "title": f"Closed on Friday ({n})", "body": BODY,
                   "channels": ["IN_APP", "EMAIL"]}},
    )  # fmt: skip
    created = draft["data"]["createAnnouncement"]
    if created["userErrors"]:
        raise RuntimeError(f"createAnnouncement: {created['userErrors']}")
    announcement_id: str = created["announcement"]["id"]
    redis_before = await redis_publish_calls(state)
    with recorded(state) as texts:
        body, seconds = await call(http, token, PUBLISH, {"input": {"announcementId": announcement_id}})
    payload = body["data"]["publishAnnouncement"]
    if payload["userErrors"]:
        raise RuntimeError(f"publishAnnouncement: {payload['userErrors']}")
    if payload["announcement"]["recipientCount"] != m.recipients:
        raise RuntimeError(f"{payload['announcement']['recipientCount']} recipients, not {m.recipients}")
    m.publish_seconds.append(seconds)
    m.publish_server_ms.append(body["extensions"]["metrics"]["durationMs"])
    m.publish_sql.append(sql(body))
    m.redis_publishes.append(await redis_publish_calls(state) - redis_before)
    if not m.statements:
        m.statements.update(texts)
    return announcement_id


async def drain(state: AppState, sink: SmtpSink, m: Measured) -> None:
    """`deliver_due` until no e-mail is left QUEUED: e-mails received, seconds, statements."""
    sink.handler.messages.clear()
    counter, leases = [0], [0]
    token = operation_statements.set(counter)
    started = time.perf_counter()
    try:
        with recorded(state) as texts:
            async with asyncio.timeout(DRAIN_LIMIT):
                while (taken := await deliver_due(state)) > 0:
                    leases.append(taken)
    finally:
        operation_statements.reset(token)
    m.drain_seconds.append(time.perf_counter() - started)
    m.drain_sql.append(counter[0])
    m.largest_lease.append(max(leases))
    if not m.drain_statements:
        m.drain_statements.update(texts)
    m.emails.append(len(sink.messages))
    if (left := await queued(state)) or len(sink.messages) != m.recipients:
        raise RuntimeError(f"{len(sink.messages)} e-mails received, {left} still QUEUED")


async def smtp_only(state: AppState, sink: SmtpSink, m: Measured) -> None:
    """As many e-mails through the same mailer to the same sink, PARALLEL_SENDS at a time as the
    outbox sends them, without the database: what SMTP alone allows (a new connection per message)."""
    sink.handler.messages.clear()
    limit = asyncio.Semaphore(PARALLEL_SENDS)

    async def one(n: int) -> None:
        async with limit:
            email = OutgoingEmail(to=f"reader{n}@bench.test", subject="Closed on Friday", text=BODY)
            if (await state.mailer.send(email)).outcome is not EmailOutcome.SENT:
                raise RuntimeError("the sink refused an e-mail")

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(m.recipients)))
    m.smtp_only_seconds.append(time.perf_counter() - started)


async def measure_size(
    http: httpx.AsyncClient, state: AppState, sink: SmtpSink, size: int, repeats: int
) -> Measured:
    factory = Factory(state.session_factory, state.settings)
    data = await factory.school(f"size{size}")
    families = max(0, (size - 2) // 2)  # the factory's school has two students and one guardian
    await add_families(state, data, families)
    m = Measured(recipients=3 + 2 * families)
    staff, guardian = factory.token(data.staff, minutes=120), factory.token(data.guardian, minutes=120)
    for n in range(repeats):
        announcement_id = await publish_once(http, state, staff, n, m)
        await drain(state, sink, m)
        await smtp_only(state, sink, m)
        body, _ = await call(http, staff, RECIPIENTS, {"id": announcement_id, "first": 100})
        if len(body["data"]["announcement"]["recipients"]["nodes"]) != min(100, m.recipients):
            raise RuntimeError("AnnouncementRecipients: not a full page")
        m.recipients_sql.append(sql(body))
        body, _ = await call(http, guardian, FEED, {"first": 20})
        m.feed_sql.append(sql(body))
    return m


@contextlib.contextmanager
def database(kind: str, workdir: Path, postgres_url: str | None) -> Iterator[str]:
    if kind == "postgres" and postgres_url:
        yield postgres_url
        return
    with throwaway_database(kind, workdir) as url:
        yield url


async def measure_kind(
    kind: str, sizes: list[int], repeats: int, redis_url: str | None, postgres_url: str | None
) -> list[Measured]:
    """Every size, each a school of its own, in one new database of `kind`."""
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as tmp,
        database(kind, Path(tmp), postgres_url) as url,
    ):
        sink = SmtpSink()
        sink.start()
        settings = Settings(
            environment="test", database_url=url, redis_url=redis_url, media_dir=Path(tmp) / "media",
            debug_metrics=True, query_cost_budget=UNLIMITED_BUDGET, **sink.settings(),
            _env_file=None,  # type: ignore[call-arg]
        )  # fmt: skip
        await asyncio.to_thread(upgrade_to_head, settings)
        app = create_app(settings)
        state: AppState = app.state.campus
        await state.bus.connect()  # what the lifespan would do, without its background loops
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://campus.test", timeout=600
            ) as http:
                for size in sizes:
                    results.append(await measure_size(http, state, sink, size, repeats))
                    print_size(kind, results[-1])
        finally:
            await close_state(state)
            sink.stop()
    return results


# --- Output --------------------------------------------------------------------------------------


def med(values: list[float] | list[int]) -> float:
    return float(statistics.median(values))


def spread(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


def print_size(kind: str, m: Measured) -> None:
    publish_ms = [f"{s * 1000:.0f}" for s in m.publish_seconds]
    print(
        f"{kind:<8} {m.recipients:>5} recipients: publish {publish_ms} ms "
        f"(server {[f'{ms:.0f}' for ms in m.publish_server_ms]}), SQL {m.publish_sql}; "
        f"drain {m.emails} e-mails in {[f'{s:.2f}' for s in m.drain_seconds]} s, SQL {m.drain_sql}; "
        f"SMTP only {[f'{s:.2f}' for s in m.smtp_only_seconds]} s; "
        f"recipients SQL {m.recipients_sql}, feed SQL {m.feed_sql}"
        + (f"; Redis PUBLISH {m.redis_publishes}" if any(m.redis_publishes) else ""),
        flush=True,
    )


COLUMNS = (
    ("database", 14), ("recipients", 10), ("publish ms", 10), ("server ms", 9), ("ms/recip.", 9),
    ("pub. SQL", 8), ("e-mails/s", 9), ("SMTP only/s", 11), ("ratio", 5), ("SQL/e-mail", 10), ("lease", 5),
    ("Recip. SQL", 10), ("Feed SQL", 8), ("Redis PUB", 9),
)  # fmt: skip


def print_table(results: dict[str, list[Measured]]) -> None:
    print("\n" + " ".join(f"{name:>{width}}" for name, width in COLUMNS))
    for kind, measured in results.items():
        for m in measured:
            publish_ms = med(m.publish_seconds) * 1000
            rate = med([e / s for e, s in zip(m.emails, m.drain_seconds, strict=True)])
            smtp_rate = med([m.recipients / s for s in m.smtp_only_seconds])
            cells = (
                kind, f"{m.recipients:,}", f"{publish_ms:.0f}", f"{med(m.publish_server_ms):.0f}",
                f"{publish_ms / m.recipients:.2f}", spread(m.publish_sql), f"{rate:.0f}",
                f"{smtp_rate:.0f}", f"{rate / smtp_rate:.2f}",
                f"{med([q / e for q, e in zip(m.drain_sql, m.emails, strict=True)]):.2f}",
                spread(m.largest_lease),
                spread(m.recipients_sql), spread(m.feed_sql), spread(m.redis_publishes),
            )  # fmt: skip
            print(" ".join(f"{cell:>{width}}" for cell, (_, width) in zip(cells, COLUMNS, strict=True)))
    for kind, measured in results.items():
        texts = set().union(*(m.statements for m in measured))
        growing = [t for t in sorted(texts) if len({m.statements[t] for m in measured}) > 1]
        print(f"\n{kind}: publish statements whose number differs by size ({len(growing)} texts)")
        for text in growing:
            counts = " / ".join(str(m.statements[text]) for m in measured)
            print(f"  {counts:>12}  {text}")
        largest = measured[-1]
        print(f"{kind}: publish statements to {largest.recipients:,} recipients (with the token check)")
        for text, count in sorted(largest.statements.items()):
            print(f"  {count:>12}  {text}")
        print(f"{kind}: drain statements of {largest.emails[0]:,} e-mails, per e-mail")
        for text, count in largest.drain_statements.most_common(6):
            print(f"  {count / largest.emails[0]:>12.3f}  {text}")


async def main(
    kinds: list[str], sizes: list[int], repeats: int, redis: bool, postgres_url: str | None
) -> None:
    print_machine()
    started = time.perf_counter()
    results: dict[str, list[Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="campusgraph-bench-") as tmp, contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server(Path(tmp))) if redis else None
        for kind in kinds:
            label = f"{kind}+redis" if redis else kind
            results[label] = await measure_kind(kind, sizes, repeats, redis_url, postgres_url)
    print_table(results)
    print_machine()
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", default="sqlite,postgres", help="sqlite, postgres or both")
    parser.add_argument("--sizes", default="100,1000", help="recipients, about (comma-separated)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--redis", action="store_true", help="the event bus on a private redis-server")
    parser.add_argument("--postgres-url", help="an existing empty PostgreSQL database to use")
    args = parser.parse_args()
    asyncio.run(
        main(
            args.database.split(","),
            [int(n) for n in args.sizes.split(",")],
            args.repeats,
            args.redis,
            args.postgres_url,
        )
    )
