"""The TeacherDashboard operation for a teacher with 6 classes of 35 students, on a temporary
SQLite database, in process: the median time and SQL statements over RUNS requests, with the
cache cold (invalidated before each request) and warm. Prints numbers; decides nothing.

    .venv/bin/python bench/teacher_dashboard.py [--classes 6] [--students 35] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import Settings
from context import AppState
from migrations.runner import upgrade_to_head
from models.db import create_engine, create_session_factory
from server import create_app
from tests.contract.documents import contract_operation
from tests.factories import Factory, teaching_load

DASHBOARD = contract_operation("TeacherDashboard")


async def measure(settings: Settings, classes: int, students: int, runs: int) -> None:
    engine = create_engine(settings)
    factory = Factory(create_session_factory(engine), settings)
    school = await factory.school("bench")
    await teaching_load(factory.session_factory, school, classes, students)
    await engine.dispose()
    app = create_app(settings)
    state: AppState = app.state.campus
    headers = {"Authorization": f"Bearer {factory.token(school.teacher)}"}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as http,
    ):
        for label, cold in (("cold", True), ("warm", False)):
            times, counts = [], []
            for _ in range(runs):
                if cold:
                    await state.teacher_dashboards.invalidate([school.teacher.id])
                started = time.perf_counter()
                body = (await http.post("/graphql", json={"query": DASHBOARD}, headers=headers)).json()
                times.append((time.perf_counter() - started) * 1000)
                assert "errors" not in body, body["errors"]
                counts.append(body["extensions"]["metrics"]["sqlStatements"])
            print(
                f"{label}: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms, "
                f"SQL statements {statistics.median(counts):g}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--students", type=int, default=35)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"TeacherDashboard, {args.classes} classes x {args.students} students, {args.runs} runs each")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            environment="test",
            database_url=f"sqlite:///{Path(folder) / 'bench.db'}",
            media_dir=Path(folder) / "media",
            debug_metrics=True,
            _env_file=None,  # type: ignore[call-arg]
        )
        upgrade_to_head(settings)
        asyncio.run(measure(settings, args.classes, args.students, args.runs))


if __name__ == "__main__":
    main()
