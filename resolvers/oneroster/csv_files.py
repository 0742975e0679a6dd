"""The files of a OneRoster CSV set: one zip (as uploaded, or built from the uploaded CSVs), its
manifest, its header checks, and its lines read one at a time.

Lines are streamed from the zip member, never read whole, so a file of 50,000 enrollments costs
one line of memory at a time. A line's number is the physical line its record starts on, the
header being line 1 (a quoted value may span lines).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

MANIFEST = "manifest.csv"
ORGS = "orgs.csv"
SESSIONS = "academicSessions.csv"
COURSES = "courses.csv"
CLASSES = "classes.csv"
USERS = "users.csv"
ROLES = "roles.csv"
ENROLLMENTS = "enrollments.csv"
DEMOGRAPHICS = "demographics.csv"

# The files an import reads, in the order it reads them (each refers only to those before it;
# roles.csv comes before users.csv because a user's role decides what the user becomes).
DATA_FILES = (ORGS, SESSIONS, COURSES, CLASSES, ROLES, USERS, DEMOGRAPHICS, ENROLLMENTS)
# The columns each file needs (beyond them, any column is allowed and those we do not map are
# ignored). users.csv also needs an email: `email`, or `username` when it holds one.
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    MANIFEST: ("propertyName", "value"),
    ORGS: ("sourcedId", "name", "type"),
    SESSIONS: ("sourcedId", "title", "type", "startDate", "endDate"),
    COURSES: ("sourcedId", "title"),
    CLASSES: ("sourcedId", "title", "courseSourcedId", "termSourcedIds"),
    ROLES: ("sourcedId", "userSourcedId", "role"),
    USERS: ("sourcedId", "givenName", "familyName"),
    DEMOGRAPHICS: ("sourcedId",),
    ENROLLMENTS: ("sourcedId", "classSourcedId", "userSourcedId", "role"),
}
PROCESSING_MODES = ("absent", "bulk", "delta")
VERSIONS = ("1.2", "1.1")

MAX_FILES = 40
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024  # a zip of small CSVs that unpacks to more is refused


class PackageRejected(Exception):
    """An upload that is not a OneRoster set at all; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class Line:
    """One record of a file: its physical line number and its values by column name."""

    number: int
    values: dict[str, str]

    def get(self, column: str) -> str:
        return self.values.get(column, "").strip()


@dataclass(frozen=True)
class FileProblem:
    """A problem of a whole file (no line), or of one line that could not even be read."""

    file: str
    code: str
    message: str
    line: int | None = None
    field: str | None = None


@dataclass
class RosterPackage:
    """The zip of a set, by base name of its members (a set may sit in one folder of the zip)."""

    archive: zipfile.ZipFile
    members: dict[str, zipfile.ZipInfo] = field(default_factory=dict)

    @classmethod
    def open(cls, payload: bytes) -> RosterPackage:
        try:
            archive = zipfile.ZipFile(io.BytesIO(payload))
        except zipfile.BadZipFile as error:
            raise PackageRejected("The upload is not a zip of OneRoster CSV files.") from error
        infos = [info for info in archive.infolist() if not info.is_dir()]
        if len(infos) > MAX_FILES:
            raise PackageRejected(f"A OneRoster set has at most {MAX_FILES} files.")
        if sum(info.file_size for info in infos) > MAX_UNCOMPRESSED_BYTES:
            raise PackageRejected(f"The files unpack to more than {MAX_UNCOMPRESSED_BYTES:,} bytes.")
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if name.startswith((".", "__MACOSX")):
                continue
            if name in members:
                raise PackageRejected(f"The set has two files called {name}.")
            members[name] = info
        if not any(name.endswith(".csv") for name in members):
            raise PackageRejected("The set has no CSV file.")
        return cls(archive, members)

    @property
    def file_names(self) -> list[str]:
        return sorted(self.members)

    def has(self, name: str) -> bool:
        return name in self.members

    def lines(self, name: str, problems: list[FileProblem]) -> Iterator[Line]:
        """The records of `name` after its header, streamed. A header without a required column:
        a FileProblem, and no lines. A line that is not UTF-8 or not CSV: a FileProblem at that
        line, and no more lines (those before it are read)."""
        with self.archive.open(self.members[name]) as raw:
            reader = csv.reader(_decoded(raw))
            try:
                header = [column.strip() for column in next(reader, [])]
                if not _header_ok(name, header, problems):
                    return
                while True:
                    start = reader.line_num + 1
                    row = next(reader, None)
                    if row is None:
                        return
                    if not any(value.strip() for value in row):
                        continue
                    if len(row) > len(header):
                        message = f"{len(row)} values; the header has {len(header)}."
                        problems.append(FileProblem(name, "INVALID", message, start))
                        continue
                    yield Line(start, dict(zip(header, row, strict=False)))
            except _Undecodable as undecodable:
                message = "The line is not UTF-8 text: the file must be UTF-8; it was read up to here."
                problems.append(FileProblem(name, "INVALID_ENCODING", message, undecodable.line))
            except csv.Error as error:
                problems.append(FileProblem(name, "INVALID", f"Not CSV: {error}.", reader.line_num))

    def count_lines(self, name: str) -> int:
        """The number of records of `name` (what the progress bar's total counts)."""
        count = 0
        with self.archive.open(self.members[name]) as raw:
            reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline="", errors="replace"))
            try:
                next(reader, None)
                count = sum(1 for row in reader if any(value.strip() for value in row))
            except csv.Error:
                pass  # `lines` reports it
        return count


class _Undecodable(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is not UTF-8")
        self.line = line


def _decoded(raw: IO[bytes]) -> Iterator[str]:
    """The file's physical lines as text, decoded one by one (a byte-order mark dropped), so that
    an undecodable byte is reported at its own line and the lines before it are read."""
    for number, data in enumerate(raw, start=1):
        try:
            yield data.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise _Undecodable(number) from None


def _header_ok(name: str, header: list[str], problems: list[FileProblem]) -> bool:
    if not header or header == [""]:
        problems.append(FileProblem(name, "MISSING_COLUMN", "The file has no header line."))
        return False
    duplicates = sorted({column for column in header if header.count(column) > 1})
    if duplicates:
        problems.append(FileProblem(name, "INVALID", f"The header repeats {', '.join(duplicates)}."))
        return False
    missing = [column for column in REQUIRED_COLUMNS.get(name, ()) if column not in header]
    if name == USERS and "email" not in header and "username" not in header:
        missing.append("email")
    if missing:
        message = f"The header lacks {', '.join(missing)} (column names are case-sensitive)."
        problems.append(FileProblem(name, "MISSING_COLUMN", message, field=missing[0]))
        return False
    return True


@dataclass(frozen=True)
class Plan:
    """Which files of a package an import reads, and the problems of the set as a whole."""

    files: list[str]
    problems: list[FileProblem]


def plan_files(package: RosterPackage) -> Plan:
    """The data files to read, from what the package holds and what its manifest says.

    Without a manifest every supported file present is read (as `bulk`). With one:
    `oneroster.version` must be 1.2 (or 1.1); a file the manifest calls `absent` is not read
    (NOT_IN_MANIFEST), one it lists as `bulk`/`delta` must be there (MISSING_FILE). Files this
    importer does not read (gradebook files such as lineItems.csv): UNSUPPORTED_FILE.
    `bulk` and `delta` are read alike: nothing is deleted for being left out of a bulk file.
    """
    problems: list[FileProblem] = []
    modes: dict[str, str] = {}
    if package.has(MANIFEST):
        for line in package.lines(MANIFEST, problems):
            prop, value = line.get("propertyName"), line.get("value")
            if prop == "oneroster.version" and value not in VERSIONS:
                problems.append(
                    FileProblem(
                        MANIFEST,
                        "UNSUPPORTED_VERSION",
                        f"OneRoster {value!r}: 1.2 is read.",
                        line.number,
                        "value",
                    )
                )
            elif prop.startswith("file."):
                if value not in PROCESSING_MODES:
                    problems.append(
                        FileProblem(
                            MANIFEST, "INVALID", "Must be absent, bulk or delta.", line.number, "value"
                        )
                    )
                modes[prop.removeprefix("file.") + ".csv"] = value
    files: list[str] = []
    for name in DATA_FILES:
        mode = modes.get(name)
        if package.has(name) and mode == "absent":
            problems.append(
                FileProblem(
                    name, "NOT_IN_MANIFEST", "The manifest says this file is absent; it was not read."
                )
            )
        elif package.has(name):
            files.append(name)
        elif mode in ("bulk", "delta"):
            problems.append(
                FileProblem(name, "MISSING_FILE", f"The manifest lists {name}, but the set lacks it.")
            )
    for name in package.file_names:
        if name != MANIFEST and name not in DATA_FILES:
            problems.append(FileProblem(name, "UNSUPPORTED_FILE", "This file is not imported."))
    return Plan(files, problems)
