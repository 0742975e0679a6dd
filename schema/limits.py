"""Checks made after validation and before execution: query cost (priced by schema/cost.py),
the per-user cost budget, sensitive mutations, and (in production) no field suggestions.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
)
from strawberry.extensions import SchemaExtension

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


class HideSuggestions(SchemaExtension):
    """Production: no "Did you mean ...?" in validation errors, which would map the schema."""

    def on_validate(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors or []
        for error in errors:
            error.message = SUGGESTION.sub("", error.message)
