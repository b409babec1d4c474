"""Theme app extensions: find an app's blocks, read their schema, render them with Liquid.

A block file is Liquid followed by `{% schema %}<JSON>{% endschema %}`. The schema part is
cut off before rendering; its settings give the defaults that the merchant's settings of an
activated app embed override. Rendering uses python-liquid with the Shopify objects the
storefront knows and a Shopify-compatible `json` filter; `{% render %}` reads the extension's
`snippets/`. Asset tags (`javascript`/`stylesheet` schema keys, `asset_url`) are not served.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any, Optional

from liquid import Environment, FileSystemLoader
from liquid.exceptions import LiquidError
from liquid.undefined import Undefined

from ..errors import BadRequest
from ..tokens import App

log = logging.getLogger(__name__)

SCHEMA_RE = re.compile(r"{%-?\s*schema\s*-?%}(.*?){%-?\s*endschema\s*-?%}", re.S)
BLOCK_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
EMBED_TARGETS = ("head", "compliance_head", "body")
# What Shopify's json filter escapes so that its output is safe inside a <script> element.
JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                "\u2028": "\\u2028", "\u2029": "\\u2029"}
JSON_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


@dataclass(frozen=True)
class Block:
    """One parsed block file of a theme app extension."""

    extension: str
    name: str
    source: str
    schema: dict[str, Any]

    @property
    def target(self) -> str:
        """Return where the block goes: `section` (app block) or an app embed target."""
        return str(self.schema.get("target", "section"))

    def defaults(self) -> dict[str, Any]:
        """Return each setting's default (a checkbox without one is false, others nil)."""
        values: dict[str, Any] = {}
        for setting in self.schema.get("settings", ()):
            if isinstance(setting, dict) and setting.get("id"):
                fallback = False if setting.get("type") == "checkbox" else None
                values[setting["id"]] = setting.get("default", fallback)
        return values


def check_extension(path: Any) -> str:
    """Return a theme app extension directory as given, or raise BadRequest."""
    if not isinstance(path, str) or not os.path.isabs(path):
        raise BadRequest("extensions must be absolute directory paths")
    config = Path(path) / "shopify.extension.toml"
    try:
        kind = tomllib.loads(config.read_text(encoding="utf-8")).get("type")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadRequest(f"{path}: no readable shopify.extension.toml ({exc})") from exc
    if kind != "theme":
        raise BadRequest(f"{path} is not a theme app extension (type {kind!r})")
    return path


def find_block(app: App, name: str) -> Optional[Block]:
    """Return the app's block `blocks/<name>.liquid` from its first extension that has it."""
    if not BLOCK_RE.match(name or ""):
        return None
    for extension in app.extensions:
        path = Path(extension) / "blocks" / f"{name}.liquid"
        try:
            stat = path.stat()
        except OSError:
            continue
        return _load(str(path), stat.st_mtime_ns, extension, name)
    return None


@lru_cache(maxsize=64)
def _load(path: str, mtime_ns: int, extension: str, name: str) -> Block:
    """Parse a block file (cached until the file changes)."""
    text = Path(path).read_text(encoding="utf-8")
    match = SCHEMA_RE.search(text)
    schema: dict[str, Any] = {}
    if match:
        try:
            loaded = json.loads(match.group(1))
        except json.JSONDecodeError as exc:
            raise BadRequest(f"blocks/{name}.liquid: invalid schema JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise BadRequest(f"blocks/{name}.liquid: the schema must be a JSON object")
        schema = loaded
        text = text[:match.start()] + text[match.end():]
    return Block(extension, name, text, schema)


def _plain(value: Any) -> Any:
    """Turn Liquid values into JSON-encodable ones (undefined is null)."""
    if isinstance(value, Undefined):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def shopify_json(value: Any) -> str:
    """Encode like Shopify's `json` filter: compact, `<`, `>`, `&`, U+2028/9 as `\\uXXXX`."""
    text = json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))
    return JSON_ESCAPE_RE.sub(lambda m: JSON_ESCAPES[m.group()], text)


@lru_cache(maxsize=16)
def _environment(extension: str) -> Environment:
    """Return the Liquid environment of an extension (snippets from its `snippets/`)."""
    env = Environment(loader=FileSystemLoader(Path(extension) / "snippets", ext=".liquid"))
    env.filters["json"] = shopify_json
    return env


def render(block: Block, objects: dict[str, Any], settings: dict[str, Any]) -> str:
    """Render a block with the storefront objects and `block.settings` (defaults + settings).

    A Liquid error is shown in the page, as Shopify does, instead of failing the page.
    """
    context = dict(objects, block={"settings": {**block.defaults(), **settings},
                                   "type": block.name})
    try:
        return _environment(block.extension).from_string(block.source).render(**context)
    except LiquidError as exc:
        log.warning("liquid error in %s/blocks/%s.liquid: %s", block.extension, block.name, exc)
        return f'<p class="liquid-error">Liquid error (blocks/{escape(block.name)}.liquid): ' \
               f'{escape(str(exc))}</p>\n'


def check_settings(block: Block, settings: Any) -> dict[str, Any]:
    """Return activation settings after checking they name settings of the block's schema."""
    if not isinstance(settings, dict):
        raise BadRequest("settings must be an object")
    unknown = sorted(set(settings) - set(block.defaults()))
    if unknown:
        raise BadRequest(f"blocks/{block.name}.liquid has no settings {unknown}")
    return dict(settings)
