"""The simulator speaks services.md, and misbehaves on request."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from config import SERVICE_NAMES, Settings
from services.simulator import READ_SERVICES, running_simulator, service_env, simulated_item
from tests.conftest import ROOT, free_port
from tests.services.conftest import KEY, Simulator

AUTH = {"Authorization": f"Bearer {KEY}"}


def ids(count: int) -> str:
    return ",".join(f"NS-{n:06d}" for n in range(count))


async def test_reads_answer_the_deterministic_items(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
        response = await http.get("/leaderboard/v1/students?ids=NS-000123,NS-000124")
    assert response.status_code == 200
    assert response.json() == {
        "items": {
            number: item
            for number in ("NS-000123", "NS-000124")
            if (item := simulated_item("leaderboard", number)) is not None
        }
    }


def test_the_data_depends_only_on_the_service_and_the_student() -> None:
    assert simulated_item("cohort", "NS-000123") == {
        "name": "Fall 2026 A",
        "size": 29,
        "rankPercentile": 54.8,
    }
    assert simulated_item("cohort", "NS-000123") != simulated_item("cohort", "NS-000124")
    for service in READ_SERVICES:
        assert simulated_item(service, "NS-000042") == simulated_item(service, "NS-000042")
    missing = sum(simulated_item("missions", f"NS-{n:06d}") is None for n in range(1000))
    assert 50 < missing < 150  # about one student in ten has nothing


async def test_a_wrong_or_missing_key_is_401(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        wrong = await http.get("/missions/v1/students?ids=NS-1", headers={"Authorization": "Bearer nope"})
        missing = await http.get("/missions/v1/students?ids=NS-1")
        listing = await http.get("/notifications/v1/notifications")
    assert (wrong.status_code, missing.status_code, listing.status_code) == (401, 401, 401)


async def test_at_most_100_ids_a_call(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
        assert (await http.get(f"/cohort/v1/students?ids={ids(100)}")).status_code == 200
        assert (await http.get(f"/cohort/v1/students?ids={ids(101)}")).status_code == 400


async def test_unknown_services_are_404(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
        assert (await http.get("/grades/v1/students?ids=NS-1")).status_code == 404
        assert (await http.get("/notifications/v1/students?ids=NS-1")).status_code == 404


async def test_stats_count_calls_per_service_until_reset(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
        await http.get("/missions/v1/students?ids=NS-1")
        await http.get("/missions/v1/students?ids=NS-2", headers={"Authorization": "Bearer nope"})
        await http.get("/cohort/v1/students?ids=NS-1")
    calls = await sim.calls()
    assert list(calls) == list(SERVICE_NAMES)
    assert (calls["missions"], calls["cohort"], calls["talentscope"]) == (2, 1, 0)
    await sim.reset()
    assert set((await sim.calls()).values()) == {0}


@pytest.mark.parametrize(
    ("mode", "status", "body"),
    [
        ("error", 500, '{"error":"simulated failure"}'),
        ("malformed", 200, '{"items": {"'),
        ("wrong_shape", 200, '{"items":{"NS-000001":{"unexpected":true}}}'),
    ],
)
async def test_faults(sim: Simulator, mode: str, status: int, body: str) -> None:
    await sim.fault("talentscope", mode)
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
        faulty = await http.get("/talentscope/v1/students?ids=NS-000001")
        other = await http.get("/cohort/v1/students?ids=NS-000001")
        await sim.fault("talentscope", "ok")
        healed = await http.get("/talentscope/v1/students?ids=NS-000001")
    assert (faulty.status_code, faulty.text) == (status, body)
    assert other.status_code == healed.status_code == 200
    assert "items" in healed.json()


async def test_slow_delays_the_answer(sim: Simulator) -> None:
    await sim.fault("cohort", "slow", delay=0.3)
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
        started = time.perf_counter()
        response = await http.get("/cohort/v1/students?ids=NS-000001")
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.3


@pytest.mark.parametrize(
    "fault",
    [{"service": "grades", "mode": "error"}, {"service": "cohort", "mode": "flaky"}, {"service": "cohort"}],
)
async def test_an_unknown_fault_is_400(sim: Simulator, fault: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=sim.base_url) as http:
        assert (await http.post("/_faults", json=fault)).status_code == 400
        assert (await http.post("/_faults", content=b"not json")).status_code == 400


async def test_notifications_are_received_and_listed(sim: Simulator) -> None:
    notification = {
        "id": "n1",
        "userId": "u1",
        "kind": "K",
        "title": "T",
        "body": "B",
        "createdAt": "2026-11-23T09:00:00Z",
    }
    async with httpx.AsyncClient(base_url=sim.base_url, headers=AUTH) as http:
        accepted = await http.post("/notifications/v1/notifications", json=notification)
        incomplete = await http.post("/notifications/v1/notifications", json={"id": "n2"})
        not_json = await http.post("/notifications/v1/notifications", content=b"{")
    assert (accepted.status_code, incomplete.status_code, not_json.status_code) == (202, 400, 400)
    assert await sim.notifications() == [notification]


def test_service_env_points_every_service_at_the_simulator() -> None:
    env = service_env("http://127.0.0.1:8900/", "k")
    assert len(env) == 16
    assert env["TALENTSCOPE_API_URL"] == "http://127.0.0.1:8900/talentscope"
    assert env["COACHING_OS_API_KEY"] == "k"
    settings = Settings(environment="test", _env_file=None, **{k.lower(): v for k, v in env.items()})  # type: ignore[call-arg]
    assert all(endpoint.enabled for endpoint in settings.services.values())
    assert settings.services["ai_coach"].url == "http://127.0.0.1:8900/ai_coach"


async def test_running_simulator_stops_when_the_block_ends() -> None:
    async with running_simulator("k") as base_url, httpx.AsyncClient() as http:
        assert (await http.get(f"{base_url}/_stats")).status_code == 200
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"{base_url}/_stats")


@pytest.fixture
def simulator_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.simulator", "--port", str(port), "--key", "cli-key"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    yield f"http://127.0.0.1:{port}", process
    process.terminate()
    process.wait(timeout=10)
    assert process.stdout is not None
    process.stdout.close()


def test_the_command_line_serves_and_prints_the_environment(
    simulator_process: tuple[str, subprocess.Popen[bytes]],
) -> None:
    base_url, process = simulator_process
    deadline = time.monotonic() + 20
    while True:
        try:
            response = httpx.get(
                f"{base_url}/cohort/v1/students?ids=NS-000123", headers={"Authorization": "Bearer cli-key"}
            )
            break
        except httpx.TransportError:
            assert process.poll() is None, "the simulator exited"
            assert time.monotonic() < deadline, "the simulator did not start"
            time.sleep(0.1)
    assert response.json() == {"items": {"NS-000123": simulated_item("cohort", "NS-000123")}}
    process.terminate()
    output, _ = process.communicate(timeout=10)
    assert f"COHORT_API_URL={base_url}/cohort\nCOHORT_API_KEY=cli-key\n" in output.decode()


def test_port_0_takes_a_free_port_and_prints_it() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.simulator", "--port", "0", "--key", "cli-key"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("TALENTSCOPE_API_URL=http://127.0.0.1:")
        base_url = first.strip().removeprefix("TALENTSCOPE_API_URL=").removesuffix("/talentscope")
        assert not base_url.endswith(":0")
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"{base_url}/_stats")
                break
            except httpx.TransportError:
                assert process.poll() is None, "the simulator exited"
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_a_taken_port_ends_it_with_one_line_and_no_environment() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "services.simulator", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"simulator: cannot listen on 127.0.0.1:{port}: ")
    assert "--port 0 takes a free port" in done.stderr
    assert done.stderr.count("\n") == 1
