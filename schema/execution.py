"""How operations are executed: graphql-core's executor, with a shortcut for plain scalar fields."""

from __future__ import annotations

import functools
from typing import Any

from graphql import GraphQLField, GraphQLObjectType, Undefined, get_nullable_type, is_leaf_type
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

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
            getattr(field.resolve, "_is_default", False)
            and definition is not None
            and definition.default_resolver is getattr
            and is_leaf_type(named)
        )
        extensions[PLAIN_LEAF] = (
            (definition.python_name, named.serialize, named is field.type) if plain else None  # type: ignore[union-attr]
        )
    leaf: tuple[str, Any, bool] | None = extensions[PLAIN_LEAF]
    return leaf
