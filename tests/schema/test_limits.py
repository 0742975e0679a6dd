"""Hostile and oversized requests are refused before they run, quickly, with a clear error."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from limits import parse as parse_limit
from strawberry.schema import schema as strawberry_schema

from config import Settings
from resolvers.ids import encode_id
from tests.clients import GraphQLClient, TransportWSClient, post_graphql
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory


def first_error(result: dict[str, Any]) -> dict[str, Any]:
    assert result.get("data") is None, result
    error: dict[str, Any] = result["errors"][0]
    return error


async def test_a_deep_query_is_refused(gql: GraphQLClient) -> None:
    query = "{ me { " + "school { " * 50 + "name" + " }" * 50 + " } }"
    error = first_error(await gql.execute(query))
    assert "exceeds maximum operation depth" in error["message"]


async def test_a_repeated_document_is_validated_once_and_still_refused(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The validation cache must hit: limit rules built per request would defeat it."""
    validations = []
    real_validate = strawberry_schema.validate

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        validations.append(1)
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting_validate)
    deep = "{ me { " + "school { " * 40 + "name" + " }" * 40 + " } } # repeated"
    for _ in range(3):
        assert "exceeds maximum operation depth" in first_error(await gql.execute(deep))["message"]
    assert len(validations) == 1


async def test_deeply_nested_fragments_count_towards_the_depth(gql: GraphQLClient) -> None:
    fragments = "".join(f"fragment F{n} on School {{ name }}\n" for n in range(1))
    chain = "{ me { " + "school { " * 13 + "...F0" + " }" * 13 + " } }"
    error = first_error(await gql.execute(chain + "\n" + fragments))
    assert "exceeds maximum operation depth" in error["message"]


async def test_fragments_that_expand_exponentially_are_refused_quickly(gql: GraphQLClient) -> None:
    """30 fragments, each spreading the next twice: 2^30 fields from 600 bytes. The depth and
    alias rules would walk each of them (seconds at 20 fragments, years at 30)."""
    fragments = "".join(f"fragment F{n} on User {{ ...F{n + 1} ...F{n + 1} }}\n" for n in range(30))
    query = "{ me { ...F0 } }\n" + fragments + "fragment F30 on User { id }"
    started = time.perf_counter()
    error = first_error(await gql.execute(query))
    assert time.perf_counter() - started < 1
    assert "more than 1000 fields and fragments once its fragments are expanded" in error["message"]
    assert error["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": 1000}
    introspection = await gql.execute(get_introspection_query())  # fragments used as meant
    assert "errors" not in introspection
    assert introspection["data"]["__schema"]["types"]


async def test_a_thousand_aliases_are_refused_quickly(gql: GraphQLClient) -> None:
    query = "{ " + " ".join(f"a{n}: me {{ id }}" for n in range(1000)) + " }"
    started = time.perf_counter()
    result = await gql.execute(query)
    elapsed = time.perf_counter() - started
    error = first_error(result)
    assert "aliases" in error["message"].lower() or "token" in error["message"].lower()
    assert elapsed < 2, "refused before execution"


async def test_too_many_tokens_are_refused(gql: GraphQLClient) -> None:
    query = "{ me { " + " ".join(["id"] * 5000) + " } }"
    error = first_error(await gql.execute(query))
    assert "token" in error["message"].lower()


async def test_a_huge_string_is_refused_as_a_too_large_body(http: httpx.AsyncClient) -> None:
    query = '{ node(id: "' + "x" * 2_000_000 + '") { id } }'
    response = await http.post("/graphql", json={"query": query})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_body_bigger_than_its_content_length_is_cut_off(http: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(30):
            yield b" " * 100_000

    response = await http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json", "content-length": "10"}
    )
    assert response.status_code == 413


async def test_batched_operations_are_refused(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json=[{"query": "{ me { id } }"}, {"query": "{ me { id } }"}])
    assert response.status_code == 400
    assert "batch" in response.text.lower()


async def test_mutations_over_get_are_refused(http: httpx.AsyncClient) -> None:
    query = 'mutation { logout(input: {refreshToken: "x"}) { ok } }'
    response = await http.get("/graphql", params={"query": query})
    assert response.status_code == 400
    assert "mutations are not allowed when using get" in response.text.lower()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_simple_cross_site_posts_need_a_preflight_header(
    http: httpx.AsyncClient, content_type: str
) -> None:
    body = b'{"query": "{ me { id } }"}'
    refused = await http.post("/graphql", content=body, headers={"content-type": content_type})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "CSRF_REFUSED"


async def test_sign_in_mutations_cannot_be_repeated_in_one_request(gql: GraphQLClient) -> None:
    query = """mutation {
      a: login(input: {email: "a@x.test", password: "p"}) { accessToken }
      b: login(input: {email: "a@x.test", password: "q"}) { accessToken }
    }"""
    error = first_error(await gql.execute(query))
    assert "one per request" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


AUDIT_PAGE = "{ auditLog(first: 100) { totalCount nodes { id action } } }"


async def test_a_costly_query_is_refused_with_its_cost(settings: Settings, factory: Factory) -> None:
    north = await factory.school("north")
    async with http_client_for(settings.model_copy(update={"max_query_cost": 50})) as http:
        signed_in = GraphQLClient(http, factory.token(north.staff))
        error = first_error(await signed_in.execute(AUDIT_PAGE))
        assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 101, "maxCost": 50}
        assert (await signed_in.data("{ auditLog(first: 40) { nodes { id } } }"))["auditLog"]["nodes"] == []


async def test_each_user_spends_a_cost_budget(settings: Settings, factory: Factory) -> None:
    north = await factory.school("north")
    async with http_client_for(settings.model_copy(update={"query_cost_budget": "250/hour"})) as http:
        staff = GraphQLClient(http, factory.token(north.staff))
        admin = GraphQLClient(http, factory.token(north.admin))
        assert "auditLog" in await staff.data(AUDIT_PAGE)
        assert "auditLog" in await staff.data(AUDIT_PAGE)
        error = first_error(await staff.execute(AUDIT_PAGE))
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert "auditLog" in await admin.data(AUDIT_PAGE), "budgets are per user"


async def test_the_cost_is_reported_when_asked(
    http: httpx.AsyncClient, factory: Factory, settings: Settings
) -> None:
    north = await factory.school("north")
    headers = {"Authorization": f"Bearer {factory.token(north.staff)}", "X-Include-Cost": "true"}
    response = await http.post("/graphql", json={"query": AUDIT_PAGE}, headers=headers)
    cost = response.json()["extensions"]["cost"]
    limit = parse_limit(settings.query_cost_budget).amount
    assert cost["requested"] == 101
    assert cost["limit"] == limit
    assert cost["remaining"] == limit - 101
    plain = await http.post(
        "/graphql", json={"query": AUDIT_PAGE}, headers={"Authorization": headers["Authorization"]}
    )
    assert "extensions" not in plain.json()


async def test_production_gives_no_field_suggestions(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production", "secret_key": "s" * 40})
    async with http_client_for(settings) as http:
        development = (await http.post("/graphql", json={"query": "{ mee { id } }"})).json()
    async with http_client_for(production) as http:
        hidden = (await http.post("/graphql", json={"query": "{ mee { id } }"})).json()
    assert "Did you mean 'me'" in development["errors"][0]["message"]  # 'me' or, now, 'fees'?
    assert hidden["errors"][0]["message"] == "Cannot query field 'mee' on type 'Query'."


MESSAGE_ADDED = contract_operation("MessageAdded")


async def test_subscriptions_work_with_debug_metrics_each_event_with_its_statements(
    start_server: Any, factory: Factory
) -> None:
    """DEBUG_METRICS used to end every subscription with an AttributeError (the extension's
    results are asked for at each event, before the operation ends)."""
    north = await factory.school("north")
    server = start_server(DEBUG_METRICS="true")
    mentor = factory.token(north.mentor)
    started = await post_graphql(
        server.base_url,
        mentor,
        contract_operation("StartConversation"),
        {"input": {"participantIds": [encode_id("User", north.student.id)]}},
    )
    conversation_id = started["startConversation"]["conversation"]["id"]
    student = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.student)})
    await student.subscribe(MESSAGE_ADDED, {"conversationId": conversation_id})
    await asyncio.sleep(0.5)  # live once the server has subscribed to the bus
    for body in ("first", "second"):
        variables = {"input": {"conversationId": conversation_id, "body": body}}
        await post_graphql(server.base_url, mentor, contract_operation("SendMessage"), variables)
        message = await student.receive(wait=5)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        assert message["payload"]["data"]["messageAdded"]["body"] == body
        metrics = message["payload"]["extensions"]["metrics"]
        assert set(metrics) == {"sqlStatements"}
        assert isinstance(metrics["sqlStatements"], int)
        assert metrics["sqlStatements"] >= 1, "this event's own statements (its author, attachments)"
    await student.close()
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": f"Bearer {mentor}"}
        )
        refused = await http.post("/graphql", json={"query": "{ me { nope } }"})
    assert set(response.json()["extensions"]["metrics"]) == {"sqlStatements", "durationMs"}
    assert "durationMs" in refused.json()["extensions"]["metrics"], "a refused query has its metrics too"


async def test_a_subscription_spends_the_budget_and_is_refused_when_it_is_spent(
    start_server: Any, factory: Factory
) -> None:
    north = await factory.school("north")
    server = start_server(QUERY_COST_BUDGET="20/hour")  # MessageAdded costs 15
    student = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.student)})
    variables = {"conversationId": encode_id("Conversation", 1)}
    codes: list[list[str]] = []
    for _ in range(2):
        operation_id = await student.subscribe(MESSAGE_ADDED, variables)
        codes.append([])
        while True:  # the first one ends (no such conversation), the second is refused
            message = await student.receive(wait=5)
            assert message["id"] == operation_id, message
            if message["type"] == "complete":
                break
            errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
            codes[-1].extend(error["extensions"]["code"] for error in errors)
            if message["type"] == "error":
                break
    await student.close()
    assert "RATE_LIMITED" not in codes[0]
    assert codes[1] == ["RATE_LIMITED"]
