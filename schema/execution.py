"""How operations are executed: graphql-core's executor, with a shortcut for plain scalar fields
and subscription events executed once for all the subscribers that would get the same result."""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any

import orjson
from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    NamedTypeNode,
    SelectionSetNode,
    Undefined,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

from context import Context

PLAIN_LEAF = "campusgraph-plain-leaf"
STANDARD: Any = object()  # read the field the standard way


class PlainLeafExecutor(StrawberryGraphQLCoreExecutionContext):
    """Reads plain scalar fields directly.

    Most fields of a large result only read an attribute of their parent object and return a
    scalar or an enum: 50,000 of the 58,000 fields of a 1,000-student gradebook. For each of
    them graphql-core builds a resolve info, calls Strawberry's resolver wrapper and completes
    the value through several generic steps; here such a field is read and serialized at once.
    Anything unusual (arguments, middleware, a null for a non-null field, a value that does not
    serialize, an exception) takes the standard way, which also gives the standard error."""

    @functools.cached_property
    def _wrapped_resolvers(self) -> bool:
        """Whether extensions wrap every resolver (middleware): then no field is read directly."""
        middleware = self.middleware_manager
        return middleware is not None and bool(middleware.middlewares)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        field = self.schema.get_field(parent_type, node.name.value)
        if field is not None and not node.arguments and not self._wrapped_resolvers:
            leaf = _plain_leaf(field)
            if leaf is not None:
                value = _read(source, *leaf)
                if value is not STANDARD:
                    return value
        return super().execute_field(parent_type, source, field_details_list, path, position_context)


class SharedEventExecutor(PlainLeafExecutor):
    """Executes a subscription event once per process for all the subscribers whose results
    would be equal, instead of once per subscriber.

    Subscribers share a result when they received the same event object from the bus (see
    `EventBus.memo_of`) and sent the same document, operation and variables, and when that
    selection reads only plain fields of the event: fields without a resolver, whose values
    are the event's own attributes, so nothing in the result depends on who is asking (a field
    with a resolver, e.g. `Grade.updatedBy`, may check the viewer: such a subscriber executes
    its own). A result with errors is not shared (each subscriber's errors are its own).
    """

    @functools.cached_property
    def share_key(self) -> Hashable | None:
        """(document, operation, variables) if the selection may be shared; computed once per
        subscription (the per-event executors are copies of the subscription's)."""
        middleware = self.middleware_manager
        if (middleware is not None and middleware.middlewares) or self.operation.loc is None:
            return None
        root = self.schema.subscription_type
        if root is None or not self._plain(root, self.operation.selection_set, top=True):
            return None
        try:
            variables = orjson.dumps(self.variable_values.coerced, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        return (self.operation.loc.source.body, self.operation.loc.start, variables)

    def build_per_event_executor(self, payload: Any) -> Executor[Any]:
        _ = self.share_key  # computed on the subscription's executor, copied into each event's
        executor = super().build_per_event_executor(payload)
        # graphql-core 3.3's copy shares the subscription's memo of collected subfields, keyed by
        # lists made anew for each event: it would grow with every event for the subscription's
        # lifetime. Each event gets a memo of its own.
        executor._relevant_sub_fields = {}
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        context = self.context_value
        memo = context.bus.memo_of(self.root_value) if isinstance(context, Context) else None
        if memo is None or self.share_key is None:
            return super().execute_operation(serially)
        result = memo.get(self.share_key)
        if result is None:
            result = super().execute_operation(serially)
            if not isinstance(result, ExecutionResult) or result.errors:
                return result
            memo[self.share_key] = result
        return result

    def _plain(self, parent: GraphQLNamedType, selections: SelectionSetNode, *, top: bool = False) -> bool:
        """Whether the selection reads only fields without a resolver (and __typename)."""
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "__typename":
                    continue
                # On an interface, an implementation's field could have a resolver: not shared.
                if not isinstance(parent, GraphQLObjectType) or name not in parent.fields:
                    return False
                field = parent.fields[name]
                # The subscription's own field resolves each event to itself.
                plain = (top and field.subscribe is not None) or _reads_attribute(field)
                if not plain:
                    return False
                if selection.selection_set is not None and not self._plain(
                    get_named_type(field.type), selection.selection_set
                ):
                    return False
            else:
                if isinstance(selection, FragmentSpreadNode):
                    fragment = self.fragment_definitions[selection.name.value]
                    condition: NamedTypeNode | None = fragment.type_condition
                    selection_set = fragment.selection_set
                else:
                    assert isinstance(selection, InlineFragmentNode)
                    condition, selection_set = selection.type_condition, selection.selection_set
                named = self.schema.get_type(condition.name.value) if condition is not None else parent
                if named is None or not self._plain(named, selection_set, top=top):
                    return False
        return True


def _reads_attribute(field: GraphQLField) -> bool:
    """Whether the field has no resolver of its own: Strawberry reads it off its parent object."""
    return bool(getattr(field.resolve, "_is_default", False))


def _read(source: Any, attribute: str, serialize: Any, nullable: bool) -> Any:
    """The field's serialized value, or STANDARD where the standard way must answer."""
    try:
        value = getattr(source, attribute)
        if value is None:
            return None if nullable else STANDARD
        serialized = STANDARD if isinstance(value, Exception) else serialize(value)
    except Exception:  # the standard way reports it, with the field's path
        return STANDARD
    return STANDARD if serialized is None or serialized is Undefined else serialized


def _plain_leaf(field: GraphQLField) -> tuple[str, Any, bool] | None:
    """(attribute, serializer, nullable) if the field is a plain read of a scalar or enum
    attribute; worked out once per field and kept in the field's extensions."""
    extensions = field.extensions
    if PLAIN_LEAF not in extensions:
        definition = extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        named = get_nullable_type(field.type)
        plain = (
            _reads_attribute(field)
            and definition is not None
            and definition.default_resolver is getattr
            and is_leaf_type(named)
        )
        extensions[PLAIN_LEAF] = (
            (definition.python_name, named.serialize, named is field.type) if plain else None  # type: ignore[union-attr]
        )
    leaf: tuple[str, Any, bool] | None = extensions[PLAIN_LEAF]
    return leaf
