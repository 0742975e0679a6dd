"""Documents built to make validation slow (issue 22, item 2) are refused before validation, the
validation cache is not defeated by spacing, and sign-in mutations go one per request however
they are wrapped (item 7)."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import DocumentNode, GraphQLError, OperationDefinitionNode, get_introspection_query, parse
from strawberry.schema import schema as strawberry_schema

from config import Settings
from schema.extensions import ValidationResults
from schema.limits import document_size_error
from tests.clients import GraphQLClient
from tests.contract.documents import OPERATIONS

# The audit's document: 3,922 tokens, under every earlier limit; graphql-core's rule that
# fields can be merged compared its 560 `me` fields pairwise for 3.6 s of the event loop.
ATTACK = "{ " + "me{school{name}} " * 560 + "}"
# The slowest documents the bounds let through (BENCHMARKS.md): 14 copies (273 pairs of fields
# at one place, the limit being 300), and 30 aliases of a subtree (the alias limit).
WORST_ACCEPTED = [
    "{ " + "me{school{name}} " * 14 + "}",
    "{ " + " ".join(f"a{n}: me {{ school {{ name }} }}" for n in range(30)) + " }",
]


def first_error(result: dict[str, Any]) -> dict[str, Any]:
    assert result.get("data") is None, result
    error: dict[str, Any] = result["errors"][0]
    return error


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts graphql-core validations (Strawberry's `validate_document` calls `validate`)."""
    counted: list[int] = []
    real_validate = strawberry_schema.validate

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        counted.append(1)
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "validate", counting_validate)
    return counted


async def test_the_560_fold_document_is_refused_before_validation(
    gql: GraphQLClient, validations: list[int]
) -> None:
    assert await gql.execute("{ __typename }") == {"data": {"__typename": "Query"}}  # warm up
    validations.clear()
    started = time.perf_counter()
    error = first_error(await gql.execute(ATTACK))
    elapsed = time.perf_counter() - started
    assert error["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": 1000}
    assert "more than 1000 fields" in error["message"]
    assert validations == []
    assert elapsed < 1, "3.6 s of validation before; now its parsing (~0.1 s) and a linear count"


def aliased(count: int, field: str = "id") -> str:
    return " ".join(f"a{n}: {field}" for n in range(count))


# Each document is built to be one over a bound while under the others (with these settings);
# its twin at the bound itself passes on to validation (whose own rules may then refuse it:
# more than 30 aliases).
BOUNDS: list[tuple[str, dict[str, int], str, str, str]] = [
    (
        "fields of one selection set",
        {},
        "{ me { " + aliased(101) + " } }",
        "{ me { " + aliased(100) + " } }",
        "A selection set holds 101 fields and fragment spreads",
    ),
    (
        "fields and spreads merged from fragments",
        {},
        "{ me { ...F } } fragment F on User { " + aliased(98) + " ...G } fragment G on User { id }",
        "{ me { ...F } } fragment F on User { " + aliased(97) + " ...G } fragment G on User { id }",
        "A selection set holds 101 fields and fragment spreads",
    ),
    (
        "fields of the document",
        {},
        "{ " + " ".join(f"m{n}: me {{ {aliased(49)} }}" for n in range(20)) + " x: __typename }",
        "{ " + " ".join(f"m{n}: me {{ {aliased(49)} }}" for n in range(20)) + " }",
        "more than 1000 fields and fragments",
    ),
    (
        "pairs of fields at one place",
        {},
        "{ " + "me{school{name}} " * 15 + "}",
        "{ " + "me{school{name}} " * 14 + "}",
        "(315 pairs to compare; the limit is 300)",
    ),
    (
        "pairs through fragments",
        {"max_repeated_field_pairs": 90},
        "{ me { ...A ...B } } fragment A on User { " + "id " * 13 + "} fragment B on User { id }",
        "{ me { ...A ...B } } fragment A on User { " + "id " * 12 + "} fragment B on User { id }",
        "(91 pairs to compare; the limit is 90)",
    ),
]


@pytest.mark.parametrize(("bound", "update", "over", "at", "message"), BOUNDS, ids=[b[0] for b in BOUNDS])
def test_each_bound_refuses_a_document_built_to_hit_it(
    settings: Settings, bound: str, update: dict[str, int], over: str, at: str, message: str
) -> None:
    limits = settings.model_copy(update=update)
    refusal = document_size_error(parse(over), limits)
    assert refusal is not None, bound
    assert message in refusal.message
    assert refusal.extensions is not None
    assert refusal.extensions["code"] == "QUERY_TOO_LARGE"
    assert document_size_error(parse(at), limits) is None


async def test_a_refusal_reaches_the_client_with_its_code(gql: GraphQLClient) -> None:
    error = first_error(await gql.execute("{ " + "me{school{name}} " * 15 + "}"))
    assert error["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": 300}
    assert await gql.execute(WORST_ACCEPTED[0]) == {"data": {"me": None}}


async def test_an_empty_selection_set_is_refused_not_an_internal_error(gql: GraphQLClient) -> None:
    """graphql-core parses `{ }`; Strawberry's depth rule failed on it with `max()` of nothing."""
    for query in ("{ me { ...F } } fragment F on User { }", "{ me { ... on User { } } }"):
        error = first_error(await gql.execute(query))
        assert error == {
            "message": "A selection set is empty; ask for a field.",
            "extensions": {"code": "BAD_REQUEST"},
        }


async def test_fragments_nested_past_the_recursion_limit_are_refused(gql: GraphQLClient) -> None:
    fragments = " ".join(f"fragment F{n} on User {{ school {{ a {{ ...F{n + 1} }} }} }}" for n in range(280))
    error = first_error(await gql.execute("{ me { ...F0 } } " + fragments + " fragment F280 on User { id }"))
    assert error == {
        "message": "The document nests its fields and fragments too deeply.",
        "extensions": {"code": "QUERY_TOO_LARGE"},
    }


def contract_operations() -> list[OperationDefinitionNode]:
    return [
        definition
        for path in sorted(OPERATIONS.glob("*.graphql"))
        for definition in parse(Path(path).read_text()).definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def test_every_contract_operation_passes_half_the_bounds(settings: Settings) -> None:
    """The largest (GradebookLiveEvents): 91 fields and fragments, 34 in one selection set,
    67 pairs at one place; the bounds are 1,000, 100 and 300."""
    half = settings.model_copy(
        update={
            "max_document_fields": settings.max_document_fields // 2,
            "max_selection_fields": settings.max_selection_fields // 2,
            "max_repeated_field_pairs": settings.max_repeated_field_pairs // 2,
        }
    )
    operations = contract_operations()
    assert len(operations) > 200
    for operation in operations:
        assert document_size_error(DocumentNode(definitions=(operation,)), half) is None, operation.name
    assert document_size_error(parse(get_introspection_query(descriptions=True)), half) is None


async def test_spacing_and_comments_do_not_defeat_the_validation_cache(
    gql: GraphQLClient, validations: list[int]
) -> None:
    query = "query Mine { me { id school { name } } }"
    variants = [
        query,
        " " + query,
        "\n\n" + query.replace(" ", "  ") + "  ",
        "# a comment\nquery Mine {\n  me { id, school { name } }\n}\n",
        "query Mine{me{id school{name}}}",
    ]
    for variant in variants:
        assert await gql.execute(variant) == {"data": {"me": None}}
    assert len(validations) == 1
    assert await gql.execute("query Mine { me { id } }") == {"data": {"me": None}}
    assert len(validations) == 2


async def test_an_invalid_document_keeps_the_locations_of_its_own_text(
    gql: GraphQLClient, validations: list[int]
) -> None:
    """Errors point into the text they were found in: a respaced variant is validated again."""
    query = "{ me { nope } }"
    for _ in range(2):
        assert first_error(await gql.execute(query))["locations"] == [{"line": 1, "column": 8}]
    assert len(validations) == 1
    assert first_error(await gql.execute("\n" + query))["locations"] == [{"line": 2, "column": 8}]
    assert len(validations) == 2


def test_the_validation_results_are_bounded_least_recently_used_first() -> None:
    results = ValidationResults(maxsize=2)
    error = [GraphQLError("x")]
    results.put(b"a", b"ta", [])
    results.put(b"b", b"tb", error)
    assert results.get(b"a", b"other text") == []  # no errors: any spacing will do
    assert results.get(b"b", b"other text") is None  # errors: only for the text they point into
    results.put(b"c", b"tc", [])  # "b" is the least recently used
    assert results.get(b"b", b"tb") is None
    assert results.get(b"a", b"ta") == []
    assert results.get(b"c", b"tc") == []


LOGIN = 'login(input: {email: "a@x.test", password: "p"}) { accessToken }'
REFRESH = 'refreshToken(input: {refreshToken: "forged"}) { accessToken }'
WRAPPED_SIGN_INS = [
    f"mutation {{ ... on Mutation {{ a: {LOGIN} b: {LOGIN} }} }}",
    f"mutation {{ a: {LOGIN} ... on Mutation {{ b: {LOGIN} }} }}",
    f"mutation {{ ...F }} fragment F on Mutation {{ a: {LOGIN} b: {LOGIN} }}",
    f"mutation {{ a: {LOGIN} ...F }} fragment F on Mutation {{ ... on Mutation {{ b: {REFRESH} }} }}",
    f"mutation {{ ...F ...G }} fragment F on Mutation {{ a: {LOGIN} }} "
    f"fragment G on Mutation {{ ...F b: {LOGIN} }}",
]


@pytest.mark.parametrize("query", WRAPPED_SIGN_INS)
async def test_sign_in_mutations_go_one_per_request_through_fragments(gql: GraphQLClient, query: str) -> None:
    error = first_error(await gql.execute(query))
    assert "one per request" in error["message"]
    assert error["extensions"]["code"] == "BAD_REQUEST"


async def test_one_sign_in_through_a_fragment_spread_twice_runs_once(gql: GraphQLClient) -> None:
    """`...F ...F` merges into one `login` field: it executes once, so it is let through."""
    query = f"mutation {{ ...F ...F }} fragment F on Mutation {{ {LOGIN} }}"
    result = await gql.execute(query)
    assert all("one per request" not in error["message"] for error in result.get("errors", []))
    assert "login" in (result.get("data") or {}) or result["errors"][0]["path"] == ["login"]


async def second_users_latency(server: Any, attack: str, rounds: int = 8) -> list[float]:
    """Sends six variants of `attack` at once (each spaced differently, so that no cache
    serves it) and, just after, a second user's `{ __typename }`; its latency per round."""
    latencies = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        for round_ in range(rounds):
            attacks = [
                client.post("/graphql", json={"query": " " * (round_ * 6 + n) + attack}) for n in range(6)
            ]
            pending = [asyncio.ensure_future(request) for request in attacks]
            await asyncio.sleep(0.01)  # the six are on their way
            started = time.perf_counter()
            simple = await client.post("/graphql", json={"query": "{ __typename }"})
            latencies.append(time.perf_counter() - started)
            assert simple.json() == {"data": {"__typename": "Query"}}
            for response in await asyncio.gather(*pending):
                assert response.status_code == 200
    return latencies


@pytest.mark.slow
@pytest.mark.parametrize("attack", [ATTACK, *WORST_ACCEPTED], ids=["refused-560", "14-copies", "30-aliases"])
async def test_a_second_user_is_answered_while_six_attacks_arrive(start_server: Any, attack: str) -> None:
    server = start_server()
    async with httpx.AsyncClient(base_url=server.base_url) as client:  # warm up the process
        await client.post("/graphql", json={"query": "{ __typename }"})
    latencies = await second_users_latency(server, attack)
    print(
        f"second user's latency: median {statistics.median(latencies) * 1000:.0f} ms, max "
        f"{max(latencies) * 1000:.0f} ms; each: {[round(latency * 1000) for latency in latencies]}"
    )
    # 200 ms is the aim (BENCHMARKS.md has the figures); a busy CI machine gets a generous bound.
    assert statistics.median(latencies) < 0.6, latencies
