"""Checks made after validation and before execution: query cost, the per-user cost budget,
sensitive mutations, and (in production) no field suggestions.

Cost is GitHub-style: an estimate of the objects a query can return. A field of object type
costs one per parent object; a field with a `first`/`last` argument multiplies what is below
it by that page size, a list without one by DEFAULT_LIST_SIZE (lists bounded by the domain,
such as a class's students); a connection's `edges`/`nodes` are its page. Scalars are free.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from strawberry.extensions import SchemaExtension

DEFAULT_LIST_SIZE = 25
SENSITIVE_MUTATIONS = frozenset({"login", "register", "refreshToken", "changePassword"})
SUGGESTION = re.compile(r" Did you mean .*\?$")


def _is_list(output_type: GraphQLOutputType) -> bool:
    inner = output_type.of_type if isinstance(output_type, GraphQLNonNull) else output_type
    return isinstance(inner, GraphQLList)


class CostCalculator:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def of_operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return self._selection_cost(operation.selection_set, root, 1, frozenset()) if root else 0

    def _selection_cost(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, multiplier: int, seen: frozenset[str]
    ) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field_cost(selection, parent, multiplier, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    self._type(selection.type_condition.name.value) if selection.type_condition else parent
                )
                total += self._selection_cost(selection.selection_set, condition, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    condition = self._type(fragment.type_condition.name.value)
                    inner_seen = seen | {selection.name.value}
                    total += self._selection_cost(fragment.selection_set, condition, multiplier, inner_seen)
        return total

    def _field_cost(
        self, node: FieldNode, parent: GraphQLNamedType, multiplier: int, seen: frozenset[str]
    ) -> int:
        fields = getattr(parent, "fields", {})
        definition = fields.get(node.name.value)
        if (
            definition is None
            or node.selection_set is None
            or not is_composite_type(get_named_type(definition.type))
        ):
            return 0
        page = self._page_size(node)
        # `edges`/`nodes` of a connection are as long as the connection's page, counted above.
        in_connection = getattr(parent, "name", "").endswith("Connection")
        if page is not None:
            own, below = multiplier, multiplier * page
        elif _is_list(definition.type) and not in_connection:
            own = below = multiplier * DEFAULT_LIST_SIZE
        else:
            own = below = multiplier
        return own + self._selection_cost(node.selection_set, get_named_type(definition.type), below, seen)

    def _page_size(self, node: FieldNode) -> int | None:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = argument.value
                if isinstance(value, VariableNode):
                    given = self.variables.get(value.name.value)
                    return int(given) if isinstance(given, int) else None
                if isinstance(value, IntValueNode):
                    return int(value.value)
        return None

    def _type(self, name: str) -> GraphQLNamedType:
        found = self.schema.get_type(name)
        return found if found is not None else GraphQLObjectType(name, {})


def operation_of(document: Any, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == operation_name), None)


class QueryLimits(SchemaExtension):
    """Rejects, before execution, queries that cost too much or spend past the caller's budget,
    and requests that send a sensitive mutation more than once."""

    async def on_execute(self) -> AsyncIterator[None]:
        """Runs after validation; a result set here means the operation is not executed."""
        context = self.execution_context
        operation = operation_of(context.graphql_document, context.operation_name)
        if operation is not None:
            error = self._sensitive_mutation_error(operation) or await self._cost_error(operation)
            if error is not None:
                context.result = ExecutionResult(data=None, errors=[error])
        yield

    def _sensitive_mutation_error(self, operation: OperationDefinitionNode) -> GraphQLError | None:
        if operation.operation.value != "mutation":
            return None
        names = [s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        sensitive = [name for name in names if name in SENSITIVE_MUTATIONS]
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
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        calculator = CostCalculator(self.execution_context.schema._schema, fragments, context.variables or {})
        cost = calculator.of_operation(operation)
        ctx.query_cost = cost
        if cost > settings.max_query_cost:
            return GraphQLError(
                f"This query may return {cost} objects; the limit is {settings.max_query_cost}. "
                "Ask for smaller pages (first/last) or fewer nested lists.",
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


class HideSuggestions(SchemaExtension):
    """Production: no "Did you mean ...?" in validation errors, which would map the schema."""

    def on_validate(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or []
        for error in errors:
            error.message = SUGGESTION.sub("", error.message)
