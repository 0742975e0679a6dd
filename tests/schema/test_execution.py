"""Plain scalar fields read directly give the very answers, and errors, of standard execution."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema.execution import PlainLeafExecutor


@strawberry.enum
class Mood(enum.Enum):
    CALM = "calm"
    BUSY = "busy"


class Broken:
    @property
    def name(self) -> str:
        raise RuntimeError("no name today")


@strawberry.type
class Item:
    name: str
    note: str | None
    score: float | None
    mood: Mood
    tags: list[str]

    @strawberry.field
    def shout(self, times: int = 1) -> str:
        return self.name.upper() * times


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [
            Item(name="a", note=None, score=1.5, mood=Mood.CALM, tags=["x"]),
            Item(name="b", note="n", score=None, mood=Mood.BUSY, tags=[]),
        ]

    @strawberry.field
    def nameless(self) -> Item:
        return Item(name=None, note=None, score=None, mood=Mood.CALM, tags=[])  # type: ignore[arg-type]

    @strawberry.field
    def unreadable(self) -> Item:
        return Broken()  # type: ignore[return-value]

    @strawberry.field
    def moody(self) -> Item:
        return Item(name="c", note=None, score=None, mood="cheerful", tags=[])  # type: ignore[arg-type]


def execute(executor: type[StrawberryGraphQLCoreExecutionContext], query: str) -> dict[str, Any]:
    schema = strawberry.Schema(Query, execution_context_class=executor)
    result = schema.execute_sync(query)
    return {
        "data": result.data,
        "errors": [(e.message, e.path) for e in result.errors or []],
    }


@pytest.mark.parametrize(
    "query",
    [
        "{ items { name note score mood tags shout(times: 2) } }",
        "{ nameless { name } }",
        "{ nameless { note score } }",
        "{ unreadable { name } }",
        "{ moody { name mood } }",
    ],
)
def test_the_same_answer_as_standard_execution(query: str) -> None:
    assert execute(PlainLeafExecutor, query) == execute(StrawberryGraphQLCoreExecutionContext, query)


def test_errors_keep_their_message_and_path() -> None:
    result = execute(PlainLeafExecutor, "{ nameless { name } }")
    assert result == {
        "data": None,
        "errors": [("Cannot return null for non-nullable field Item.name.", ["nameless", "name"])],
    }
    assert execute(PlainLeafExecutor, "{ unreadable { name } }")["errors"] == [
        ("no name today", ["unreadable", "name"])
    ]


def test_plain_scalar_fields_skip_the_resolve_info(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    standard = PlainLeafExecutor.build_resolve_info

    def counting(self: PlainLeafExecutor, field_def: Any, field_nodes: Any, *args: Any) -> Any:
        built.append(field_nodes[0].name.value)
        return standard(self, field_def, field_nodes, *args)

    monkeypatch.setattr(PlainLeafExecutor, "build_resolve_info", counting)
    execute(PlainLeafExecutor, "{ items { name note score mood tags shout } }")
    # `items` has a resolver, `tags` is a list, `shout` has a resolver: only they take the long way.
    assert sorted(built) == ["items", "shout", "shout", "tags", "tags"]
