"""Schema extensions: error masking with a request id, and the limits applied before execution."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import ASTValidationRule, GraphQLError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from config import Settings
from errors import ApiError, ServiceUnavailable
from models.db import is_database_unavailable, operation_statements
from resolvers import audit
from schema.cost import expanded_fields
from schema.limits import HideSuggestions, QueryLimits
from schema.text import NoNulLiterals, RejectNulText

log = logging.getLogger("campusgraph.errors")


# Strawberry's refusals of an operation before it runs (an unknown operation name, an operation
# type the transport does not allow, no query): the client's mistake, not a bug. Over HTTP they
# are 400s (server.py); over a WebSocket they arrive here, and get the same code.
PRE_EXECUTION_REFUSALS = (CannotGetOperationTypeError, InvalidOperationTypeError, MissingQueryError)


def is_unexpected(error: GraphQLError) -> bool:
    """Syntax, validation and limit errors have no original error; ApiErrors are meant for
    the client; a database outage is not a bug (see `is_database_outage`). Anything else is a
    bug, and is logged with its traceback (`CampusSchema.process_errors`) and masked."""
    original = error.original_error
    return (
        original is not None
        and not isinstance(original, (ApiError, GraphQLError, *PRE_EXECUTION_REFUSALS))
        and not is_database_unavailable(original)
    )


def is_database_outage(error: GraphQLError) -> bool:
    """The database could not be reached (refused, lost, timed out): SERVICE_UNAVAILABLE."""
    return error.original_error is not None and is_database_unavailable(error.original_error)


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors; the client gets the request id that the log line carries.

    A database outage is masked too, but as what it is: `SERVICE_UNAVAILABLE` with a message
    saying so, so that clients show "try again" rather than "bug". It is logged here, one line
    per operation however many fields failed, without a traceback (it is not a bug)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal server error.")
        self._outage_logged = False

    def _process_result(self, result: object) -> None:
        """As MaskErrors's, without its `isinstance` against a runtime-checkable Protocol: that
        check ran for every subscription event and was 15-20% of the cost of a delivery."""
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        return is_unexpected(error) or is_database_outage(error)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        if is_database_outage(error):
            self._log_outage(request_id, error)
            return GraphQLError(
                ServiceUnavailable.default_message,
                nodes=error.nodes,
                source=error.source,
                positions=error.positions,
                path=error.path,
                extensions={"code": ServiceUnavailable.code, "requestId": request_id},
            )
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
        return masked

    def _log_outage(self, request_id: str | None, error: GraphQLError) -> None:
        if self._outage_logged:
            return
        self._outage_logged = True
        cause = error.original_error
        detail = str(cause).partition("\n")[0]
        log.error(
            "request %s failed: the database is unavailable (%s: %s)",
            request_id,
            type(cause).__name__,
            detail,
        )


class Metrics(SchemaExtension):
    """`extensions.metrics` (debug setting).

    A query or mutation: `{ sqlStatements durationMs }` of the whole operation (also for one
    refused before execution: what it cost until then).

    A subscription: each event's result carries `{ sqlStatements }`, the statements made since
    the previous result, i.e. for this event (its execution, and what the subscription read
    for it; 0 for a subscriber that shared another's result). No `durationMs`: the extension's
    hooks cannot tell the time an event took to execute from the time spent waiting for it.

    Results are asked for while the operation is still running (every event of a
    subscription, and a query refused before execution), so nothing here may wait for the
    end of `on_operation`."""

    def on_operation(self) -> Iterator[None]:
        self._statements = [0]
        self._reported = 0
        self._started = time.perf_counter()
        self._finished: float | None = None
        token = operation_statements.set(self._statements)
        try:
            yield
        finally:
            self._finished = time.perf_counter()
            try:
                operation_statements.reset(token)
            except ValueError:  # a subscription closed from another context than it began in
                operation_statements.set(None)

    def get_results(self) -> dict[str, Any]:
        statements = self._statements[0]
        if self._is_subscription():
            since, self._reported = self._reported, statements
            return {"metrics": {"sqlStatements": statements - since}}
        finished = self._finished if self._finished is not None else time.perf_counter()
        duration_ms = round((finished - self._started) * 1000, 2)
        return {"metrics": {"sqlStatements": statements, "durationMs": duration_ms}}

    def _is_subscription(self) -> bool:
        context = self.execution_context
        if context.graphql_document is None:  # not parsed (a syntax error)
            return False
        try:
            return context.operation_type is OperationType.SUBSCRIPTION
        except RuntimeError:  # no such operation: an error result, reported as an operation's
            return False


class ValidationCacheWithinExpansion(ValidationCache):
    """The validation cache, which first refuses a document whose fragments expand it to more
    fields than `max_tokens` tokens could spell out.

    Strawberry's depth and alias rules walk every spread of a fragment again: n fragments each
    spreading the next twice (a few hundred bytes) take 2^n steps, seconds at n = 20, before
    any other limit is checked. `expanded_fields` counts the same in linear time."""

    def __init__(self, max_fields: int, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.max_fields = max_fields

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        fields = expanded_fields(document) if document is not None else 0
        if fields <= self.max_fields:
            yield from super().on_validate()
            return
        context.pre_execution_errors = [
            GraphQLError(
                f"The document's fragments expand it to more than {self.max_fields} fields.",
                extensions={"code": "BAD_REQUEST"},
            )
        ]
        yield


class AuditReads(SchemaExtension):
    """Writes the operation's audited reads of student records, in one statement, after it ran."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        await audit.flush_reads(self.execution_context.context)


def schema_extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    """Extensions are given as classes or factories, never instances (a new one per operation).

    The depth and alias rules are built once: `ValidationCache` keys its cache on the rule
    classes, and `QueryDepthLimiter`/`MaxAliasesLimiter` would build new ones per operation,
    so no validation would ever be served from the cache."""
    limit_rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(settings.max_query_depth, None, None),
        max_aliases.create_validator(settings.max_aliases),
        NoNulLiterals,
    ]
    extensions: list[Any] = [
        MaskUnexpectedErrors,
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCacheWithinExpansion(max_fields=settings.max_tokens, maxsize=512),
        QueryLimits,
        RejectNulText,
        AuditReads,
    ]
    if not settings.introspection_enabled:
        extensions.append(HideSuggestions)
    if settings.debug_metrics:
        extensions.insert(0, Metrics)
    return extensions
