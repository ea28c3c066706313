"""Turns a google.api.http path template into an OpenAPI path and its bound field paths.

Grammar (google/api/http.proto):
    Template = "/" Segments [ Verb ] ;  Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;  Variable = "{" FieldPath [ "=" Segments ] "}" ;
    Verb     = ":" LITERAL ;
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PathVariable:
    """A `{field.path}` of a template; `pattern` is set when the value may span segments."""

    field_path: str
    # The `=things/*` part of the variable, kept for documentation; empty for plain `{x}`.
    segments: str = ""
    pattern: str | None = None


@dataclass(frozen=True)
class PathTemplate:
    """A parsed template: the OpenAPI path (`/v1/things/{id}:verb`) and its variables in order."""

    openapi_path: str
    variables: tuple[PathVariable, ...]


def parse_path_template(template: str) -> PathTemplate:
    if not template.startswith("/"):
        raise ValueError(f"http path template {template!r} must start with '/'")
    segments, verb = _split(template[1:], template)
    parts: list[str] = []
    variables: list[PathVariable] = []
    for segment in segments:
        if segment.startswith("{"):
            variable = _variable(segment[1:-1], template)
            variables.append(variable)
            parts.append("{" + variable.field_path + "}")
        elif segment in ("*", "**"):
            # An unnamed wildcard binds no request field, so no OpenAPI parameter can
            # describe it; every Lastmile template names its variables.
            raise ValueError(f"http path template {template!r}: wildcard outside a variable")
        else:
            parts.append(segment)
    path = "/" + "/".join(parts) + (f":{verb}" if verb else "")
    return PathTemplate(openapi_path=path, variables=tuple(variables))


def _split(body: str, template: str) -> tuple[list[str], str]:
    """Split on '/' and the verb ':' outside braces (a variable may contain both)."""
    segments: list[str] = []
    current: list[str] = []
    depth = 0
    verb = ""
    for position, char in enumerate(body):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if depth == 0 and char == "/":
            segments.append("".join(current))
            current = []
        elif depth == 0 and char == ":":
            verb = body[position + 1 :]
            break
        else:
            current.append(char)
    segments.append("".join(current))
    if depth != 0 or any(not segment for segment in segments) or "/" in verb:
        raise ValueError(f"malformed http path template {template!r}")
    return segments, verb


def _variable(inner: str, template: str) -> PathVariable:
    field_path, _, segments = inner.partition("=")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", field_path):
        raise ValueError(f"http path template {template!r}: bad variable {{{inner}}}")
    if segments in ("", "*"):
        return PathVariable(field_path=field_path)
    regex = "/".join(_segment_regex(segment) for segment in segments.split("/"))
    return PathVariable(field_path=field_path, segments=segments, pattern=f"^{regex}$")


def _segment_regex(segment: str) -> str:
    if segment == "*":
        return "[^/]+"
    if segment == "**":
        return ".+"
    return re.escape(segment)
