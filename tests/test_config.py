from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from config import Settings, configure_logging, load_settings, to_async_url
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./campusgraph.db", "sqlite+aiosqlite:///./campusgraph.db"),
        ("postgresql://postgres@127.0.0.1:5432/test", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
        ("postgres://u:p@db/x", "postgresql+asyncpg://u:p@db/x"),
        ("postgresql+psycopg://u@db/x", "postgresql+asyncpg://u@db/x"),
    ],
)
def test_database_url_gets_the_async_driver(given: str, expected: str) -> None:
    assert to_async_url(given) == expected


@pytest.mark.parametrize("url", ["mysql://root@db/x", "not a url"])
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL"):
        to_async_url(url)


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production", _env_file=None)  # type: ignore[call-arg]


def test_production_turns_graphiql_and_introspection_off_unless_asked() -> None:
    secret = "x" * 40
    production = Settings(environment="production", secret_key=secret, _env_file=None)  # type: ignore[call-arg]
    assert not production.graphiql_enabled
    assert not production.introspection_enabled
    enabled = Settings(environment="production", secret_key=secret, introspection=True, _env_file=None)  # type: ignore[call-arg]
    assert enabled.introspection_enabled


def test_a_service_is_on_only_with_both_url_and_key() -> None:
    settings = Settings(
        talentscope_api_url="http://127.0.0.1:9/",
        cohort_api_key="k",
        _env_file=None,  # type: ignore[call-arg]
    )
    assert not settings.services["talentscope"].enabled
    assert not settings.services["cohort"].enabled
    both = Settings(missions_api_url="http://127.0.0.1:9/", missions_api_key="k", _env_file=None)  # type: ignore[call-arg]
    assert both.services["missions"].enabled
    assert both.services["missions"].url == "http://127.0.0.1:9"


BAD_SETTINGS = [
    (
        {"ENVIRONMENT": "production", "SECRET_KEY": "short-secret-value"},
        "SECRET_KEY must be set to a random string of at least 32 characters in production",
    ),
    ({"MAX_QUERY_DEPTH": "abc"}, "MAX_QUERY_DEPTH must be a valid integer"),
    ({"ENVIRONMENT": "prod"}, "ENVIRONMENT must be 'development', 'test' or 'production'"),
    ({"DEBUG_METRICS": "maybe"}, "DEBUG_METRICS must be a valid boolean"),
    (
        {"DATABASE_URL": "mysql://root:hunter2@db/x"},
        "DATABASE_URL must start with sqlite:// or postgresql://",
    ),
    ({"DATABASE_URL": "postgresql://u:hunter2@db:port/x"}, "DATABASE_URL is not a valid database URL"),
    ({"REDIS_URL": "http://:hunter2@cache:6379"}, "REDIS_URL must start with redis://, rediss:// or unix://"),
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    (
        {"FAILED_LOGINS_PER_IP": "lots"},
        "FAILED_LOGINS_PER_IP must be a rate such as 10/15 minutes or 100/hour",
    ),
    ({"CORS_ORIGINS": "https://app.example"}, "CORS_ORIGINS must be a JSON list"),
    (
        {"MAX_ALIASES": "x", "MAX_TOKENS": "y"},
        "MAX_ALIASES must be a valid integer; MAX_TOKENS must be a valid integer",
    ),
]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No CampusGraph variable set and no .env file (the working directory is empty)."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize(("env", "problem"), BAD_SETTINGS)
def test_load_settings_names_the_bad_variable_never_its_value(
    environment: pytest.MonkeyPatch, env: dict[str, str], problem: str
) -> None:
    for name, value in env.items():
        environment.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    assert stopped.value.code == f"configuration: {problem}"
    assert "short-secret" not in problem
    assert "hunter2" not in problem


def test_load_settings_reads_good_values(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("MAX_QUERY_DEPTH", "20")
    environment.setenv("LOG_LEVEL", "debug")
    environment.setenv("ENVIRONMENT", "production")
    environment.setenv("SECRET_KEY", "s" * 40)
    settings = load_settings()
    assert (settings.max_query_depth, settings.log_level, settings.is_production) == (20, "DEBUG", True)


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Python in the repository with only `env` and PATH set (a .env file there still counts)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "ENVIRONMENT": "test", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("env", "problem"), BAD_SETTINGS[:2])
def test_a_bad_variable_stops_a_process_with_one_line(env: dict[str, str], problem: str) -> None:
    done = run_python(["-c", "from config import load_settings; load_settings()"], env)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"configuration: {problem}\n")


@pytest.mark.parametrize(("env", "problem"), BAD_SETTINGS[:2])
def test_server_py_stops_with_one_line_on_a_bad_variable(env: dict[str, str], problem: str) -> None:
    """Passes once server.py reads its settings with config.load_settings."""
    done = run_python(["server.py", "schema"], env)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"configuration: {problem}\n")


def test_configure_logging_sets_the_level_and_quiets_httpx() -> None:
    script = (
        "import logging; from config import Settings, configure_logging;"
        "configure_logging(Settings(log_level='DEBUG', _env_file=None));"
        "print(*(logging.getLogger(name).level for name in (None, 'httpx', 'httpcore')))"
    )
    done = run_python(["-c", script], {})
    assert done.stdout.split() == ["10", "30", "30"]


@pytest.fixture
def httpx_log_levels() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def test_httpx_requests_are_not_logged_at_info(
    caplog: pytest.LogCaptureFixture, httpx_log_levels: None
) -> None:
    def request() -> list[str]:
        caplog.clear()
        with httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200))) as client:
            client.get("http://service.test/v1/students")
        return [record.getMessage() for record in caplog.records if record.name == "httpx"]

    caplog.set_level(logging.INFO)
    assert request() == ['HTTP Request: GET http://service.test/v1/students "HTTP/1.1 200 OK"']
    configure_logging(Settings(log_level="INFO", _env_file=None))  # type: ignore[call-arg]
    assert request() == []
    assert logging.getLogger("httpx").level == logging.WARNING
