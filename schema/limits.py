"""Checks made before validation (the document's size, see `document_size_error`), and after
validation and before execution: query cost (priced by schema/cost.py), the per-user cost
budget, sensitive mutations, and (in production) no field suggestions.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from config import Settings
from schema.cost import CostCalculator, fragments_of, operation_of

SENSITIVE_MUTATIONS = frozenset({"login", "register", "refreshToken", "changePassword"})

SUGGESTION = re.compile(r" Did you mean .*\?$")


class QueryLimits(SchemaExtension):
    """Rejects, before execution, queries that cost too much or spend past the caller's budget,
    and requests that send a sensitive mutation more than once."""

    async def on_execute(self) -> AsyncIterator[None]:
        """Runs after validation; a result set here means the operation is not executed.

        A subscription is started whatever the result says (Strawberry checks it for queries
        and mutations only): for one, the error is raised, which ends the subscription with it."""
        context = self.execution_context
        operation = operation_of(context.graphql_document, context.operation_name)
        if operation is not None:
            error = self._sensitive_mutation_error(operation) or await self._cost_error(operation)
            if error is not None:
                if operation.operation.value == "subscription":
                    raise error
                context.result = ExecutionResult(data=None, errors=[error])
        yield

    def _sensitive_mutation_error(self, operation: OperationDefinitionNode) -> GraphQLError | None:
        """More than one sign-in mutation field runs, counted by response name (the fields that
        execute) through the inline fragments and fragment spreads of the top level too."""
        if operation.operation.value != "mutation":
            return None
        document = self.execution_context.graphql_document
        assert document is not None
        fields = _top_level_fields(operation.selection_set, fragments_of(document), frozenset())
        sensitive = {(f.alias or f.name).value for f in fields if f.name.value in SENSITIVE_MUTATIONS}
        if len(sensitive) > 1:
            return GraphQLError(
                "Sign-in mutations (login, register, refreshToken, changePassword) go one per request.",
                extensions={"code": "BAD_REQUEST"},
            )
        return None

    async def _cost_error(self, operation: OperationDefinitionNode) -> GraphQLError | None:
        context = self.execution_context
        ctx = context.context
        settings = ctx.settings
        document = context.graphql_document
        assert document is not None
        calculator = CostCalculator(context.schema._schema, fragments_of(document), context.variables or {})
        cost = calculator.of_operation(operation)
        ctx.query_cost = cost
        if cost > settings.max_query_cost:
            return GraphQLError(
                f"This query is estimated at {cost} (rows and round trips); the limit is "
                f"{settings.max_query_cost}. Ask for smaller pages (first/last) or fewer nested lists.",
                extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "maxCost": settings.max_query_cost},
            )
        if ctx.user is not None and cost > 0:
            limiter = ctx.app.limiter
            if not await limiter.hit(settings.query_cost_budget, "cost", str(ctx.user.id), cost=cost):
                budget = await limiter.budget(settings.query_cost_budget, "cost", str(ctx.user.id))
                return GraphQLError(
                    f"Your query budget is spent ({budget.limit} per window); it refills over time.",
                    extensions={"code": "RATE_LIMITED", "resetAt": int(budget.reset_at)},
                )
        return None

    async def get_results(self) -> dict[str, Any]:
        ctx = self.execution_context.context
        request = getattr(ctx, "request", None)
        if request is None or request.headers.get("x-include-cost", "").lower() not in ("1", "true"):
            return {}
        result: dict[str, Any] = {"requested": getattr(ctx, "query_cost", None)}
        if ctx.user is not None:
            budget = await ctx.app.limiter.budget(ctx.settings.query_cost_budget, "cost", str(ctx.user.id))
            result |= {"limit": budget.limit, "remaining": budget.remaining, "resetAt": int(budget.reset_at)}
        return {"cost": result}


def _top_level_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], visiting: frozenset[str]
) -> list[FieldNode]:
    """The fields of a selection set with its fragments (inline or spread) merged into it."""
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields += _top_level_fields(selection.selection_set, fragments, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and fragment.name.value not in visiting:
                visiting_too = visiting | {fragment.name.value}
                fields += _top_level_fields(fragment.selection_set, fragments, visiting_too)
    return fields


def document_size_error(document: DocumentNode, settings: Settings) -> GraphQLError | None:
    """Refuses, before validation, a document too big to validate quickly.

    graphql-core's rule that fields can be merged compares every two fields that answer at the
    same place (same response path) once fragments are merged, recursively: 560 copies of
    `me { school { name } }`, 3,922 tokens, took seconds of the event loop. One walk of each
    operation (and unused fragment) with its spreads expanded, stopped once it has met more
    selections (fields, fragment spreads, inline fragments) than allowed, counts those, the
    fields and spreads of the widest selection set with the fragments spread into it merged,
    and the pairs of fields at the same place: together they bound that rule's work (the
    slowest accepted documents: BENCHMARKS.md)."""
    fragments = fragments_of(document)
    shape = _Shape(fragments, budget=settings.max_document_fields)
    try:
        for index, root in enumerate(_roots(document, fragments)):
            shape.selection_set(root, -1 - index, frozenset())
    except _OverBudget:
        return _too_large(
            f"The document holds more than {settings.max_document_fields} fields and fragments "
            "once its fragments are expanded.",
            settings.max_document_fields,
        )
    except RecursionError:  # fragments each nesting the next in fields, a few hundred deep
        return GraphQLError(
            "The document nests its fields and fragments too deeply.", extensions={"code": "QUERY_TOO_LARGE"}
        )
    if shape.empty:  # which Strawberry's depth rule fails on, with an internal error
        return GraphQLError("A selection set is empty; ask for a field.", extensions={"code": "BAD_REQUEST"})
    if shape.widest > settings.max_selection_fields:
        return _too_large(
            f"A selection set holds {shape.widest} fields and fragment spreads with its fragments "
            f"merged; the limit is {settings.max_selection_fields}.",
            settings.max_selection_fields,
        )
    if shape.pairs > settings.max_repeated_field_pairs:
        return _too_large(
            f"The document asks for the same fields at the same place too often ({shape.pairs} pairs "
            f"to compare; the limit is {settings.max_repeated_field_pairs}). Ask for each field once.",
            settings.max_repeated_field_pairs,
        )
    return None


def _roots(document: DocumentNode, fragments: dict[str, FragmentDefinitionNode]) -> list[SelectionSetNode]:
    """The operations, and the fragments no operation spreads: validation compares the fields of
    a spread fragment within it again, but those are pairs of the operation's expansion too."""
    operations = [d.selection_set for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    reached: set[str] = set()
    pending = list(operations)
    while pending:
        for name in _spread_names(pending.pop()):
            if name not in reached and name in fragments:
                reached.add(name)
                pending.append(fragments[name].selection_set)
    return operations + [f.selection_set for name, f in fragments.items() if name not in reached]


def _spread_names(selection_set: SelectionSetNode) -> Iterator[str]:
    """The fragments spread in a selection set as written (not into the fragments it spreads)."""
    for selection in selection_set.selections:
        if isinstance(selection, FragmentSpreadNode):
            yield selection.name.value
        elif isinstance(selection, (FieldNode, InlineFragmentNode)) and selection.selection_set:
            yield from _spread_names(selection.selection_set)


def _too_large(message: str, limit: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "QUERY_TOO_LARGE", "limit": limit})


class _OverBudget(Exception):
    """The walk met more selections than its budget."""


class _Shape:
    """Walks the expanded document, raising `_OverBudget` past `budget` selections (n fragments
    each spreading the next twice hold 2^n): the widest merged selection set, and how many
    pairs of fields share a response path."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], budget: int) -> None:
        self.fragments = fragments
        self.budget = budget
        self.paths: dict[tuple[int, str], int] = {}  # (parent path, response name): path
        self.counts: dict[int, int] = {}  # path: fields seen there
        self.widest = 0
        self.pairs = 0
        self.empty = False

    def selection_set(self, selection_set: SelectionSetNode, path: int, visiting: frozenset[str]) -> None:
        width = self._merge(selection_set, path, visiting)  # (which widens self.widest first)
        self.widest = max(self.widest, width)

    def _merge(self, selection_set: SelectionSetNode, path: int, visiting: frozenset[str]) -> int:
        self.empty = self.empty or not selection_set.selections
        width = 0
        for selection in selection_set.selections:
            self.budget -= 1
            if self.budget < 0:
                raise _OverBudget
            if isinstance(selection, FieldNode):
                width += 1
                response_name = (selection.alias or selection.name).value
                child = self.paths.setdefault((path, response_name), len(self.paths))
                seen = self.counts.get(child, 0)
                self.pairs += seen
                self.counts[child] = seen + 1
                if selection.selection_set:
                    self.selection_set(selection.selection_set, child, visiting)
            elif isinstance(selection, InlineFragmentNode):
                width += self._merge(selection.selection_set, path, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                width += 1  # the rule compares every two fragments spread into one selection set
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and fragment.name.value not in visiting:
                    width += self._merge(fragment.selection_set, path, visiting | {fragment.name.value})
        return width


class HideSuggestions(SchemaExtension):
    """Production: no "Did you mean ...?" in validation errors, which would map the schema."""

    def on_validate(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or []
        for error in errors:
            error.message = SUGGESTION.sub("", error.message)
