"""Bulk query operations: run a query over all root objects and write JSONL."""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from graphql import (
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
    parse,
    validate,
)
from graphql.error import GraphQLError

from ..formats import gid
from ..shopstate import ShopState
from .args import argument_values
from .context import Ctx
from .fields import FIELDS, NODE_TYPES

log = logging.getLogger(__name__)

SCALAR, OBJECT, LIST, CONNECTION, TYPENAME = range(5)
ACTIVE = ("CREATED", "RUNNING")
PROGRESS_EVERY = 2000
BULK_ID_BASE = 4_500_000_000_000
_ids = itertools.count(BULK_ID_BASE + 1)
_ids_lock = threading.Lock()


def _next_id() -> int:
    """Allocate a bulk operation id unique across shops (it names the result file)."""
    with _ids_lock:
        return next(_ids)


@dataclass
class BulkOperation:
    """One bulk query operation and its result file."""

    id: int
    shop: str
    client_id: str
    query: str
    created_at: int
    status: str = "CREATED"
    error_code: Optional[str] = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: Optional[int] = None
    path: Optional[str] = None
    url: Optional[str] = None
    completed_at: Optional[int] = None
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass
class FieldPlan:
    """How to write one selected field."""

    key: str
    kind: int
    getter: Optional[Callable] = None
    args: dict = field(default_factory=dict)
    sub: list["FieldPlan"] = field(default_factory=list)
    type_name: str = ""


class PlanError(ValueError):
    """The bulk query cannot be run."""


def _fields(selection_set: SelectionSetNode, type_name: str,
            fragments: dict[str, FragmentDefinitionNode], schema: GraphQLSchema) -> list[FieldNode]:
    """Flatten fragments that apply to type_name into a list of field nodes."""
    result: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            result.append(selection)
            continue
        if isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            inner = selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            condition, inner = fragment.type_condition, fragment.selection_set
        else:
            continue
        if condition is None or _applies(schema, condition.name.value, type_name):
            result.extend(_fields(inner, type_name, fragments, schema))
    return result


def _applies(schema: GraphQLSchema, condition: str, type_name: str) -> bool:
    """Return whether a fragment on `condition` applies to objects of type_name."""
    if condition == type_name:
        return True
    abstract = schema.get_type(condition)
    concrete = schema.get_type(type_name)
    try:
        return schema.is_sub_type(abstract, concrete)  # type: ignore[arg-type]
    except (TypeError, AttributeError):
        return False


def compile_plan(schema: GraphQLSchema, selection_set: SelectionSetNode, type_name: str,
                 fragments: dict, variables: dict) -> list[FieldPlan]:
    """Compile a selection set on type_name into field plans."""
    parent = schema.get_type(type_name)
    plans: list[FieldPlan] = []
    for node in _fields(selection_set, type_name, fragments, schema):
        name = node.name.value
        key = node.alias.value if node.alias else name
        if name == "__typename":
            plans.append(FieldPlan(key, TYPENAME, type_name=type_name))
            continue
        definition = parent.fields[name]  # type: ignore[union-attr]
        getter = FIELDS.get(type_name, {}).get(name)
        if getter is None:
            raise PlanError(f"Field {type_name}.{name} is not supported in bulk queries")
        args = argument_values(definition, node, variables)
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            plans.append(FieldPlan(key, SCALAR, getter, args))
        elif named.name.endswith("Connection"):
            plans.append(FieldPlan(key, CONNECTION, getter, args,
                                   _connection_plan(schema, node, named.name, fragments,
                                                    variables), named.name))
        else:
            sub = compile_plan(schema, node.selection_set, named.name, fragments, variables) \
                if node.selection_set else []
            kind = LIST if is_list_type(get_nullable_type(definition.type)) else OBJECT
            plans.append(FieldPlan(key, kind, getter, args, sub, named.name))
    return plans


def _connection_plan(schema: GraphQLSchema, node: FieldNode, connection: str,
                     fragments: dict, variables: dict) -> list[FieldPlan]:
    """Compile the node selection under edges { node } or nodes of a connection."""
    plans: list[FieldPlan] = []
    conn_type = schema.get_type(connection)
    node_type = get_named_type(conn_type.fields["nodes"].type).name  # type: ignore[union-attr]
    for part in _fields(node.selection_set, connection, fragments, schema):
        if part.name.value == "nodes" and part.selection_set:
            plans += compile_plan(schema, part.selection_set, node_type, fragments, variables)
        elif part.name.value == "edges" and part.selection_set:
            edge = conn_type.fields["edges"].type  # type: ignore[union-attr]
            edge_name = get_named_type(edge).name
            for inner in _fields(part.selection_set, edge_name, fragments, schema):
                if inner.name.value == "node" and inner.selection_set:
                    plans += compile_plan(schema, inner.selection_set, node_type, fragments,
                                          variables)
    return plans


def prepare(schema: GraphQLSchema, query: str) -> tuple[FieldPlan, Any]:
    """Parse and validate a bulk query; return the root plan and its root field node."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        raise PlanError(exc.message) from exc
    errors = validate(schema, document)
    if errors:
        raise PlanError(errors[0].message)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    if len(operations) != 1 or operations[0].operation.value != "query":
        raise PlanError("Bulk queries must contain exactly one query operation")
    if operations[0].variable_definitions:
        raise PlanError("Bulk queries cannot use variables")
    plans = compile_plan(schema, operations[0].selection_set, "QueryRoot", fragments, {})
    if len(plans) != 1 or plans[0].kind != CONNECTION:
        raise PlanError("Bulk queries must have exactly one top-level connection field")
    return plans[0], document


class JsonlWriter:
    """Flatten objects into JSONL lines following a plan."""

    def __init__(self, ctx: Ctx, out: Any, op: BulkOperation) -> None:
        self.ctx = ctx
        self.out = out
        self.op = op
        self.dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def project(self, obj: Any, plans: list[FieldPlan], type_name: str,
                children: list) -> dict:
        """Return the inline JSON of obj, collecting nested connections into children."""
        row: dict[str, Any] = {}
        ctx = self.ctx
        for plan in plans:
            kind = plan.kind
            if kind == SCALAR:
                row[plan.key] = plan.getter(obj, plan.args, ctx)
            elif kind == OBJECT:
                value = plan.getter(obj, plan.args, ctx)
                row[plan.key] = None if value is None else self.project(
                    value, plan.sub, plan.type_name, children)
            elif kind == LIST:
                row[plan.key] = [self.project(v, plan.sub, plan.type_name, children)
                                 for v in plan.getter(obj, plan.args, ctx)]
            elif kind == CONNECTION:
                children.append((plan, obj))
            else:
                row[plan.key] = type_name
        return row

    def write(self, obj: Any, plans: list[FieldPlan], type_name: str,
              parent: Optional[str]) -> None:
        """Write obj's line and then its nested connection lines."""
        children: list = []
        row = self.project(obj, plans, type_name, children)
        if parent is not None:
            row["__parentId"] = parent
        self.out.write(self.dumps(row))
        self.out.write("\n")
        self.op.object_count += 1
        for plan, owner in children:
            owner_gid = gid(NODE_TYPES[type(owner)], owner.id)
            node_type = plan.type_name[: -len("Connection")]
            for child in plan.getter(owner, plan.args, self.ctx):
                self.write(child, plan.sub, node_type, owner_gid)


def run(ctx: Ctx, op: BulkOperation, root: FieldPlan, path: str, base_url: str) -> None:
    """Execute a prepared bulk query into path and update op as it goes."""
    started = time.perf_counter()
    op.status = "RUNNING"
    node_type = root.type_name[: -len("Connection")]
    try:
        source = root.getter(None, root.args, ctx)
        with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
            writer = JsonlWriter(ctx, out, op)
            for count, obj in enumerate(source.all(), 1):
                if count % PROGRESS_EVERY == 0 and op.cancel.is_set():
                    break
                writer.write(obj, root.sub, node_type, None)
                op.root_object_count = count
        op.file_size = os.path.getsize(path)
        op.path = path
        if op.cancel.is_set():
            op.status = "CANCELED"
        else:
            op.url = f"{base_url}/_devstore/bulk/{op.id}.jsonl" if op.object_count else None
            op.status = "COMPLETED"
    except Exception:  # noqa: BLE001 - a failed run is reported through the operation
        log.exception("bulk operation %s failed", op.id)
        op.status = "FAILED"
        op.error_code = "INTERNAL_SERVER_ERROR"
    op.completed_at = int(time.time())
    log.info("bulk operation %s %s: %d objects (%d roots) in %.2fs", op.id, op.status,
             op.object_count, op.root_object_count, time.perf_counter() - started)


def start(ctx: Ctx, shop: ShopState, schema: GraphQLSchema, query: str, directory: str,
          base_url: str) -> BulkOperation:
    """Validate and launch a bulk query in a background thread (PlanError if invalid)."""
    root, _ = prepare(schema, query)
    with shop.lock:
        ops = shop.bulk_ops
        if any(op.status in ACTIVE for op in ops.values()):
            raise RuntimeError("A bulk query operation for this app and shop is already in progress")
        op = BulkOperation(_next_id(), shop.domain, ctx.client_id, query,
                           int(time.time()))
        ops[op.id] = op
    path = os.path.join(directory, f"{op.id}.jsonl")
    bulk_ctx = Ctx(ctx.store, shop, ctx.client_id, ctx.api_version, bulk=True)
    threading.Thread(target=run, args=(bulk_ctx, op, root, path, base_url),
                     name=f"devstore-bulk-{op.id}", daemon=True).start()
    return op


def operations(shop: ShopState) -> dict[int, BulkOperation]:
    """Return the shop's bulk operations by id."""
    return shop.bulk_ops
