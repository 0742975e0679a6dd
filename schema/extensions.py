"""Schema extensions: error masking with a request id, and the limits applied before execution."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from graphql import ASTValidationRule, DocumentNode, GraphQLError, TokenKind, parse, print_ast
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

from config import Settings
from errors import ApiError, ServiceUnavailable
from models.db import is_database_unavailable, operation_statements
from resolvers import audit
from schema.limits import HideSuggestions, QueryLimits, document_size_error
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


class ValidationResults:
    """The validation errors of the last `maxsize` documents, least recently used dropped first,
    keyed on the document's tokens (comments, whitespace and commas left out) and the rules.

    Strawberry's `ValidationCache` keys on the parsed document, whose locations differ with one
    more leading space: each such variant of an expensive document was validated again. Errors
    carry locations in the text they were found in, so a document with errors is served from
    here only for that same text; keys and texts are kept as digests (a 1 MB string literal
    is one token)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[bytes, tuple[bytes, list[GraphQLError]]] = OrderedDict()

    def get(self, key: bytes, text: bytes) -> list[GraphQLError] | None:
        entry = self._entries.get(key)
        if entry is None or (entry[1] and entry[0] != text):
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: bytes, text: bytes, errors: list[GraphQLError]) -> None:
        self._entries[key] = (text, errors)
        self._entries.move_to_end(key)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode(errors="surrogatepass"), digest_size=16).digest()


def normalized_text(document: DocumentNode) -> str:
    """The document's tokens, one space apart: the same for any spacing, commas and comments."""
    if document.loc is None:
        return print_ast(document)
    parts = []
    token = document.loc.start_token.next
    while token is not None and token.kind is not TokenKind.EOF:
        if token.kind is TokenKind.NAME:
            parts.append(token.value or "")
        elif token.kind is not TokenKind.COMMENT:
            parts.append(token.kind.value if token.value is None else f"{token.kind.value}{token.value!r}")
        token = token.next
    return " ".join(parts)


class BoundedValidation(SchemaExtension):
    """Validation, refused first for a document too big to validate quickly
    (`document_size_error`), through `ValidationResults`.

    It stays on the event loop: the bounds keep the slowest accepted document's validation to
    7-25 ms on a busy machine (BENCHMARKS.md), where it was 3.6 s."""

    def __init__(self, results: ValidationResults, settings: Settings) -> None:
        super().__init__()
        self.results = results
        self.settings = settings

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        assert document is not None  # validation comes after parsing
        rules = tuple(context.validation_rules)
        key = digest(f"{[id(rule) for rule in rules]} {normalized_text(document)}")
        text = digest(context.query or "")
        errors = self.results.get(key, text)
        if errors is None:
            refusal = document_size_error(document, self.settings)
            errors = [refusal] if refusal else validate_document(context.schema._schema, document, rules)
            self.results.put(key, text, errors)
        context.pre_execution_errors = errors
        yield


# Longer texts are parsed in a worker thread; every contract operation is under 1,200 characters
# and the introspection query 1,636, a document at the token limit some 8,000.
INLINE_PARSE_CHARS = 2000


class ParseOffTheLoop(SchemaExtension):
    """Parsing, through an LRU cache of the texts, in a worker thread for a long text, one
    such text at a time.

    graphql-core's parser costs some 25 µs a token on a busy machine: a document at the token
    limit took 100 ms, six at once held every other request of the process for 0.6 s. In a
    thread the event loop gets the interpreter back every few milliseconds (its switch
    interval); one thread at a time, so that it competes with one thread, not six. Short texts,
    which parse in a millisecond or two, are not worth a thread's hand-over."""

    def __init__(self, parse: Callable[..., DocumentNode], turns: asyncio.Semaphore) -> None:
        super().__init__()
        self.parse = parse
        self.turns = turns

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        query = context.query or ""
        options = context.parse_options
        if len(query) <= INLINE_PARSE_CHARS:
            context.graphql_document = self.parse(query, **options)
        else:
            async with self.turns:
                context.graphql_document = await asyncio.to_thread(self.parse, query, **options)
        yield


class AuditReads(SchemaExtension):
    """Writes the operation's audited reads of student records, in one statement, after it ran."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        await audit.flush_reads(self.execution_context.context)


def schema_extensions(settings: Settings) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    """Extensions are given as classes or factories, never instances (a new one per operation).

    The depth and alias rules are built once: `ValidationResults` keys on the rule classes, and
    `QueryDepthLimiter`/`MaxAliasesLimiter` would build new ones per operation, so no validation
    would ever be served from the cache. The cache is the schema's (one per `schema_extensions`)."""
    limit_rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(settings.max_query_depth, None, None),
        max_aliases.create_validator(settings.max_aliases),
        NoNulLiterals,
    ]
    validation_results = ValidationResults(maxsize=512)
    cached_parse = functools.lru_cache(maxsize=512)(parse)
    parse_turns = asyncio.Semaphore(1)
    extensions: list[Any] = [
        MaskUnexpectedErrors,
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: ParseOffTheLoop(cached_parse, parse_turns),
        lambda: BoundedValidation(validation_results, settings),
        QueryLimits,
        RejectNulText,
        AuditReads,
    ]
    if not settings.introspection_enabled:
        extensions.append(HideSuggestions)
    if settings.debug_metrics:
        extensions.insert(0, Metrics)
    return extensions
