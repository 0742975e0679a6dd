"""The student dashboard against a real microservice simulator: batching, failures, tiers, cache."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis import asyncio as aioredis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.identity import CurrentUser
from config import Settings
from context import AppState, Context, build_state, close_state
from loaders import Loaders
from models import DashboardAction, Notification, StudentProfile, User
from models.enums import Tier
from resolvers import student_dashboard
from resolvers.ids import encode_id
from resolvers.student_dashboard_document import DashboardSections, StudentDashboardDocument
from services.clients import SectionStatus
from services.simulator import running_simulator, service_env, simulated_item
from stores.refresh_queue import MemoryRefreshQueue, RedisRefreshQueue, RefreshQueue
from tests.clients import GraphQLClient
from tests.conftest import ThrowawayRedis, http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, populate

DASHBOARD = contract_operation("StudentDashboard")
TRACK = contract_operation("TrackDashboardAction")
METRICS = contract_operation("DashboardMetrics")
SECTIONS = ["skills", "coaching", "missions", "portfolio", "cohort", "leaderboard"]
FREE_SERVICES = ["talentscope", "coaching_os", "missions", "portfolio", "cohort", "leaderboard"]


@pytest.fixture
async def simulator() -> AsyncIterator[str]:
    async with running_simulator() as base_url:
        yield base_url


def with_services(settings: Settings, simulator: str) -> Settings:
    services = {name.lower(): value for name, value in service_env(simulator).items()}
    return settings.model_copy(update=services)


@pytest.fixture
async def wired(settings: Settings, simulator: str) -> AsyncIterator[GraphQLClient]:
    """The app with every service pointing at the simulator."""
    async with http_client_for(with_services(settings, simulator)) as http:
        yield GraphQLClient(http)


@pytest.fixture
async def state(settings: Settings) -> AsyncIterator[AppState]:
    state = build_state(settings)
    yield state
    await close_state(state)


async def stats(base_url: str) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        counts: dict[str, int] = (await client.get("/_stats")).json()
    return counts


async def fault(base_url: str, service: str, mode: str, delay: float = 0) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.post("/_faults", json={"service": service, "mode": mode, "delay": delay})
        response.raise_for_status()


async def make_premium(session_factory: async_sessionmaker[AsyncSession], user_id: int) -> None:
    async with session_factory.begin() as session:
        await session.execute(update(User).where(User.id == user_id).values(tier=Tier.PREMIUM))


async def test_five_dashboards_in_one_request_make_one_call_per_service(
    wired: GraphQLClient, simulator: str, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = await populate(session_factory, north, 5)
    await make_premium(session_factory, roster.student_ids[0])
    aliases = " ".join(
        f's{n}: studentDashboard(studentId: "{encode_id("Student", s)}") {{ student {{ id tier }} '
        "skills { status items { name level percentile } } leaderboard { status rank } aiCoach { status } "
        "missions { status } portfolio { status } cohort { status } coaching { status } }"
        for n, s in enumerate(roster.student_ids)
    )
    data = await wired.as_user(factory.token(north.staff)).data(f"{{ {aliases} }}")
    calls = await stats(simulator)
    assert {service: calls.get(service, 0) for service in FREE_SERVICES} == dict.fromkeys(FREE_SERVICES, 1)
    assert calls.get("ai_coach", 0) == 1, "one premium student, one call"
    assert data["s0"]["aiCoach"]["status"] == "OK"
    assert {data[f"s{n}"]["aiCoach"]["status"] for n in range(1, 5)} == {"LOCKED"}


async def test_sections_show_the_services_data(
    wired: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    async with session_factory() as session:
        profile = await session.get(StudentProfile, north.student.id)
    assert profile is not None
    number = profile.student_number
    dashboard = (await wired.as_user(factory.token(north.student)).data(DASHBOARD, {}))["studentDashboard"]
    expected = simulated_item("talentscope", number)
    skills = dashboard["skills"]
    assert skills["status"] == "OK"
    assert [s["name"] for s in skills["items"]] == [s["name"] for s in (expected or {}).get("skills", [])]
    leaderboard = simulated_item("leaderboard", number)
    assert dashboard["leaderboard"]["rank"] == (leaderboard["rank"] if leaderboard else None)
    assert dashboard["aiCoach"] == {"status": "LOCKED", "recommendations": []}
    assert dashboard["student"]["tier"] == "FREE"
    assert dashboard["courses"][0]["class"]["title"] == "Algebra A"


async def test_a_slow_service_is_unavailable_and_the_rest_renders(
    wired: GraphQLClient, simulator: str, factory: Factory
) -> None:
    north = await factory.school("north")
    await fault(simulator, "missions", "slow", delay=5)
    started = time.monotonic()
    dashboard = (await wired.as_user(factory.token(north.student)).data(DASHBOARD, {}))["studentDashboard"]
    assert time.monotonic() - started < 2.5
    assert dashboard["missions"] == {"status": "UNAVAILABLE", "items": []}
    assert dashboard["skills"]["status"] == "OK"


async def test_without_services_every_section_says_unavailable(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    dashboard = (await gql.as_user(factory.token(north.student)).data(DASHBOARD, {}))["studentDashboard"]
    for section in SECTIONS:
        assert dashboard[section]["status"] == "UNAVAILABLE", section
    assert dashboard["notifications"] == {"status": "OK", "unreadCount": 0}


async def test_who_may_see_a_dashboard(gql: GraphQLClient, factory: Factory) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    student_id = encode_id("Student", north.student.id)
    for role in ("student", "guardian", "mentor", "teacher", "staff"):
        data = await gql.as_user(factory.token(north.users[role])).data(DASHBOARD, {"studentId": student_id})
        assert data["studentDashboard"]["student"]["id"] == student_id
    for user in (north.other_student, north.other_teacher, south.staff):
        refused = await gql.as_user(factory.token(user)).execute(DASHBOARD, {"studentId": student_id})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    no_student = await gql.as_user(factory.token(north.staff)).execute(DASHBOARD, {})
    assert no_student["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_cache_serves_repeats_and_writes_invalidate_it(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    student = gql.as_user(factory.token(north.student))
    first = (await student.data(DASHBOARD, {}))["studentDashboard"]
    second = (await student.data(DASHBOARD, {}))["studentDashboard"]
    assert second["generatedAt"] == first["generatedAt"], "served from the cache"
    metrics = (await gql.as_user(factory.token(north.staff)).data(METRICS))["dashboardMetrics"]
    assert metrics["cachedDashboards"] == 1
    assert metrics["cacheHitRate"] == 0.5
    assert {h["service"] for h in metrics["serviceHealth"]} >= {"talentscope", "notifications"}
    refused = await student.execute(METRICS)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_dashboard_actions_are_stored_and_checked(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    student = gql.as_user(factory.token(north.student))
    ok = (await student.data(TRACK, {"input": {"action": "open_mission", "targetId": "m1"}}))[
        "trackDashboardAction"
    ]
    assert ok == {"ok": True, "userErrors": []}
    bad = (await student.data(TRACK, {"input": {"action": "x" * 81}}))["trackDashboardAction"]
    assert bad["userErrors"][0]["code"] == "INVALID"
    async with session_factory() as session:
        stored = (await session.scalars(select(DashboardAction))).all()
    assert [(a.user_id, a.action, a.target_id) for a in stored] == [(north.student.id, "open_mission", "m1")]


async def test_unread_notifications_are_counted(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    async with session_factory.begin() as session:
        session.add_all(
            Notification(user_id=north.student.id, kind="k", title="t", body="b") for _ in range(3)
        )
    dashboard = (await gql.as_user(factory.token(north.student)).data(DASHBOARD, {}))["studentDashboard"]
    assert dashboard["notifications"]["unreadCount"] == 3


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_the_refresh_queue_hands_out_batches_in_order(
    kind: str, throwaway_redis: ThrowawayRedis
) -> None:
    redis = aioredis.Redis.from_url(throwaway_redis.url) if kind == "redis" else None
    queue: RefreshQueue = RedisRefreshQueue(redis) if redis is not None else MemoryRefreshQueue()
    await queue.enqueue([5, 3, 8, 1, 3])  # 3 twice: queued once
    first = await queue.take(wait_seconds=1)
    batch = [first, *await queue.take_more(10)]
    assert batch == [5, 3, 8, 1]
    assert await queue.take_more(10) == []
    await queue.done([5, 3, 8, 1])
    await queue.recover()  # nothing was left taken and not done
    assert await queue.depth() == 0
    await queue.enqueue([3])  # done: it may be queued again
    assert await queue.take(wait_seconds=1) == 3
    if redis is not None:
        await redis.aclose()


async def test_service_items_have_ids_unique_across_students(
    settings: Settings, simulator: str, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The services number each student's items from "m1"; a client's cache must never merge two
    students' items, so the API's ids are unique across students and stable across reads. The
    test is about ids, not latency: a loaded CI machine must not time a service out."""
    patient = with_services(settings, simulator).model_copy(update={"service_timeout_seconds": 10.0})
    async with http_client_for(patient) as http:
        await _ids_are_unique(GraphQLClient(http), factory, session_factory)


async def _ids_are_unique(
    wired: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = await populate(session_factory, north, 4)
    query = (
        "query($id: ID) { studentDashboard(studentId: $id) { missions { items { id title } } "
        "portfolio { items { id title } } } }"
    )
    staff = wired.as_user(factory.token(north.staff))
    seen: dict[str, str] = {}
    for student_id in roster.student_ids:
        variables = {"id": encode_id("Student", student_id)}
        first = await staff.data(query, variables)
        again = await staff.data(query, variables)
        assert first == again
        dashboard = first["studentDashboard"]
        ids = [item["id"] for section in ("missions", "portfolio") for item in dashboard[section]["items"]]
        assert not set(ids) & set(seen), "another student's item has this id"
        seen |= dict.fromkeys(ids, str(student_id))
    assert len(seen) > len(roster.student_ids), "the simulator gave the students items"


async def test_the_document_comes_back_from_its_json_as_it_was(
    settings: Settings, simulator: str, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The services' items validate by their camelCase names only and ignore other keys: a dump
    by Python names would come back emptied, silently. Every dump of the document round-trips."""
    north = await factory.school("north")
    roster = await populate(session_factory, north, 6)
    for student_id in roster.student_ids:
        await make_premium(session_factory, student_id)
    state = build_state(with_services(settings, simulator))
    try:
        loaders = Loaders(state.session_factory, state.services)
        documents = [await student_dashboard.assemble(state, loaders, s) for s in roster.student_ids]
    finally:
        await close_state(state)
    for document in documents:
        assert StudentDashboardDocument.model_validate_json(document.model_dump_json()) == document
        assert StudentDashboardDocument.model_validate(document.model_dump(mode="json")) == document
        assert StudentDashboardDocument.model_validate(document.model_dump()) == document
    for name in DashboardSections.model_fields:
        sections = [getattr(document.sections, name) for document in documents]
        assert {section.status for section in sections} == {SectionStatus.OK}, name
        assert any(section.data is not None for section in sections), f"no {name} to round-trip"


async def test_a_cached_dashboard_of_an_older_shape_is_assembled_again(
    state: AppState, factory: Factory
) -> None:
    """After a deploy that changed the document, what the cache holds from before is no dashboard."""
    north = await factory.school("north")
    before = b'{"studentId": %d, "generatedAt": %f, "sections": {}}' % (north.student.id, time.time())
    await state.dashboards.put(north.student.id, before, time.time())
    context = Context(app=state, request=None, response=None, user=CurrentUser.from_model(north.student))
    document = await student_dashboard.dashboard(context, north.student.id)
    assert document.name == north.student.name
    cached = await state.dashboards.get(north.student.id)
    assert cached is not None
    assert StudentDashboardDocument.model_validate_json(cached) == document, "replaced in the cache"
