"""Export a shop with bulk operations and stream the JSONL result as neutral records."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx

from connectors.base import BackfillJob, Credentials, RetryableError, TerminalError
from connectors.shopify import mapping, queries
from connectors.shopify.graphql import GraphQLClient, user_errors

logger = logging.getLogger(__name__)

_RUNNING = frozenset({"CREATED", "RUNNING", "CANCELING"})
_FAILED = frozenset({"FAILED", "CANCELED", "EXPIRED"})
_PARENT_MARKER = '"__parentId"'
_DECODER = json.JSONDecoder(parse_float=Decimal)  # one decoder: json.loads(…, kw) builds one per call


def start(graphql: GraphQLClient, credentials: Credentials, resource: str) -> BackfillJob:
    """Start a bulk query exporting ``resource``; ``RetryableError`` while another one runs."""
    document = queries.BULK_QUERIES.get(resource)
    if document is None:
        raise TerminalError(f"no bulk export for resource {resource!r}")
    data = graphql.execute(credentials, queries.BULK_RUN, {"query": document})
    payload = data.get("bulkOperationRunQuery") or {}
    errors = user_errors(payload)
    if errors:
        if any(error.get("code") == "OPERATION_IN_PROGRESS" for error in errors):
            raise RetryableError(f"shop {credentials.shop_key} already runs a bulk operation",
                                 retry_after=30.0)
        raise TerminalError("bulk query refused: " + "; ".join(str(e.get("message")) for e in errors))
    operation = payload.get("bulkOperation") or {}
    if not operation.get("id"):
        raise TerminalError("bulkOperationRunQuery answered without an operation id")
    logger.info("shopify bulk export started shop=%s resource=%s job=%s",
                credentials.shop_key, resource, operation["id"])
    return BackfillJob(resource=resource, job_id=operation["id"], status="running")


def poll(graphql: GraphQLClient, credentials: Credentials, job: BackfillJob) -> BackfillJob:
    """Return ``job`` with the operation's current status, counts and result URL."""
    data = graphql.execute(credentials, queries.BULK_NODE, {"id": job.job_id})
    operation = data.get("node")
    if not operation:
        raise TerminalError(f"bulk operation {job.job_id} is unknown to the shop")
    status = str(operation.get("status") or "").upper()
    object_count = int(operation.get("objectCount") or 0)
    root_count = operation.get("rootObjectCount")
    root_count = None if root_count is None else int(root_count)
    if status == "COMPLETED":
        return BackfillJob(resource=job.resource, job_id=job.job_id, status="completed",
                           object_count=object_count, root_object_count=root_count,
                           result_url=operation.get("url") or None)
    if status in _FAILED:
        return BackfillJob(resource=job.resource, job_id=job.job_id, status="failed",
                           object_count=object_count, root_object_count=root_count,
                           error=str(operation.get("errorCode") or status).lower())
    if status in _RUNNING:
        return BackfillJob(resource=job.resource, job_id=job.job_id, status="running",
                           object_count=object_count, root_object_count=root_count)
    raise TerminalError(f"bulk operation {job.job_id} has unknown status {status!r}")


def iter_records(http: httpx.Client, job: BackfillJob, *, skip: int = 0) -> Iterator[Any]:
    """Stream the job's JSONL and yield one record per root object, after the first ``skip``."""
    if job.status != "completed":
        raise TerminalError(f"bulk job {job.job_id} is {job.status}, not completed")
    if not job.result_url:
        return  # a completed export of nothing has no file
    try:
        with http.stream("GET", job.result_url) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise RetryableError(f"bulk result download answered HTTP {response.status_code}")
            if response.status_code != 200:
                raise TerminalError(f"bulk result download answered HTTP {response.status_code}")
            yield from join_lines(job.resource, response.iter_lines(), skip=skip)
    except httpx.TimeoutException as exc:
        raise RetryableError("bulk result download timed out") from exc
    except httpx.TransportError as exc:
        raise RetryableError(f"bulk result download failed: {type(exc).__name__}") from exc


def join_lines(resource: str, lines: Iterator[str], *, skip: int = 0) -> Iterator[Any]:
    """Join child lines to their parents by ``__parentId`` and yield mapped root records.

    Children always follow their parent, so a root is complete when the next root line
    arrives (or at the end). Only the current root's objects are held in memory.
    """
    to_record = mapping.MAPPERS.get(resource)
    if to_record is None:
        raise TerminalError(f"no mapping for resource {resource!r}")
    child_key = mapping.CHILD_CONNECTIONS.get(resource, "children")
    decode = _DECODER.decode
    root: dict[str, Any] | None = None
    root_id = None
    index: dict[str, Any] = {}
    skipping = skip > 0
    seen_roots = 0
    number = 0
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        if skipping:
            # Roots are recognised without parsing, so resuming past them is cheap.
            if _PARENT_MARKER in line:
                continue
            seen_roots += 1
            if seen_roots <= skip:
                continue
            skipping = False
        try:
            obj = decode(line)
            parent_id = obj.pop("__parentId", None)
        except (ValueError, AttributeError) as exc:
            raise TerminalError(f"bulk line {number} is not a JSON object") from exc
        if parent_id is None:
            if root is not None:
                yield _map(to_record, resource, root)
            root = obj
            root_id = obj.get("id")
            index = {}
            refunds = obj.get("refunds")
            if refunds:
                for refund in refunds:
                    index[refund["id"]] = refund
            continue
        if root is None:
            raise TerminalError(f"bulk line {number} has a parent before any root")
        if parent_id == root_id:
            _adopt(root, child_key, obj)
            continue
        parent = index.get(parent_id)
        if parent is None:
            raise TerminalError(f"bulk line {number} names unknown parent {parent_id!r}")
        _adopt(parent, mapping.GRANDCHILD_CONNECTION, obj)
    if root is not None:
        yield _map(to_record, resource, root)


def _adopt(parent: dict[str, Any], key: str, child: dict[str, Any]) -> None:
    """Append ``child`` to ``parent[key]`` (a list of nodes, which ``mapping.nodes`` accepts)."""
    children = parent.get(key)
    if children is None:
        parent[key] = [child]
    elif isinstance(children, list):
        children.append(child)
    else:
        parent[key] = mapping.nodes(children) + [child]


def _map(to_record: Any, resource: str, node: dict[str, Any]) -> Any:
    try:
        return to_record(node)
    except TerminalError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TerminalError(f"malformed {resource} object {node.get('id')!r}: {exc!r}") from exc
