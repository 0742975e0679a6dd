"""People through the contract's operations: the admins' list of accounts, a person's own
records (MyRecords), the student record with its guardians and emergency contacts, and
student records made and edited by the school's staff."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, EmergencyContact, GuardianLink, StudentProfile, User
from models.enums import UserStatus
from resolvers.ids import decode_id, encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, populate
from tests.statements import statements

USERS = contract_operation("Users")
MY_RECORDS = contract_operation("MyRecords")
STUDENT_RECORD = contract_operation("StudentRecord")
CREATE = contract_operation("CreateStudent")
UPDATE = contract_operation("UpdateStudent")

CONTACTS = [
    {"name": "Rosa Diaz", "relationship": "mother", "phone": "+1 555 0100", "email": "rosa@home.test"},
    {"name": "Luis Diaz", "relationship": "uncle", "phone": "555-0101"},
]


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


def new_student(number: str = "N-1001", email: str = "new.pupil@north.test", **more: Any) -> dict[str, Any]:
    return {
        "name": "New Pupil",
        "email": email,
        "studentNumber": number,
        "gradeLevel": 9,
        "cohortYear": 2030,
        **more,
    }


async def create(client: GraphQLClient, student: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": student}))["createStudent"]
    return payload


async def count(session_factory: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def all_users(client: GraphQLClient, variables: dict[str, Any], page: int = 3) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = (await client.data(USERS, variables | {"first": page, "after": after}))["users"]
        found.extend(data["nodes"])
        if not data["pageInfo"]["hasNextPage"]:
            assert data["totalCount"] == len(found)
            return found
        after = data["pageInfo"]["endCursor"]


async def test_users_are_the_schools_accounts_for_its_admins_only(
    gql: GraphQLClient, factory: Factory
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    admin = gql.as_user(factory.token(north.admin))
    everyone = await all_users(admin, {})
    assert sorted(u["email"] for u in everyone) == sorted(u.email for u in north.users.values())
    assert [u["name"].lower() for u in everyone] == sorted(u["name"].lower() for u in everyone)
    assert not {u["id"] for u in everyone} & {encode_id("User", u.id) for u in south.users.values()}
    row = next(u for u in everyone if u["email"] == "teacher@north.test")
    assert row | {"joinedAt": None} == {
        "id": encode_id("User", north.teacher.id),
        "name": north.teacher.name,
        "email": "teacher@north.test",
        "role": "TEACHER",
        "status": "ACTIVE",
        "joinedAt": None,
        "lastSignInAt": None,
        "deactivatedAt": None,
        "sourcedId": None,
    }
    teachers = await all_users(admin, {"filter": {"role": ["TEACHER", "MENTOR"]}})
    assert {u["email"] for u in teachers} == {
        "teacher@north.test",
        "other_teacher@north.test",
        "mentor@north.test",
    }
    by_words = await all_users(admin, {"filter": {"query": "TEACHER of"}})
    assert {u["email"] for u in by_words} == {"teacher@north.test", "other_teacher@north.test"}
    by_email = await all_users(admin, {"orderBy": {"field": "EMAIL", "direction": "DESC"}})
    assert [u["email"] for u in by_email] == sorted((u["email"] for u in everyone), reverse=True)
    by_joining = await all_users(admin, {"orderBy": {"field": "JOINED_AT", "direction": "ASC"}}, page=2)
    assert [u["joinedAt"] for u in by_joining] == sorted(u["joinedAt"] for u in everyone)
    for who in (north.staff, north.teacher, north.student, north.guardian):
        assert codes(await gql.as_user(factory.token(who)).execute(USERS, {})) == ["FORBIDDEN"]
    assert codes(await gql.execute(USERS, {})) == ["UNAUTHENTICATED"]
    too_many = await admin.execute(USERS, {"first": 101})
    assert codes(too_many) == ["BAD_USER_INPUT"]


async def test_users_filter_by_status(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    made = await create(staff, new_student())
    admin = gql.as_user(factory.token(north.admin))
    invited = await all_users(admin, {"filter": {"status": ["INVITED"]}})
    assert [(u["email"], u["role"], u["status"]) for u in invited] == [
        ("new.pupil@north.test", "STUDENT", "INVITED")
    ]
    assert invited[0]["id"] == encode_id("User", decode_id(made["student"]["id"])[1])
    assert len(await all_users(admin, {"filter": {"status": ["ACTIVE"]}})) == len(north.users)


async def test_my_records_lead_each_person_to_their_own(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    student = (await gql.as_user(factory.token(north.student)).data(MY_RECORDS))["me"]
    assert student["status"] == "ACTIVE"
    assert student["student"]["id"] == encode_id("Student", north.student.id)
    assert [e["class"]["title"] for e in student["student"]["enrollments"]] == ["Algebra A"]
    assert (student["teacher"], student["wards"]) == (None, [])
    teacher = (await gql.as_user(factory.token(north.teacher)).data(MY_RECORDS))["me"]
    assert teacher["student"] is None
    assert teacher["wards"] == []
    assert teacher["teacher"]["id"] == encode_id("Teacher", north.teacher.id)
    assert [c["title"] for c in teacher["teacher"]["classes"]["nodes"]] == ["Algebra A"]
    guardian = (await gql.as_user(factory.token(north.guardian)).data(MY_RECORDS))["me"]
    assert (guardian["student"], guardian["teacher"]) == (None, None)
    assert [(w["id"], w["studentNumber"]) for w in guardian["wards"]] == [
        (encode_id("Student", north.student.id), student["student"]["studentNumber"])
    ]
    assert [e["class"]["title"] for e in guardian["wards"][0]["enrollments"]] == ["Algebra A"]
    admin = (await gql.as_user(factory.token(north.admin)).data(MY_RECORDS))["me"]
    assert (admin["role"], admin["student"], admin["teacher"], admin["wards"]) == ("ADMIN", None, None, [])


async def test_others_records_are_for_the_person_and_the_schools_staff(
    gql: GraphQLClient, factory: Factory
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    query = """query($id: ID!) { node(id: $id) { ... on User { id student { id } wards { id } } } }"""
    guardian_id = encode_id("User", north.guardian.id)
    for who, sees in [
        (north.staff, True),
        (north.admin, True),
        (north.teacher, False),
        (north.student, False),
    ]:
        node = (await gql.as_user(factory.token(who)).data(query, {"id": guardian_id}))["node"]
        assert bool(node["wards"]) is sees, who.email
    student_id = encode_id("User", north.student.id)
    assert (await gql.as_user(factory.token(north.staff)).data(query, {"id": student_id}))["node"]["student"]
    for who in (north.guardian, north.mentor):  # they see the student, not the student's account records
        node = (await gql.as_user(factory.token(who)).data(query, {"id": student_id}))["node"]
        assert node is None or node["student"] is None
    foreign = await gql.as_user(factory.token(south.admin)).execute(query, {"id": guardian_id})
    assert codes(foreign) == ["FORBIDDEN"]


async def test_the_student_record_shows_guardians_and_contacts_to_whom_it_may(
    gql: GraphQLClient, factory: Factory
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    made = await create(staff, new_student(emergencyContacts=CONTACTS))
    link = """mutation($i: LinkGuardianInput!) { linkGuardian(input: $i) { userErrors { code } } }"""
    guardian_id = encode_id("User", north.guardian.id)
    linked = await staff.data(link, {"i": {"guardianId": guardian_id, "studentId": made["student"]["id"]}})
    assert linked["linkGuardian"]["userErrors"] == []
    variables = {"id": made["student"]["id"]}
    record = (await staff.data(STUDENT_RECORD, variables))["student"]
    assert record["emergencyContacts"] == [CONTACTS[0], CONTACTS[1] | {"email": None}]
    assert record["status"] == "ENROLLED"
    assert record["sourcedId"] is None
    assert [(g["relationship"], g["user"]["email"], g["user"]["status"]) for g in record["guardians"]] == [
        ("parent", "guardian@north.test", "ACTIVE")
    ]
    for who in (north.guardian,):
        seen = await gql.as_user(factory.token(who)).execute(STUDENT_RECORD, variables)
        assert codes(seen) == ["FORBIDDEN"]
        assert [e["path"] for e in seen["errors"]] == [["student", "emergencyContacts"]]
        assert seen["data"]["student"]["guardians"] == record["guardians"]
        assert seen["data"]["student"]["studentNumber"] == "N-1001"
    own = await gql.as_user(factory.token(north.student)).execute(
        STUDENT_RECORD, {"id": encode_id("Student", north.student.id)}
    )
    assert [e["path"] for e in own["errors"]] == [["student", "emergencyContacts"]]
    assert [g["user"]["id"] for g in own["data"]["student"]["guardians"]] == [guardian_id]
    taught = await gql.as_user(factory.token(north.teacher)).execute(
        STUDENT_RECORD, {"id": encode_id("Student", north.student.id)}
    )
    assert sorted(e["path"][-1] for e in taught["errors"]) == ["emergencyContacts", "guardians"]
    assert taught["data"]["student"]["name"] == north.student.name
    foreign = await gql.as_user(factory.token(south.staff)).execute(STUDENT_RECORD, variables)
    assert foreign["data"] == {"student": None}
    assert [(e["extensions"]["code"], e["message"]) for e in foreign["errors"]] == [
        ("FORBIDDEN", "Not found, or not yours to see.")
    ]


async def test_staff_make_a_student_record_in_one_go(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    payload = await create(
        gql.as_user(factory.token(north.staff)),
        new_student(
            name="  Ana Rivera ", email="Ana.Rivera@North.test", emergencyContacts=CONTACTS[:1], invite=True
        ),
    )
    assert payload["userErrors"] == []
    assert payload["student"] | {"id": None} == {
        "id": None,
        "name": "Ana Rivera",
        "email": "ana.rivera@north.test",
        "studentNumber": "N-1001",
        "gradeLevel": 9,
        "cohortYear": 2030,
        "status": "ENROLLED",
        "emergencyContacts": CONTACTS[:1],
    }
    invitation = payload["invitation"]
    assert invitation["email"] == "ana.rivera@north.test"
    assert invitation["url"] == f"/invite/{invitation['code']}"
    assert len(invitation["code"]) >= 32
    async with session_factory() as session:
        user = await session.scalar(select(User).where(User.email == "ana.rivera@north.test"))
        assert user is not None
        assert (user.status, user.password_hash, user.school_id) == (
            UserStatus.INVITED,
            None,
            north.school.id,
        )
        actions = list(
            await session.scalars(select(AuditEntry.action).where(AuditEntry.subject_id == user.id))
        )
    assert "student.created" in actions
    assert payload["student"]["id"] == encode_id("Student", user.id)
    assert await gql.as_user(factory.token(north.admin)).data(
        STUDENT_RECORD, {"id": payload["student"]["id"]}
    )
    assert codes(
        await gql.as_user(factory.token(north.teacher)).execute(CREATE, {"input": new_student()})
    ) == ["FORBIDDEN"]


async def test_a_number_or_email_in_use_writes_nothing(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    async with session_factory() as session:
        used_number = await session.scalar(
            select(StudentProfile.student_number).where(StudentProfile.user_id == north.student.id)
        )
    assert used_number is not None
    users_before, contacts_before = (
        await count(session_factory, User),
        await count(session_factory, EmergencyContact),
    )
    both = await create(
        staff, new_student(number=used_number, email="TEACHER@south.test", emergencyContacts=CONTACTS)
    )
    assert both["student"] is None
    assert both["invitation"] is None
    assert sorted((e["code"], tuple(e["field"])) for e in both["userErrors"]) == [
        ("CONFLICT", ("input", "email")),
        ("CONFLICT", ("input", "studentNumber")),
    ]
    invalid = await create(staff, new_student(email="not an email", gradeLevel=20))
    assert sorted(tuple(e["field"]) for e in invalid["userErrors"]) == [
        ("input", "email"),
        ("input", "gradeLevel"),
    ]
    assert (await count(session_factory, User), await count(session_factory, EmergencyContact)) == (
        users_before,
        contacts_before,
    )
    # The same number in another school is another student's.
    south_staff = gql.as_user(factory.token(south.staff))
    assert (await create(south_staff, new_student(number=used_number, email="x@south.test")))[
        "userErrors"
    ] == []


async def test_concurrent_duplicates_make_one_student(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    same_number = await asyncio.gather(
        *(create(staff, new_student(email=f"twin{n}@north.test")) for n in range(4))
    )
    assert sorted(len(p["userErrors"]) for p in same_number) == [0, 1, 1, 1]
    assert {e["field"][-1] for p in same_number for e in p["userErrors"]} == {"studentNumber"}
    same_email = await asyncio.gather(
        *(create(staff, new_student(number=f"E-{n}", email="e@north.test")) for n in range(4))
    )
    assert sorted(len(p["userErrors"]) for p in same_email) == [0, 1, 1, 1]
    assert {e["code"] for p in same_email for e in p["userErrors"]} == {"CONFLICT"}
    async with session_factory() as session:
        made = await session.scalar(select(func.count()).where(StudentProfile.school_id == north.school.id))
    assert made == 2 + 2


async def test_staff_edit_a_student_record(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    made = (await create(staff, new_student(emergencyContacts=CONTACTS)))["student"]

    async def update(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
        payload: dict[str, Any] = (await client.data(UPDATE, {"input": {"studentId": made["id"]} | fields}))[
            "updateStudent"
        ]
        return payload

    changed = await update(
        staff, name="Renamed Pupil", gradeLevel=10, status="ON_LEAVE", emergencyContacts=CONTACTS[1:]
    )
    assert changed["userErrors"] == []
    assert changed["student"] | {"id": None} == {
        "id": None,
        "name": "Renamed Pupil",
        "email": "new.pupil@north.test",
        "studentNumber": "N-1001",
        "gradeLevel": 10,
        "cohortYear": 2030,
        "status": "ON_LEAVE",
        "emergencyContacts": [CONTACTS[1] | {"email": None}],
    }
    kept = await update(staff, cohortYear=2031)
    assert kept["student"]["emergencyContacts"] == changed["student"]["emergencyContacts"]
    cleared = await update(staff, emergencyContacts=[])
    assert cleared["student"]["emergencyContacts"] == []
    async with session_factory() as session:
        taken = await session.scalar(
            select(StudentProfile.student_number).where(StudentProfile.user_id == north.other_student.id)
        )
    conflict = await update(staff, studentNumber=taken, email="student@north.test")
    assert sorted(e["field"][-1] for e in conflict["userErrors"]) == ["email", "studentNumber"]
    assert (await update(staff, studentNumber="N-1001", email="new.pupil@north.test"))["userErrors"] == []
    foreign = await update(gql.as_user(factory.token(south.staff)), name="Taken Over")
    assert [(e["code"], e["field"]) for e in foreign["userErrors"]] == [("NOT_FOUND", ["input", "studentId"])]
    assert codes(
        await gql.as_user(factory.token(north.teacher)).execute(UPDATE, {"input": {"studentId": made["id"]}})
    ) == ["FORBIDDEN"]
    async with session_factory() as session:
        entries = list(
            await session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "student.updated"))
        )
    assert entries[0] == {"changed": ["name", "gradeLevel", "status", "emergencyContacts"]}


async def test_statement_counts_do_not_grow_with_the_lists(
    metered: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    costs = []
    for slug, size in (("small", 2), ("large", 40)):
        school = await factory.school(slug)
        roster = await populate(session_factory, school, size, assignments=1)
        async with session_factory.begin() as session:
            session.add_all(
                GuardianLink(guardian_id=school.guardian.id, student_id=s) for s in roster.student_ids
            )
            session.add_all(
                EmergencyContact(
                    student_id=school.student.id, position=n, name=f"C{n}", relationship="aunt", phone="1"
                )
                for n in range(size)
            )
        admin, guardian = factory.token(school.admin), factory.token(school.guardian)
        record = {"id": encode_id("Student", school.student.id)}
        costs.append(
            {
                "users": await statements(metered, admin, USERS, {"first": 100}),
                "typo": await statements(metered, admin, USERS, {"filter": {"query": "pupli"}, "first": 100}),
                "record": await statements(metered, admin, STUDENT_RECORD, record),
                "wards": await statements(metered, guardian, MY_RECORDS, {}),
            }
        )
    assert costs[0] == costs[1]
    assert max(costs[1].values()) <= 25


async def test_a_renamed_student_is_renamed_on_the_cached_dashboards(
    gql: GraphQLClient, factory: Factory
) -> None:
    north = await factory.school("north")
    dashboard = "query { studentDashboard { student { name } } }"
    student = gql.as_user(factory.token(north.student))
    assert (await student.data(dashboard))["studentDashboard"]["student"]["name"] == north.student.name
    renamed = {"input": {"studentId": encode_id("Student", north.student.id), "name": "Renamed Student"}}
    assert (await gql.as_user(factory.token(north.staff)).data(UPDATE, renamed))["updateStudent"][
        "userErrors"
    ] == []
    assert (await student.data(dashboard))["studentDashboard"]["student"]["name"] == "Renamed Student"
