"""How much an operation costs, estimated before it runs (the query cost and budget of
schema/limits.py).

The cost model
==============

A query's cost is an estimate, made from the document alone (and the schema's field
definitions) before anything runs, of what executing it makes the server do: round trips to
the database and services, and the rows they bring back. One point is one round trip or one
row. Objects do not count as such: most objects of a result are built from rows that a read
already brought (the gradebook's thousands of cells come from a handful of statements).

* **A read** is a selected field whose resolver is async: it awaits a loader, the database or
  a service. A field without a resolver (read off its parent object) or with a plain function
  as resolver is part of the read that produced its parent: it costs nothing, whatever its
  type, lists of objects included (the gradebook's `rows`, their `cells`, a risk assessment's
  factors, the teacher dashboard's sections).
* **A read costs its round trips plus its rows.** Rows: the objects it returns for all its
  parents, `parents x per parent`, where per parent is the page size of a paged field, the
  number of ids for `nodes(ids:)`, DEFAULT_LIST_SIZE for a list without a page, and 1 for an
  object or a scalar. Round trips: 1 for the whole list level, because the DataLoaders batch
  every parent's load of a tick into one statement; but a paged read (a connection,
  `first`/`last`) costs one round trip per parent, because each parent's keyset page is a
  query of its own (`Student.timeline` under `nodes(ids:)`).
* **Async scalars** of one selection (an object's extra columns or counts: `User.email`,
  `role` and `tier` come from one `user_by_id` load) are one read together: 1 + parents.
* **Parents** is how many objects the enclosing selection stands for: 1 at the root, times
  the page size at each paged field, times DEFAULT_LIST_SIZE at each list without a page
  (whether or not that list is a read: a read below it runs for each of its items). The
  `edges`/`nodes` of a connection are its page, counted once. So a connection inside a
  connection inside a connection costs the product of their page sizes.
* **Page size**: `first`/`last` as given (a literal or a variable); without one, the
  argument's default, else DEFAULT_PAGE_SIZE (the resolvers' default page). `nodes(ids:)`:
  the number of ids given (the literal list's length or the variable's).
* **A list without a page** is one the domain bounds: a student's enrollments, a class's
  teachers, a message's attachments (at most 10), a conversation's participants (at most 20,
  mostly 2): DEFAULT_LIST_SIZE (10) each.
* **Writes**: each top-level field of a mutation costs WRITE_COST more (one transaction of a
  few statements, an audit row, events after commit; a lock or a focus is priced alike).
* **Introspection** (`__schema`, `__type`) is built in process from the schema, an object for
  every type, field and argument asked for: each costs 1 and each object of its lists 1, the
  lists sized from the schema itself (`types`: the number of types; `fields`, `args`,
  `enumValues`, ...: how many a type or a field has on average). GraphiQL's full
  introspection grows with the schema: 2,013 at 190 types, 5,471 at 420 (December 2026); 30
  aliased introspections are refused, or cost a good part of the hour's budget. `__typename`
  is free.

A query whose cost is over `MAX_QUERY_COST` is refused (QUERY_TOO_COSTLY); each signed-in user
spends the cost of what they run from `query_cost_budget` (RATE_LIMITED when spent). The
estimate is an upper bound for lists (page sizes, not lengths) and an estimate for reads: a
root read such as `gradebook` or `students` is priced as one round trip although its resolver
makes a handful of statements, as many whatever the data (the resolvers' tests count them).
So the gradebook costs the same for 5 students as for 1,000.

The budget
==========

The contract operations (tests/contract/operations) with typical variables (pages of 20,
`ConversationMessages` with `last: 50`), by this model; in brackets, by the one before it
(every object priced, 25 per list; introspection free):

    Gradebook (any class)        4  [2,053 at 30x17]   UpdateGrade                14  [28]
    TeacherDashboard             2    [126]            Focus/Lock/UnlockGradeCell 12  [26-28]
    StudentDashboard             2    [192]            BulkUpdateGrades           12  [51]
    StudentProfile              74    [154]            CalculateFinalGrades       12  [76]
    StudentTimeline             44     [62]            RecordAttendance           23  [76]
    StudentSearch               42  [1,581]            SendMessage                23  [52]
    StudentSearch, 100 a page  202  [7,901]            Notifications              21  [41]
    StudentsAtRisk              42    [541]            Login                      16  [28]
    StudentProgress             24     [48]            Me                          6   [2]
    Conversations              486    [581]            full introspection      2,013   [0]
    ConversationMessages       707  [1,452]

A heavy hour of a teacher: 200 gradebook reads (800); 300 grade writes, each as the sheet
makes it, focus + lock + write + unlock (300 x 50 = 15,000); 100 dashboard and student reads,
all priced as the dearest of them, StudentProfile (7,400): 23,200 (by the model before:
601,100, six times its budget of 100,000). A scraper paging through `students` at
100 a page, one page a second: 3,600 x 202 = 727,200 an hour.

QUERY_COST_BUDGET is therefore 50,000 an hour: twice the teacher's heavy hour (room for a
second tab, GraphiQL's introspections in development, or a mentor opening 30 conversations,
1,193 each, and sending 100 messages), and a fourteenth of the scraper's hour: it is cut off
after 247 pages, within five minutes, and then gets a page every 15 seconds or so.
`tests/schema/test_cost_model.py` computes these costs from the contract and fails when a price
change breaks the teacher's hour or lets the scraper through.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_composite_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from strawberry.schema.schema_converter import GraphQLCoreConverter

from resolvers.pagination import DEFAULT_PAGE_SIZE

DEFAULT_LIST_SIZE = 10
WRITE_COST = 10
PAGE_ARGUMENTS = ("first", "last")
IDS_ARGUMENT = "ids"
INTROSPECTION_FIELDS = {"__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}


def _is_list(output_type: GraphQLOutputType) -> bool:
    inner = output_type.of_type if isinstance(output_type, GraphQLNonNull) else output_type
    return isinstance(inner, GraphQLList)


def _is_read(field: GraphQLField) -> bool:
    """Whether the field's resolver is async (awaits a loader, the database or a service)."""
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return bool(getattr(definition, "is_async", False))


@dataclass(frozen=True, slots=True)
class FieldKind:
    read: bool
    composite: bool
    list: bool
    paged: bool  # has `first`/`last`, or is a list asked for by `ids`
    default_page: int


class SchemaSizes:
    """What the model needs of a schema, worked out once per schema: the kind of each field,
    and how long introspection's lists are on average."""

    def __init__(self, schema: GraphQLSchema) -> None:
        # No reference to the schema: it is the key these are kept under (weakly).
        self.kinds: dict[tuple[str, str], FieldKind | None] = {}
        self.introspection_lists = _introspection_list_sizes(schema)

    def kind(self, schema: GraphQLSchema, parent: GraphQLNamedType, name: str) -> FieldKind | None:
        key = (parent.name, name)
        if key not in self.kinds:
            self.kinds[key] = _kind(schema, parent, name)
        return self.kinds[key]


def _kind(schema: GraphQLSchema, parent: GraphQLNamedType, name: str) -> FieldKind | None:
    """What the model needs to know of a field: None if the type has no such field."""
    fields: dict[str, GraphQLField] = getattr(parent, "fields", {})
    field = fields.get(name)
    if field is None:
        return None
    read = _is_read(field)
    if isinstance(parent, GraphQLInterfaceType):
        # The implementations' resolvers run, not the interface's: a read if any is one.
        for implementation in schema.get_possible_types(parent):
            own = implementation.fields.get(name)
            read = read or (own is not None and _is_read(own))
    is_list = _is_list(field.type)
    paged_by = [a for a in PAGE_ARGUMENTS if a in field.args]
    paged = bool(paged_by) or (is_list and IDS_ARGUMENT in field.args)
    defaults = [field.args[a].default_value for a in paged_by]
    given_defaults = [d for d in defaults if isinstance(d, int) and not isinstance(d, bool)]
    return FieldKind(
        read=read,
        composite=is_composite_type(get_named_type(field.type)),
        list=is_list,
        paged=paged,
        default_page=max(given_defaults, default=DEFAULT_PAGE_SIZE),
    )


def _mean(total: int, count: int) -> int:
    return max(1, math.ceil(total / count)) if count else 1


def _introspection_list_sizes(schema: GraphQLSchema) -> dict[tuple[str, str], int]:
    """The average length of each list of the introspection types, in this schema."""
    types = list(schema.type_map.values())
    with_fields = [t for t in types if isinstance(t, GraphQLObjectType | GraphQLInterfaceType)]
    fields = [f for t in with_fields for f in t.fields.values()]
    abstract = [t for t in types if isinstance(t, GraphQLInterfaceType | GraphQLUnionType)]
    directive_args = sum(len(d.args) for d in schema.directives)
    return {
        ("__Schema", "types"): len(types),
        ("__Schema", "directives"): len(schema.directives),
        ("__Type", "fields"): _mean(len(fields), len(types)),
        ("__Type", "interfaces"): _mean(sum(len(t.interfaces) for t in with_fields), len(types)),
        ("__Type", "possibleTypes"): _mean(
            sum(len(schema.get_possible_types(t)) for t in abstract), len(types)
        ),
        ("__Type", "enumValues"): _mean(
            sum(len(t.values) for t in types if isinstance(t, GraphQLEnumType)), len(types)
        ),
        ("__Type", "inputFields"): _mean(
            sum(len(t.fields) for t in types if isinstance(t, GraphQLInputObjectType)), len(types)
        ),
        ("__Field", "args"): _mean(sum(len(f.args) for f in fields), len(fields)),
        ("__Directive", "args"): _mean(directive_args, len(schema.directives)),
    }


_SIZES: weakref.WeakKeyDictionary[GraphQLSchema, SchemaSizes] = weakref.WeakKeyDictionary()


def schema_sizes(schema: GraphQLSchema) -> SchemaSizes:
    sizes = _SIZES.get(schema)
    if sizes is None:
        sizes = _SIZES[schema] = SchemaSizes(schema)
    return sizes


class CostCalculator:
    """The cost of an operation, by the model of this module's docstring.

    Linear in the document: the cost of a selection is kept per (selection, type, parents), so
    a fragment spread twice in a fragment spread twice... is worked out once, not 2^n times.
    """

    def __init__(
        self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict[str, Any]
    ) -> None:
        self.schema = schema
        self.sizes = schema_sizes(schema)
        self.fragments = fragments
        self.variables = variables
        self._selections: dict[tuple[int, str, int, int], tuple[int, bool]] = {}
        self._introspections: dict[tuple[int, str, int], int] = {}

    def of_operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        write = WRITE_COST if operation.operation.value == "mutation" else 0
        return self._selection_cost(operation.selection_set, root, 1, frozenset(), write)

    def _selection_cost(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        parents: int,
        seen: frozenset[str],
        write: int = 0,
    ) -> int:
        total, scalar_read = self._selection_parts(selection_set, parent, parents, seen, write)
        return total + (1 + parents if scalar_read else 0)

    def _selection_parts(
        self,
        selection_set: SelectionSetNode,
        parent: GraphQLNamedType,
        parents: int,
        seen: frozenset[str],
        write: int,
    ) -> tuple[int, bool]:
        """The cost of a selection but for its async scalars, and whether it has any (they are
        one read for the whole selection, fragments included)."""
        key = (id(selection_set), parent.name, parents, write)
        known = self._selections.get(key)
        if known is not None:
            return known
        total, scalar_read = 0, False
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                cost, scalar = self._field_parts(selection, parent, parents, seen, write)
            elif isinstance(selection, InlineFragmentNode):
                condition = (
                    self._type(selection.type_condition.name.value) if selection.type_condition else parent
                )
                cost, scalar = self._selection_parts(selection.selection_set, condition, parents, seen, write)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition = self._type(fragment.type_condition.name.value)
                inner = seen | {selection.name.value}
                cost, scalar = self._selection_parts(fragment.selection_set, condition, parents, inner, write)
            else:
                continue
            total += cost
            scalar_read = scalar_read or scalar
        self._selections[key] = (total, scalar_read)
        return total, scalar_read

    def _field_parts(
        self, node: FieldNode, owner: GraphQLNamedType, parents: int, seen: frozenset[str], write: int
    ) -> tuple[int, bool]:
        name = node.name.value
        if name in INTROSPECTION_FIELDS:
            objects = self._introspection_cost(node, INTROSPECTION_FIELDS[name], 1, seen)
            return parents * (1 + objects), False
        kind = self.sizes.kind(self.schema, owner, name)
        if kind is None:  # __typename, or a field of a type this schema does not have
            return 0, False
        if not kind.composite or node.selection_set is None:
            return write, kind.read
        return write + self._field_cost(node, owner, kind, parents, seen), False

    def _field_cost(
        self, node: FieldNode, owner: GraphQLNamedType, kind: FieldKind, parents: int, seen: frozenset[str]
    ) -> int:
        assert node.selection_set is not None
        page = self._page_size(node, kind) if kind.paged else None
        if page is not None:
            per_parent = page
        elif kind.list and not owner.name.endswith("Connection"):
            per_parent = DEFAULT_LIST_SIZE
        else:  # an object; or a connection's `edges`/`nodes`, its page counted above
            per_parent = 1
        below = parents * per_parent
        own = 0
        if kind.read:
            round_trips = parents if page is not None else 1
            own = round_trips + below
        fields: dict[str, GraphQLField] = getattr(owner, "fields", {})
        named = get_named_type(fields[node.name.value].type)
        return own + self._selection_cost(node.selection_set, named, below, seen)

    def _page_size(self, node: FieldNode, kind: FieldKind) -> int:
        arguments = {argument.name.value: argument.value for argument in node.arguments or ()}
        if IDS_ARGUMENT in arguments and not any(a in arguments for a in PAGE_ARGUMENTS):
            return self._length(arguments[IDS_ARGUMENT])
        pages = [self._int(arguments[a]) for a in PAGE_ARGUMENTS if a in arguments]
        given = [page for page in pages if page is not None]
        return max(0, *given) if given else kind.default_page

    def _int(self, value: ValueNode) -> int | None:
        if isinstance(value, VariableNode):
            given = self.variables.get(value.name.value)
            return given if isinstance(given, int) and not isinstance(given, bool) else None
        if isinstance(value, IntValueNode):
            return int(value.value)
        return None

    def _length(self, value: ValueNode) -> int:
        """How many items a list argument holds (a single value is coerced to a list of one)."""
        if isinstance(value, VariableNode):
            given = self.variables.get(value.name.value)
            if given is None:
                return 0
            return len(given) if isinstance(given, list | tuple) else 1
        if isinstance(value, ListValueNode):
            return len(value.values)
        return 0 if isinstance(value, NullValueNode) else 1

    def _introspection_cost(
        self, node: FieldNode, field: GraphQLField, objects: int, seen: frozenset[str]
    ) -> int:
        """Introspection's objects below `node`: each object of a list costs 1."""
        if node.selection_set is None:
            return 0
        return self._introspection_selection(node.selection_set, get_named_type(field.type), objects, seen)

    def _introspection_selection(
        self, selection_set: SelectionSetNode, parent: GraphQLNamedType, objects: int, seen: frozenset[str]
    ) -> int:
        key = (id(selection_set), parent.name, objects)
        known = self._introspections.get(key)
        if known is not None:
            return known
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields: dict[str, GraphQLField] = getattr(parent, "fields", {})
                definition = fields.get(selection.name.value)
                if definition is None or not is_composite_type(get_named_type(definition.type)):
                    continue
                count = objects
                if _is_list(definition.type):
                    sizes = self.sizes.introspection_lists
                    count = objects * sizes.get((parent.name, selection.name.value), 1)
                    total += count
                total += self._introspection_cost(selection, definition, count, seen)
            elif isinstance(selection, InlineFragmentNode):
                total += self._introspection_selection(selection.selection_set, parent, objects, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    inner = seen | {selection.name.value}
                    total += self._introspection_selection(fragment.selection_set, parent, objects, inner)
        self._introspections[key] = total
        return total

    def _type(self, name: str) -> GraphQLNamedType:
        found = self.schema.get_type(name)
        return found if found is not None else GraphQLObjectType(name, {})


def operation_of(document: Any, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((op for op in operations if op.name and op.name.value == operation_name), None)


def fragments_of(document: Any) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def operation_cost(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: dict[str, Any]
) -> int:
    """The estimated cost of the named (or only) operation of a parsed document; 0 without one."""
    operation = operation_of(document, operation_name)
    if operation is None:
        return 0
    return CostCalculator(schema, fragments_of(document), variables).of_operation(operation)
