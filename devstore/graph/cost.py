"""Static query cost (Shopify's calculated cost) and the actual cost of a result."""

from __future__ import annotations

from typing import Any, Optional

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
)
from graphql.error import GraphQLError

from .args import argument_values

MUTATION_COST = 10
CONNECTION_BASE = 2


class _Walker:
    """Walk a document computing requested (and optionally actual) cost."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode,
                 variables: Optional[dict]) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {d.name.value: d for d in document.definitions
                          if isinstance(d, FragmentDefinitionNode)}

    def selections(self, selection_set: Optional[SelectionSetNode]) -> list[FieldNode]:
        """Flatten fragments into a list of fields (type conditions ignored)."""
        if selection_set is None:
            return []
        fields: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                fields += self.selections(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    fields += self.selections(fragment.selection_set)
        return fields

    def _field_type(self, parent: Any, node: FieldNode) -> tuple[Any, Any]:
        """Return (field definition, named type) of a field, searching fragments' types."""
        candidates = [parent]
        if not hasattr(parent, "fields") or node.name.value not in getattr(parent, "fields", {}):
            candidates = list(self.schema.type_map.values())
        for candidate in candidates:
            fields = getattr(candidate, "fields", None)
            if fields and node.name.value in fields:
                definition = fields[node.name.value]
                return definition, get_named_type(definition.type)
        return None, None

    def cost(self, parent: Any, selection_set: Optional[SelectionSetNode],
             data: Any = None, actual: bool = False) -> int:
        """Return the cost of a selection set (actual counts when actual=True)."""
        total = 0
        for node in self.selections(selection_set):
            name = node.name.value
            if name.startswith("__"):
                continue
            definition, named = self._field_type(parent, node)
            if definition is None or is_leaf_type(named):
                continue
            key = node.alias.value if node.alias else name
            value = data.get(key) if isinstance(data, dict) else None
            if actual and value is None:
                continue
            if named.name.endswith("Connection"):
                total += self.connection(named, node, definition, value, actual)
            elif isinstance(value, list) or (not actual and _is_list(definition.type)):
                per = 1 + self.cost(named, node.selection_set)
                if actual:
                    total += sum(1 + self.cost(named, node.selection_set, v, True)
                                 for v in value if v is not None)
                else:
                    try:
                        args = argument_values(definition, node, self.variables)
                    except GraphQLError:
                        args = {}
                    count = args.get("first") or len(args.get("ids") or []) or 1
                    total += per * count
            else:
                total += 1 + self.cost(named, node.selection_set, value, actual)
        return total

    def connection(self, named: Any, node: FieldNode, definition: Any, value: Any,
                   actual: bool) -> int:
        """Return 2 + first × node cost for a connection field."""
        node_type = get_named_type(named.fields["nodes"].type)
        per_node = 0
        node_sets: list[tuple[SelectionSetNode, str, bool]] = []
        for part in self.selections(node.selection_set):
            if part.name.value == "nodes":
                node_sets.append((part.selection_set, part.alias.value if part.alias else "nodes",
                                  False))
            elif part.name.value == "edges":
                for inner in self.selections(part.selection_set):
                    if inner.name.value == "node":
                        node_sets.append((inner.selection_set,
                                          part.alias.value if part.alias else "edges", True))
        if not actual:
            try:
                args = argument_values(definition, node, self.variables)
            except GraphQLError:
                args = {}
            first = args.get("first") or 0
            for selection_set, _, _ in node_sets:
                per_node += 1 + self.cost(node_type, selection_set)
            return CONNECTION_BASE + first * (per_node or 1)
        total = CONNECTION_BASE
        for selection_set, key, via_edges in node_sets:
            for item in value.get(key) or []:
                node_data = item.get("node") if via_edges and isinstance(item, dict) else item
                total += 1 + self.cost(node_type, selection_set, node_data, True)
        return total


def _is_list(type_: Any) -> bool:
    """Return whether a (possibly non-null) type is a list."""
    return is_list_type(get_nullable_type(type_))


def operation_of(document: DocumentNode, name: Optional[str]) -> Optional[OperationDefinitionNode]:
    """Return the operation to execute (by name, or the only one)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((o for o in operations if o.name and o.name.value == name), None)
    return operations[0] if len(operations) == 1 else None


def requested_cost(schema: GraphQLSchema, document: DocumentNode,
                   operation: OperationDefinitionNode, variables: Optional[dict]) -> int:
    """Return the requested cost of an operation."""
    if operation.operation.value == "mutation":
        return MUTATION_COST * len(operation.selection_set.selections)
    walker = _Walker(schema, document, variables)
    return walker.cost(schema.query_type, operation.selection_set)


def actual_cost(schema: GraphQLSchema, document: DocumentNode,
                operation: OperationDefinitionNode, variables: Optional[dict],
                data: Optional[dict]) -> int:
    """Return the cost of what was actually returned."""
    if operation.operation.value == "mutation":
        return MUTATION_COST * len(operation.selection_set.selections)
    if data is None:
        return 0
    walker = _Walker(schema, document, variables)
    return walker.cost(schema.query_type, operation.selection_set, data, True)
