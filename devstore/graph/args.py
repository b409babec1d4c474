"""Argument values of a field node, with variables and defaults applied."""

from __future__ import annotations

from typing import Any, Optional

from graphql import FieldNode, GraphQLField, Undefined, VariableNode, value_from_ast


def argument_values(definition: GraphQLField, node: FieldNode,
                    variables: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Return {name: value} for a field's arguments (invalid values are left out)."""
    variables = variables or {}
    given = {arg.name.value: arg.value for arg in node.arguments or ()}
    values: dict[str, Any] = {}
    for name, arg in definition.args.items():
        value = Undefined
        ast = given.get(name)
        if ast is not None and not (isinstance(ast, VariableNode)
                                    and ast.name.value not in variables):
            value = value_from_ast(ast, arg.type, variables)
        if value is Undefined:
            value = arg.default_value
        if value is not Undefined:
            values[name] = value
    return values
