"""The HTTP surface: health and readiness, GraphiQL, GET and POST, masked errors."""

from __future__ import annotations

import logging

import httpx
import pytest

import schema.root
from config import Settings
from tests.clients import GraphQLClient
from tests.conftest import http_client_for


async def test_healthz_and_readyz_answer(http: httpx.AsyncClient, settings: Settings) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    expected = {"database": "ok", "backgroundLoops": "ok"} | ({"redis": "ok"} if settings.redis_url else {})
    assert ready.json() == {"status": "ok", "checks": expected}


async def test_readyz_is_503_when_the_database_is_unreachable(settings: Settings) -> None:
    broken = settings.model_copy(
        update={"database_url": "postgresql://nobody@127.0.0.1:1/none", "redis_url": None}
    )
    async with http_client_for(broken) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unavailable")


async def test_readyz_reports_an_unreachable_redis(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with http_client_for(broken) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["redis"].startswith("unavailable")


async def test_graphiql_is_served_to_browsers(http: httpx.AsyncClient) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_graphiql_is_off_in_production(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production", "secret_key": "s" * 40})
    async with http_client_for(production) as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        introspection = await client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
    assert page.status_code == 404
    assert introspection.json()["errors"][0]["message"].startswith("GraphQL introspection has been disabled")


async def test_queries_work_over_get_and_post(http: httpx.AsyncClient, gql: GraphQLClient) -> None:
    assert await gql.data("{ me { id } }") == {"me": None}
    over_get = await http.get("/graphql", params={"query": "{ me { id } }"})
    assert over_get.json() == {"data": {"me": None}}


async def test_syntax_errors_are_clear_and_not_masked(gql: GraphQLClient) -> None:
    result = await gql.execute("{ me { id }")
    assert "Syntax Error" in result["errors"][0]["message"]


async def test_node_needs_a_signed_in_user(gql: GraphQLClient) -> None:
    result = await gql.execute('{ node(id: "U3R1ZGVudDox") { id } }')
    assert result["data"] == {"node": None}
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unexpected_errors_are_masked_and_logged_with_a_request_id(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(ctx: object, global_id: str) -> object:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(schema.root, "load_node", explode)
    result = await gql.execute('{ node(id: "U3R1ZGVudDox") { id } }')
    error = result["errors"][0]
    assert error["message"] == "Internal server error."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "hunter2" not in str(result)
    request_id = error["extensions"]["requestId"]
    logged = [record for record in caplog.records if record.levelno == logging.ERROR]
    assert any(request_id in record.getMessage() and record.exc_info for record in logged)


async def test_answers_carry_security_headers(http: httpx.AsyncClient, settings: Settings) -> None:
    answer = await http.post("/graphql", json={"query": "{ me { id } }"})
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in answer.headers
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert "script-src 'self';" in page.headers["content-security-policy"], "GraphiQL's own scripts only"
    production = settings.model_copy(update={"environment": "production", "secret_key": "s" * 40})
    async with http_client_for(production) as client:
        assert "max-age" in (await client.get("/healthz")).headers["strict-transport-security"]


async def test_cors_allows_only_the_configured_origins_and_never_credentials(settings: Settings) -> None:
    configured = settings.model_copy(update={"cors_origins": ["https://app.school.test"]})
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with http_client_for(configured) as client:
        allowed = await client.options("/graphql", headers=preflight | {"Origin": "https://app.school.test"})
        denied = await client.options("/graphql", headers=preflight | {"Origin": "https://evil.test"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.school.test"
    assert "access-control-allow-credentials" not in allowed.headers
    assert denied.status_code == 400
    assert "access-control-allow-origin" not in denied.headers


async def test_the_root_leads_to_graphql(http: httpx.AsyncClient) -> None:
    response = await http.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/graphql"


GRAPHQL_RESPONSE_ACCEPT = {"Accept": "application/graphql-response+json, application/json;q=0.9"}


async def test_answers_follow_the_graphql_over_http_media_type_and_status_rules(
    http: httpx.AsyncClient,
) -> None:
    ok = await http.post("/graphql", json={"query": "{ __typename }"}, headers=GRAPHQL_RESPONSE_ACCEPT)
    assert (ok.status_code, ok.headers["content-type"]) == (200, "application/graphql-response+json")
    invalid = await http.post("/graphql", json={"query": "{ nope }"}, headers=GRAPHQL_RESPONSE_ACCEPT)
    assert invalid.status_code == 400, "a request error has no data: 4xx under the new media type"
    assert invalid.headers["content-type"] == "application/graphql-response+json"
    assert "data" not in invalid.json()
    legacy = await http.post("/graphql", json={"query": "{ nope }"})
    assert (legacy.status_code, legacy.headers["content-type"]) == (200, "application/json")


async def test_refusals_before_execution_are_graphql_errors_with_a_code(http: httpx.AsyncClient) -> None:
    unknown = await http.post(
        "/graphql",
        json={"query": "query A { __typename }", "operationName": "B"},
        headers=GRAPHQL_RESPONSE_ACCEPT,
    )
    assert unknown.status_code == 400
    assert unknown.headers["content-type"] == "application/graphql-response+json"
    [error] = unknown.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert "B" in error["message"]
    csrf = await http.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"Content-Type": "text/plain"} | GRAPHQL_RESPONSE_ACCEPT,
    )
    assert (csrf.status_code, csrf.headers["content-type"]) == (400, "application/graphql-response+json")
    assert csrf.json()["errors"][0]["extensions"]["code"] == "CSRF_REFUSED"
    legacy = await http.post("/graphql", json={"query": "query A { __typename }", "operationName": "B"})
    assert (legacy.status_code, legacy.headers["content-type"]) == (400, "application/json")
    assert legacy.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
