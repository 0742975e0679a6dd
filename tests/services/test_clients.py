"""ServiceClients against the simulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from services.clients import (
    SectionStatus,
    ServiceCallError,
    ServiceClients,
    ServiceDisabledError,
    ServiceHealth,
)
from services.items import ITEM_MODELS
from services.simulator import READ_SERVICES, simulated_item
from tests.conftest import free_port
from tests.services.conftest import FakeClock, Simulator

OK, STALE, UNAVAILABLE = SectionStatus.OK, SectionStatus.STALE, SectionStatus.UNAVAILABLE
STUDENTS = [f"NS-{n:06d}" for n in range(250)]
NOTIFICATION = {
    "id": "n-1",
    "userId": "u-42",
    "kind": "GRADE_POSTED",
    "title": "New grade in Algebra",
    "body": "Quiz 3: 18/20",
    "createdAt": "2026-11-23T09:30:00Z",
}


def a_student_without(service: str) -> str:
    return next(number for number in STUDENTS if simulated_item(service, number) is None)


def health_of(clients: ServiceClients, service: str) -> ServiceHealth:
    return next(health for health in clients.health() if health.service == service)


# --- Reading --------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", READ_SERVICES)
async def test_250_students_cost_3_calls_and_match_the_service(
    clients: ServiceClients, sim: Simulator, service: str
) -> None:
    result = await clients.fetch(service, STUDENTS)

    assert (await sim.calls())[service] == 3  # at most 100 ids a call; the simulator refuses more
    assert result.service == service
    assert list(result.sections) == STUDENTS
    model = ITEM_MODELS[service]
    for number in STUDENTS:
        section = result[number]
        raw = simulated_item(service, number)
        assert section.status is OK
        assert section.data == (None if raw is None else model.model_validate(raw))
        assert section.updated_at is not None


async def test_duplicates_are_asked_once_and_nothing_costs_nothing(
    clients: ServiceClients, sim: Simulator
) -> None:
    result = await clients.fetch("cohort", ["NS-000007", "NS-000007"])
    assert list(result.sections) == ["NS-000007"]
    assert (await clients.fetch("cohort", [])).sections == {}
    assert (await sim.calls())["cohort"] == 1


async def test_a_student_the_service_does_not_know_is_ok_and_empty(clients: ServiceClients) -> None:
    number = a_student_without("missions")
    section = (await clients.fetch("missions", [number]))[number]
    assert section.status is OK
    assert section.data is None
    assert section.updated_at is not None


async def test_typed_items(clients: ServiceClients) -> None:
    section = (await clients.fetch("leaderboard", ["NS-000123"]))["NS-000123"]
    assert section.data is not None
    assert section.data.rank <= section.data.participants  # typed as LeaderboardItem


async def test_only_read_services_can_be_fetched(clients: ServiceClients) -> None:
    with pytest.raises(ValueError, match="not a read service"):
        await clients.fetch("notifications", ["NS-000001"])


@pytest.mark.parametrize("url", ["127.0.0.1:8900/cohort", "ftp://example.edu/cohort", "http://[::1"])
def test_a_url_that_cannot_work_is_refused_at_startup(
    make_clients: Callable[..., ServiceClients], url: str
) -> None:
    with pytest.raises(ValueError, match="COHORT_API_URL is not an http"):
        make_clients(cohort_api_url=url)


# --- Failures --------------------------------------------------------------------------------------


async def test_a_disabled_service_is_unavailable_without_a_call(
    make_clients: Callable[..., ServiceClients], sim: Simulator
) -> None:
    clients = make_clients(missions_api_url=None)
    result = await clients.fetch("missions", STUDENTS)
    assert {section.status for section in result.sections.values()} == {UNAVAILABLE}
    assert all(section.data is None for section in result.sections.values())
    assert (await sim.calls())["missions"] == 0
    assert not clients.enabled("missions")


async def test_a_slow_service_times_out_without_holding_up_the_others(
    clients: ServiceClients, sim: Simulator
) -> None:
    await sim.fault("missions", "slow", delay=5)
    started = time.perf_counter()
    missions, skills = await asyncio.gather(
        clients.fetch("missions", STUDENTS), clients.fetch("talentscope", STUDENTS)
    )
    elapsed = time.perf_counter() - started

    assert elapsed < 2  # the budget is 0.8 s a call, and the 3 calls run in parallel
    assert {section.status for section in missions.sections.values()} == {UNAVAILABLE}
    assert {section.status for section in skills.sections.values()} == {OK}
    assert health_of(clients, "missions").last_error == "no answer within 0.8 s"


@pytest.mark.parametrize(
    ("mode", "error"),
    [("error", "HTTP 500"), ("malformed", "malformed answer"), ("wrong_shape", "malformed answer")],
)
async def test_failed_calls_are_unavailable(
    clients: ServiceClients, sim: Simulator, mode: str, error: str
) -> None:
    await sim.fault("portfolio", mode)
    section = (await clients.fetch("portfolio", ["NS-000001"]))["NS-000001"]
    assert (section.status, section.data, section.updated_at) == (UNAVAILABLE, None, None)
    health = health_of(clients, "portfolio")
    assert health.status == "DEGRADED"
    assert health.last_error is not None
    assert health.last_error.startswith(error)


async def test_a_wrong_key_is_a_failure(make_clients: Callable[..., ServiceClients], sim: Simulator) -> None:
    clients = make_clients(cohort_api_key="not-the-key")
    section = (await clients.fetch("cohort", ["NS-000001"]))["NS-000001"]
    assert section.status is UNAVAILABLE
    assert (await sim.calls())["cohort"] == 1
    assert health_of(clients, "cohort").last_error == "HTTP 401"


async def test_an_unreachable_service_is_unavailable(make_clients: Callable[..., ServiceClients]) -> None:
    clients = make_clients(leaderboard_api_url=f"http://127.0.0.1:{free_port()}")
    section = (await clients.fetch("leaderboard", ["NS-000001"]))["NS-000001"]
    assert section.status is UNAVAILABLE
    last_error = health_of(clients, "leaderboard").last_error
    assert last_error is not None
    assert last_error.startswith("ConnectError")


# --- Circuit breaker and last good values ---------------------------------------------------------


async def test_after_3_failures_the_circuit_opens_and_serves_the_last_good_value_as_stale(
    clients: ServiceClients, sim: Simulator
) -> None:
    known, unknown, never_fetched = "NS-000005", a_student_without("talentscope"), "NS-999999"
    good = await clients.fetch("talentscope", [known, unknown])
    await sim.fault("talentscope", "error")

    for _ in range(3):
        failed = await clients.fetch("talentscope", [known, unknown, never_fetched])
    assert (await sim.calls())["talentscope"] == 4
    assert health_of(clients, "talentscope").status == "DOWN"

    served = await clients.fetch("talentscope", [known, unknown, never_fetched])
    assert (await sim.calls())["talentscope"] == 4  # open: no call
    for result in (failed, served):
        assert result[known].status is STALE
        assert result[known].data == good[known].data
        assert result[known].data is not None
        assert result[known].updated_at == good[known].updated_at
        assert (result[unknown].status, result[unknown].data) == (STALE, None)  # it had nothing
        assert result[unknown].updated_at == good[unknown].updated_at
        assert (result[never_fetched].status, result[never_fetched].data) == (UNAVAILABLE, None)


async def test_after_the_cool_down_a_successful_probe_closes_the_circuit(
    clients: ServiceClients, sim: Simulator, clock: FakeClock
) -> None:
    await sim.fault("cohort", "error")
    for _ in range(3):
        await clients.fetch("cohort", ["NS-000001"])
    await sim.fault("cohort", "ok")
    clock.advance(29)
    assert (await clients.fetch("cohort", ["NS-000001"]))["NS-000001"].status is UNAVAILABLE
    assert (await sim.calls())["cohort"] == 3

    clock.advance(1)
    assert (await clients.fetch("cohort", ["NS-000001"]))["NS-000001"].status is OK
    assert (await clients.fetch("cohort", ["NS-000002"]))["NS-000002"].status is OK
    assert (await sim.calls())["cohort"] == 5
    assert health_of(clients, "cohort").status == "OK"


async def test_a_failed_probe_opens_the_circuit_again(
    clients: ServiceClients, sim: Simulator, clock: FakeClock
) -> None:
    await sim.fault("ai_coach", "malformed")
    for _ in range(3):
        await clients.fetch("ai_coach", ["NS-000001"])
    clock.advance(30)
    await clients.fetch("ai_coach", ["NS-000001"])  # the probe, failing
    await clients.fetch("ai_coach", ["NS-000001"])
    assert (await sim.calls())["ai_coach"] == 4
    assert health_of(clients, "ai_coach").status == "DOWN"


async def test_half_open_sends_a_single_probe_for_a_large_batch(
    clients: ServiceClients, sim: Simulator, clock: FakeClock
) -> None:
    good = await clients.fetch("missions", STUDENTS)
    await sim.fault("missions", "error")
    await clients.fetch("missions", STUDENTS)  # 3 failed calls: open
    await sim.fault("missions", "ok")
    clock.advance(30)

    result = await clients.fetch("missions", STUDENTS)

    assert (await sim.calls())["missions"] == 3 + 3 + 1
    assert {result[number].status for number in STUDENTS[:100]} == {OK}
    assert {result[number].status for number in STUDENTS[100:]} == {STALE}
    assert all(result[number].data == good[number].data for number in STUDENTS)


async def test_last_good_values_are_bounded(
    make_clients: Callable[..., ServiceClients], sim: Simulator
) -> None:
    clients = make_clients(cache_size=2)
    await clients.fetch("leaderboard", ["NS-000001", "NS-000002", "NS-000003"])
    await sim.fault("leaderboard", "error")
    result = await clients.fetch("leaderboard", ["NS-000001", "NS-000002", "NS-000003"])
    assert [result[n].status for n in ("NS-000001", "NS-000002", "NS-000003")] == [UNAVAILABLE, STALE, STALE]


# --- Notifications --------------------------------------------------------------------------------


async def test_a_notification_is_posted_as_the_contract_says(clients: ServiceClients, sim: Simulator) -> None:
    await clients.deliver_notification(NOTIFICATION)
    assert await sim.notifications() == [NOTIFICATION]
    assert (await sim.calls())["notifications"] == 1


async def test_only_the_contract_fields_are_sent(clients: ServiceClients, sim: Simulator) -> None:
    await clients.deliver_notification(NOTIFICATION | {"attempts": 3})
    assert await sim.notifications() == [NOTIFICATION]


async def test_a_refused_notification_raises(clients: ServiceClients, sim: Simulator) -> None:
    await sim.fault("notifications", "error")
    with pytest.raises(ServiceCallError, match="notifications: HTTP 500"):
        await clients.deliver_notification(NOTIFICATION)
    assert await sim.notifications() == []


async def test_a_slow_notifications_service_raises_within_the_budget(
    clients: ServiceClients, sim: Simulator
) -> None:
    await sim.fault("notifications", "slow", delay=5)
    started = time.perf_counter()
    with pytest.raises(ServiceCallError, match=r"no answer within 0\.8 s"):
        await clients.deliver_notification(NOTIFICATION)
    assert time.perf_counter() - started < 2


async def test_notifications_have_a_circuit_breaker_too(clients: ServiceClients, sim: Simulator) -> None:
    await sim.fault("notifications", "error")
    for _ in range(3):
        with pytest.raises(ServiceCallError):
            await clients.deliver_notification(NOTIFICATION)
    with pytest.raises(ServiceCallError, match="circuit open, last error: HTTP 500"):
        await clients.deliver_notification(NOTIFICATION)
    assert (await sim.calls())["notifications"] == 3


async def test_a_notification_to_a_disabled_service_raises(
    make_clients: Callable[..., ServiceClients], sim: Simulator
) -> None:
    clients = make_clients(notifications_api_key=None)
    assert not clients.enabled("notifications")
    with pytest.raises(ServiceDisabledError, match="not configured"):
        await clients.deliver_notification(NOTIFICATION)
    assert (await sim.calls())["notifications"] == 0


@pytest.mark.parametrize(
    "payload", [{k: v for k, v in NOTIFICATION.items() if k != "userId"}, NOTIFICATION | {"userId": 42}]
)
async def test_a_payload_off_the_contract_is_refused_before_any_call(
    clients: ServiceClients, sim: Simulator, payload: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="userId"):
        await clients.deliver_notification(payload)
    assert (await sim.calls())["notifications"] == 0


# --- Health ---------------------------------------------------------------------------------------


async def test_health_reflects_each_service(
    make_clients: Callable[..., ServiceClients], sim: Simulator, clock: FakeClock
) -> None:
    clients = make_clients(ai_coach_api_url=None)
    assert [(h.service, h.status) for h in clients.health()] == [
        ("talentscope", "OK"),
        ("coaching_os", "OK"),
        ("missions", "OK"),
        ("portfolio", "OK"),
        ("cohort", "OK"),
        ("notifications", "OK"),
        ("leaderboard", "OK"),
        ("ai_coach", "OFF"),
    ]
    assert health_of(clients, "missions") == ServiceHealth("missions", "OK", None, None)

    await clients.fetch("missions", ["NS-000001"])
    healthy = health_of(clients, "missions")
    assert healthy.status == "OK"
    assert healthy.latency_ms is not None
    assert 0 < healthy.latency_ms < 800

    await sim.fault("missions", "error")
    await clients.fetch("missions", ["NS-000001"])
    assert health_of(clients, "missions").status == "DEGRADED"
    await clients.fetch("missions", ["NS-000001"])
    await clients.fetch("missions", ["NS-000001"])
    assert health_of(clients, "missions").status == "DOWN"
    assert health_of(clients, "missions").last_error == "HTTP 500"

    clock.advance(30)
    await sim.fault("missions", "slow", delay=0.3)
    probe = asyncio.create_task(clients.fetch("missions", ["NS-000001"]))
    await asyncio.sleep(0.1)
    assert health_of(clients, "missions").status == "DEGRADED"  # probing
    assert (await probe)["NS-000001"].status is OK
    assert health_of(clients, "missions").status == "OK"
