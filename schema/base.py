"""Schema conventions everyone uses: Node, UserError, and cursor connections."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from context import Context
from errors import Problem
from resolvers.pagination import Page


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


@strawberry.type(description="A problem the user can fix; `code` is stable, `message` is for people.")
class UserError:
    field: list[str] | None
    message: str
    code: str


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


T = TypeVar("T")
R = TypeVar("R")


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(
    description="A page of a list: `edges`/`nodes`, `pageInfo` and the `totalCount` of the whole list."
)
class Connection(Generic[T]):
    total_count: int | None = strawberry.field(
        description="The length of the whole list; null where counting it would cost a query of its own."
    )
    page_info: PageInfo
    edges: list[Edge[T]]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def connection_from_page(
    items: Sequence[T],
    cursors: Sequence[str],
    *,
    total_count: int | None,
    has_next_page: bool = False,
    has_previous_page: bool = False,
) -> Connection[T]:
    """Builds a Connection from one page of items and their (already encoded) cursors."""
    edges = [Edge(cursor=cursor, node=item) for item, cursor in zip(items, cursors, strict=True)]
    return Connection(
        total_count=total_count,
        page_info=PageInfo(
            has_next_page=has_next_page,
            has_previous_page=has_previous_page,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        ),
        edges=edges,
    )


def connection_of(page: Page[R], node: Callable[[R], T]) -> Connection[T]:
    """The Connection of a resolver's page, each of its items shown as `node` makes it."""
    return connection_from_page(
        [node(item) for item in page.items],
        page.cursors,
        total_count=page.total_count,
        has_next_page=page.has_next_page,
    )


Info = strawberry.Info[Context, None]


def user_errors(problems: Sequence[Problem]) -> list[UserError]:
    return [
        UserError(
            field=list(problem.field) if problem.field else None, message=problem.message, code=problem.code
        )
        for problem in problems
    ]


@strawberry.type(description="The answer of a mutation that only succeeds or not.")
class OkPayload:
    ok: bool
    user_errors: list[UserError]

    @classmethod
    def from_problems(cls, problems: Sequence[Problem]) -> OkPayload:
        return cls(ok=not problems, user_errors=user_errors(problems))
