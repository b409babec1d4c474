"""Run one GraphQL Admin request: validate, price, throttle, execute."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional

from graphql import GraphQLError, GraphQLSchema, build_schema, execute, get_named_type, parse, validate

from . import operations, writes
from .context import Ctx
from .cost import actual_cost, operation_of, requested_cost
from .fields import FIELDS, NODE_TYPES
from .pagination import paginate
from .throttle import bucket_for

log = logging.getLogger(__name__)

MAX_QUERY_COST = 1000
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"


def _plain(getter: Callable) -> Callable:
    """Wrap a getter as a graphql-core resolver."""
    def resolve(obj: Any, info: Any, **args: Any) -> Any:
        return getter(obj, args, info.context)
    return resolve


def _connection(getter: Callable) -> Callable:
    """Wrap a connection getter as a paging graphql-core resolver."""
    def resolve(obj: Any, info: Any, **args: Any) -> Any:
        return paginate(getter(obj, args, info.context), args)
    return resolve


def _resolve_node_type(obj: Any, info: Any, abstract: Any) -> Optional[str]:
    """Return the concrete GraphQL type name of a Node."""
    if isinstance(obj, operations.bulk.BulkOperation):
        return "BulkOperation"
    return NODE_TYPES.get(type(obj))


@lru_cache(maxsize=1)
def schema() -> GraphQLSchema:
    """Build the schema from SDL and attach every resolver."""
    built = build_schema((Path(__file__).parent / "schema.graphql").read_text())
    for type_name, getters in FIELDS.items():
        graphql_type = built.get_type(type_name)
        for field_name, getter in getters.items():
            definition = graphql_type.fields[field_name]  # type: ignore[union-attr]
            named = get_named_type(definition.type)
            wrap = _connection if named.name.endswith("Connection") else _plain
            definition.resolve = wrap(getter)
    mutation = built.mutation_type
    assert mutation is not None
    mutation.fields["webhookSubscriptionCreate"].resolve = _plain(
        lambda o, a, c: operations.subscription_create(c, a))
    mutation.fields["webhookSubscriptionDelete"].resolve = _plain(
        lambda o, a, c: operations.subscription_delete(c, a))
    mutation.fields["bulkOperationRunQuery"].resolve = _plain(
        lambda o, a, c: operations.bulk_run(c, a, built))
    mutation.fields["bulkOperationCancel"].resolve = _plain(
        lambda o, a, c: operations.bulk_cancel(c, a))
    for name, resolver in writes.MUTATIONS.items():
        mutation.fields[name].resolve = _plain(
            lambda o, a, c, resolver=resolver: resolver(c, a))
    for union in writes.UNIONS:
        built.get_type(union).resolve_type = writes.resolve_abstract  # type: ignore[union-attr]
    built.get_type("Node").resolve_type = _resolve_node_type  # type: ignore[union-attr]
    built.get_type("Media").resolve_type = _resolve_node_type  # type: ignore[union-attr]
    return built


def _cost(requested: int, actual: Optional[int], status: dict) -> dict:
    """Return the extensions.cost object."""
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                     "throttleStatus": status}}


def run(ctx: Ctx, body: Any) -> dict:
    """Answer a GraphQL request body; the HTTP status is always 200."""
    bucket = bucket_for(ctx.shop, ctx.client_id)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return {"errors": [{"message": "Parameter Missing or Invalid: query"}],
                "extensions": _cost(0, 0, bucket.status())}
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return {"errors": [{"message": "Variables must be an object"}],
                "extensions": _cost(0, 0, bucket.status())}
    the_schema = schema()
    try:
        document = parse(body["query"])
    except GraphQLError as exc:
        return {"errors": [exc.formatted], "extensions": _cost(0, 0, bucket.status())}
    errors = validate(the_schema, document)
    if errors:
        return {"errors": [e.formatted for e in errors],
                "extensions": _cost(0, 0, bucket.status())}
    operation = operation_of(document, body.get("operationName"))
    if operation is None:
        return {"errors": [{"message": "An operation name is required"}],
                "extensions": _cost(0, 0, bucket.status())}
    requested = requested_cost(the_schema, document, operation, variables)
    if requested > MAX_QUERY_COST:
        message = (f"Query cost is {requested}, which exceeds the single query max cost limit "
                   f"({MAX_QUERY_COST}).\n\nSee {RATE_LIMIT_DOCS} for more information on how "
                   "the cost of a query is calculated.\n\nTo query larger amounts of data with "
                   "fewer limits, bulk operations should be used instead.")
        return {"errors": [{"message": message, "extensions": {
                    "code": "MAX_COST_EXCEEDED", "cost": requested,
                    "maxCost": MAX_QUERY_COST}}],
                "extensions": _cost(requested, None, bucket.status())}
    if not bucket.try_take(requested):
        return {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}],
                "extensions": _cost(requested, None, bucket.status())}
    with ctx.shop.lock:
        result = execute(the_schema, document, context_value=ctx, variable_values=variables,
                         operation_name=body.get("operationName"))
    actual = min(requested, actual_cost(the_schema, document, operation, variables,
                                        result.data))
    bucket.give_back(requested - actual)
    response: dict[str, Any] = {}
    if result.errors:
        response["errors"] = [e.formatted for e in result.errors]
        for error in result.errors:
            if error.original_error is not None and not isinstance(error.original_error,
                                                                   GraphQLError):
                log.error("resolver error", exc_info=error.original_error)
    response["data"] = result.data
    response["extensions"] = _cost(requested, actual, bucket.status())
    return response
