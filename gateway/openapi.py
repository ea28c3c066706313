"""Builds an OpenAPI 3.1 document from the gateway's descriptor set (placeholder)."""

from __future__ import annotations

from typing import Any


def build_document(descriptor_set: bytes) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "Lastmile", "version": "v1"}, "paths": {}}
