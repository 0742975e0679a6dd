"""OneRoster 1.2 CSV sets for the tests and the benchmark, built in memory (no committed files),
and the multipart request that uploads one."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.contract.documents import contract_operation

IMPORT = contract_operation("ImportRoster")
PREFLIGHT = {"Apollo-Require-Preflight": "true"}

HEADERS = {
    "manifest.csv": ["propertyName", "value"],
    "orgs.csv": ["sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"],
    "academicSessions.csv": [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ],
    "courses.csv": [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "courseCode",
        "orgSourcedId",
        "metadata.credits",
    ],
    "classes.csv": [
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "courseSourcedId",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
    ],
    "users.csv": [
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "username",
        "givenName",
        "familyName",
        "identifier",
        "email",
        "agentSourcedIds",
        "grades",
    ],
    "roles.csv": [
        "sourcedId",
        "status",
        "dateLastModified",
        "userSourcedId",
        "roleType",
        "role",
        "orgSourcedId",
    ],
    "enrollments.csv": [
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ],
}


@dataclass
class RosterSet:
    """Rows per file (dicts by column); `csv` writes a file with its header."""

    rows: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def add(self, file: str, **values: str) -> None:
        self.rows.setdefault(file, []).append(values)

    def add_person(self, key: str, role: str, *, org: str = "org-1", role_id: str = "", **user: str) -> None:
        """A users.csv line (sourcedId `key`, then `user`'s columns) and its primary role at `org`
        in roles.csv (sourcedId `role_id`, by default "role-<key>")."""
        self.add("users.csv", sourcedId=key, **user)
        self.add(
            "roles.csv",
            sourcedId=role_id or f"role-{key}",
            userSourcedId=key,
            roleType="primary",
            role=role,
            orgSourcedId=org,
        )

    def add_enrollment(
        self, key: str, klass: str, user: str, role: str, *, school: str = "org-1", **values: str
    ) -> None:
        """An enrollments.csv line: `user` into the class `klass` at `school`, as `role`."""
        self.add(
            "enrollments.csv",
            sourcedId=key,
            classSourcedId=klass,
            schoolSourcedId=school,
            userSourcedId=user,
            role=role,
            **values,
        )

    def csv(self, file: str) -> bytes:
        buffer = io.StringIO()
        header = HEADERS[file] + sorted(
            {k for row in self.rows.get(file, []) for k in row} - set(HEADERS[file])
        )
        writer = csv.DictWriter(buffer, header, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows.get(file, []))
        return buffer.getvalue().encode()

    def files(self) -> list[tuple[str, bytes]]:
        manifest = RosterSet({"manifest.csv": [{"propertyName": "oneroster.version", "value": "1.2"}]})
        for name in HEADERS:
            if name != "manifest.csv":
                mode = "bulk" if name in self.rows else "absent"
                manifest.add("manifest.csv", propertyName=f"file.{name.removesuffix('.csv')}", value=mode)
        return [("manifest.csv", manifest.csv("manifest.csv"))] + [
            (name, self.csv(name)) for name in self.rows
        ]

    def zip(self) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files():
                archive.writestr(name, data)
        return buffer.getvalue()


def school_set(
    *,
    students: int = 4,
    teachers: int = 2,
    classes: int = 2,
    guardians: int = 2,
    per_class: int | None = None,
    tag: str = "",
) -> RosterSet:
    """A whole school's set: one school org, a term with two grading periods, a school year,
    one course per class, classes with a primary teacher each, students (each in `per_class` of
    the classes, by default all), guardians of the first students. Emails carry `tag`, so that
    two sets can be told apart."""
    s = RosterSet()
    s.add("orgs.csv", sourcedId="org-1", name="Roster Academy", type="school", identifier="roster-academy")
    s.add("orgs.csv", sourcedId="district-1", name="Roster District", type="district")
    s.add(
        "academicSessions.csv",
        sourcedId="year-1",
        title="2026-27",
        type="schoolYear",
        startDate="2026-08-20",
        endDate="2027-06-10",
        schoolYear="2027",
    )
    s.add(
        "academicSessions.csv",
        sourcedId="term-1",
        title="Fall 2026",
        type="term",
        startDate="2026-08-20",
        endDate="2026-12-20",
        parentSourcedId="year-1",
        schoolYear="2027",
    )
    for n, (starts, ends) in enumerate([("2026-08-20", "2026-10-15"), ("2026-10-16", "2026-12-20")], start=1):
        s.add(
            "academicSessions.csv",
            sourcedId=f"gp-{n}",
            title=f"Q{n}",
            type="gradingPeriod",
            startDate=starts,
            endDate=ends,
            parentSourcedId="term-1",
            schoolYear="2027",
        )
    for c in range(classes):
        s.add(
            "courses.csv",
            sourcedId=f"course-{c}",
            title=f"Course {c}",
            courseCode=f"C{c:03d}",
            orgSourcedId="district-1",
        )
        s.add(
            "classes.csv",
            sourcedId=f"class-{c}",
            title=f"Section {c}",
            courseSourcedId=f"course-{c}",
            classType="scheduled",
            location=f"R{c}",
            schoolSourcedId="org-1",
            termSourcedIds="term-1",
        )
    people: list[tuple[str, str, dict[str, str]]] = []
    for t in range(teachers):
        people.append((f"tch-{t}", "teacher", {}))
    for n in range(students):
        people.append((f"stu-{n}", "student", {"identifier": f"S{n:05d}", "grades": f"{9 + n % 4:02d}"}))
    for g in range(guardians):
        people.append((f"par-{g}", "parent", {"agentSourcedIds": f"stu-{g}"}))
    for key, role, extra in people:
        s.add_person(
            key,
            role,
            enabledUser="true",
            username=f"{key}{tag}@roster.test",
            givenName=key.title(),
            familyName="Tester",
            email=f"{key}{tag}@roster.test",
            **extra,
        )
    for c in range(classes):
        s.add_enrollment(f"e-t-{c}", f"class-{c}", f"tch-{c % max(teachers, 1)}", "teacher", primary="true")
    for n in range(students):
        for c in range(classes) if per_class is None else [(n + k) % classes for k in range(per_class)]:
            s.add_enrollment(f"e-{n}-{c}", f"class-{c}", f"stu-{n}", "student", beginDate="2026-08-20")
    return s


async def upload(
    http: httpx.AsyncClient,
    token: str,
    files: list[tuple[str, bytes]],
    *,
    dry_run: bool | None = None,
    query: str = IMPORT,
) -> dict[str, Any]:
    """ImportRoster as a multipart request (the GraphQL multipart request spec); the response body."""
    variables = {"input": {"files": [None] * len(files), "dryRun": dry_run}}
    mapping = {str(n): [f"variables.input.files.{n}"] for n in range(len(files))}
    response = await http.post(
        "/graphql",
        data={"operations": json.dumps({"query": query, "variables": variables}), "map": json.dumps(mapping)},
        files={str(n): (name, data, "text/csv") for n, (name, data) in enumerate(files)},
        headers={"Authorization": f"Bearer {token}"} | PREFLIGHT,
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def counts_of(roster_import: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {c["entity"]: {k: v for k, v in c.items() if k != "entity"} for c in roster_import["counts"]}
