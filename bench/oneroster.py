"""OneRoster import throughput and memory: a generated set of 10,000 users (8,000 students, 500
teachers, 1,500 guardians) and 50,000 enrollment lines (2,000 classes with a teacher each, six
classes per student), written as CSV files in a temporary folder and imported into an empty
school of a new database, in this process, as the worker runs an import.

For each database it prints:
- the first import (everything created) and a second one of the same files (everything
  unchanged): lines, seconds, lines/s, and the process's peak RSS (sampled every 50 ms) over
  its resident memory before the import;
- memory with the enrollments at 10,000 and at 50,000 (the same 10,000 users): the peak that
  tracemalloc sees during each import (a separate, slower run each), flat when the import
  streams its lines.
Prints numbers; decides nothing.

    .venv/bin/python -m bench.oneroster [--database sqlite,postgres] [--enrollments 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_machine, rss_bytes, throwaway_database
from config import Settings
from context import AppState, build_state, close_state
from migrations.runner import upgrade_to_head
from models.db import create_session_factory
from models.enums import RosterImportStatus
from resolvers.oneroster.importer import run_import
from resolvers.oneroster.imports import Upload, create_import, package_of
from tests.factories import Factory
from tests.resolvers.oneroster.builder import RosterSet

STUDENTS, TEACHERS, GUARDIANS, CLASSES, PER_STUDENT = 8_000, 500, 1_500, 2_000, 6


def generated_set(enrollments: int) -> RosterSet:
    """The users above, and `enrollments` enrollment lines: a teacher line per class, then
    students into classes (each up to PER_STUDENT of them) until there are that many lines."""
    s = RosterSet()
    s.add("orgs.csv", sourcedId="org", name="Bench High", type="school", identifier="bench")
    s.add(
        "academicSessions.csv",
        sourcedId="fall",
        title="Fall",
        type="term",
        startDate="2026-08-20",
        endDate="2026-12-20",
        schoolYear="2027",
    )
    for c in range(CLASSES // 10):
        s.add(
            "courses.csv", sourcedId=f"c{c}", title=f"Course {c}", courseCode=f"C{c:04d}", orgSourcedId="org"
        )
    for k in range(CLASSES):
        s.add(
            "classes.csv",
            sourcedId=f"k{k}",
            title=f"Section {k}",
            courseSourcedId=f"c{k // 10}",
            classType="scheduled",
            location=f"R{k % 300}",
            schoolSourcedId="org",
            termSourcedIds="fall",
        )
    people: list[tuple[str, str, dict[str, str]]] = [(f"t{n}", "teacher", {}) for n in range(TEACHERS)]
    people += [
        (f"s{n}", "student", {"identifier": f"N{n:06d}", "grades": f"{9 + n % 4:02d}"})
        for n in range(STUDENTS)
    ]
    people += [(f"g{n}", "parent", {"agentSourcedIds": f"s{n}"}) for n in range(GUARDIANS)]
    for key, role, extra in people:
        s.add_person(
            key,
            role,
            org="org",
            role_id=f"r{key}",
            enabledUser="true",
            givenName=key.upper(),
            familyName="Bench",
            email=f"{key}@bench.test",
            **extra,
        )
    for k in range(CLASSES):
        s.add_enrollment(f"et{k}", f"k{k}", f"t{k % TEACHERS}", "teacher", school="org", primary="true")
    for line in range(enrollments - CLASSES):
        student, nth = line % STUDENTS, line // STUDENTS
        klass = (student * PER_STUDENT + nth) % CLASSES
        s.add_enrollment(f"e{line}", f"k{klass}", f"s{student}", "student", school="org")
    return s


def payload_of(roster: RosterSet, folder: Path) -> bytes:
    """The set written as CSV files in `folder` (as a school would hand them over), then zipped."""
    for name, data in roster.files():
        (folder / name).write_bytes(data)
    return package_of([Upload(path.name, path.read_bytes()) for path in sorted(folder.glob("*.csv"))])


@dataclass
class Measured:
    lines: int
    seconds: float
    rss_before: int
    rss_peak: int
    traced_peak: int | None
    status: RosterImportStatus


@contextlib.contextmanager
def rss_sampler() -> Iterator[list[int]]:
    """The process's RSS every 50 ms while the block runs (from a thread: the import blocks the loop)."""
    import os  # noqa: PLC0415
    import threading  # noqa: PLC0415

    samples = [rss_bytes(os.getpid())]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            samples.append(rss_bytes(os.getpid()))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        done.set()
        thread.join()


async def import_once(state: AppState, payload: bytes, school_id: int, *, trace: bool) -> Measured:
    job = await create_import(
        state, payload, school_id=school_id, started_by_id=None, dry_run=False, inline_max=None
    )
    if trace:
        tracemalloc.start()
    with rss_sampler() as samples:
        started = time.perf_counter()
        status = await run_import(state, job.id)
        seconds = time.perf_counter() - started
    traced = tracemalloc.get_traced_memory()[1] if trace else None
    if trace:
        tracemalloc.stop()
    return Measured(job.total, seconds, samples[0], max(samples), traced, status)


@contextlib.asynccontextmanager
async def fresh_school(kind: str) -> AsyncIterator[tuple[AppState, int]]:
    with tempfile.TemporaryDirectory() as workdir, throwaway_database(kind, Path(workdir)) as url:
        media = Path(workdir) / "media"
        settings = Settings(environment="test", database_url=url, media_dir=media, _env_file=None)  # type: ignore[call-arg]
        await asyncio.to_thread(upgrade_to_head, settings)
        state = build_state(settings)
        await state.bus.connect()
        try:
            school, _ = await Factory(create_session_factory(state.engine), settings).empty_school("bench")
            yield state, school.id
        finally:
            await close_state(state)


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


async def measure(kind: str, payloads: dict[int, bytes], top: int) -> None:
    async with fresh_school(kind) as (state, school_id):
        for label in ("first import (all created)", "same files again (all unchanged)"):
            m = await import_once(state, payloads[top], school_id, trace=False)
            print(
                f"{kind:<8} {label:<34} {m.status.value}: {m.lines:,} lines in {m.seconds:.1f} s = "
                f"{m.lines / m.seconds:,.0f} lines/s; RSS {mib(m.rss_before)} -> peak {mib(m.rss_peak)}"
            )
    for enrollments, payload in sorted(payloads.items()):
        async with fresh_school(kind) as (state, school_id):
            m = await import_once(state, payload, school_id, trace=True)
            assert m.traced_peak is not None
            print(
                f"{kind:<8} memory, {enrollments:>6,} enrollments: {m.lines:,} lines, tracemalloc peak "
                f"{mib(m.traced_peak)}, RSS peak {mib(m.rss_peak)} ({m.seconds:.1f} s traced)"
            )


async def main(kinds: list[str], top: int) -> None:
    print_machine()
    with tempfile.TemporaryDirectory() as folder:
        payloads = {}
        for enrollments in (10_000, top):
            sub = Path(folder) / str(enrollments)
            sub.mkdir()
            payloads[enrollments] = payload_of(generated_set(enrollments), sub)
        print(
            f"set: {STUDENTS + TEACHERS + GUARDIANS:,} users, {CLASSES:,} classes, {top:,} enrollment lines; "
            f"zip {mib(len(payloads[top]))}"
        )
    for kind in kinds:
        await measure(kind, payloads, top)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)"
    )
    parser.add_argument("--enrollments", type=int, default=50_000)
    args = parser.parse_args()
    asyncio.run(main(args.database.split(","), args.enrollments))
