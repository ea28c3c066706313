"""The /docs page: self-contained HTML (no scripts, no CDN) listing the operations of the same
OpenAPI document that /openapi.json serves, so the two cannot disagree."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }
h1 { margin-bottom: 0; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
details { border: 1px solid #ddd; border-radius: 6px; margin: .5rem 0; padding: .4rem .8rem; }
summary { cursor: pointer; } code { font-size: 14px; }
.verb { display: inline-block; width: 4.5rem; font-weight: 600; font-family: monospace; }
.get { color: #1565c0; } .post { color: #2e7d32; } .delete { color: #c62828; }
.patch, .put { color: #ef6c00; } .open { color: #2e7d32; } .token { color: #777; }
pre { white-space: pre-wrap; background: #f6f6f6; padding: .6rem; border-radius: 4px; }
"""


def render_docs_page(document: dict[str, Any]) -> str:
    """The page as HTML text: one section per tag, one collapsible entry per operation."""
    info = document.get("info", {})
    title = escape(str(info.get("title", "API")))
    sections = [
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title} <small>{escape(str(info.get('version', '')))}</small></h1>",
        f"<p>{escape(str(info.get('description', '')))}</p>",
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>',
    ]
    default_security = document.get("security", [])
    for tag in document.get("tags", []):
        sections.append(f'<h2 id="{escape(tag["name"])}">{escape(tag["name"])}</h2>')
        if description := tag.get("description"):
            sections.append(f"<p>{escape(description)}</p>")
        for path, methods in document.get("paths", {}).items():
            for verb, operation in methods.items():
                if tag["name"] in operation.get("tags", []):
                    sections.append(_operation(path, verb, operation, default_security))
    sections.append("</body></html>\n")
    return "\n".join(sections)


def _operation(path: str, verb: str, operation: dict[str, Any], default_security: Any) -> str:
    security = operation.get("security", default_security)
    access = (
        '<span class="open">open</span>' if security == [] else '<span class="token">token</span>'
    )
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    success = operation.get("responses", {}).get("200", {}).get("content", {})
    parts = [
        f'<details id="{escape(operation.get("operationId", ""))}"><summary>'
        f'<span class="verb {escape(verb)}">{escape(verb.upper())}</span>'
        f"<code>{escape(path)}</code> — {escape(operation.get('summary', ''))} {access}"
        "</summary>",
        f"<pre>{escape(operation.get('description', ''))}</pre>",
    ]
    for parameter in operation.get("parameters", []):
        required = " (required)" if parameter.get("required") else ""
        parts.append(
            f"<p><code>{escape(parameter['name'])}</code> in {escape(parameter['in'])}"
            f"{required}: {escape(parameter.get('description', ''))}</p>"
        )
    if body:
        parts.append(
            f"<p>Request body: <code>{escape(_schema_name(body.get('schema')))}</code></p>"
        )
    for media_type, content in success.items():
        parts.append(
            f"<p>Response ({escape(media_type)}): "
            f"<code>{escape(_schema_name(content.get('schema')))}</code></p>"
        )
    parts.append("</details>")
    return "\n".join(parts)


def _schema_name(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        return str(schema["$ref"]).rpartition("/")[2]
    if schema.get("type") == "array":
        return f"array of {_schema_name(schema.get('items'))}"
    return str(schema.get("type", "object"))
