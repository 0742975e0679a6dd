from __future__ import annotations

import pytest
from pydantic import ValidationError

from config import Settings, to_async_url


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
