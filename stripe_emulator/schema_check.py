"""Validate emulator answers against the Stripe OpenAPI subset (test helper; needs jsonschema)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

REF = "#/components/schemas/"


def _convert(node: Any, strict: bool) -> Any:
    """OpenAPI 3.0 → JSON Schema: `nullable`, local refs, and (strict) no unknown fields."""
    if isinstance(node, list):
        return [_convert(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "nullable" or key.startswith("x-"):
            continue
        if key == "$ref":
            out[key] = "#/$defs/" + value[len(REF) :]
        else:
            out[key] = _convert(value, strict)
    if strict and "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("openapi_subset.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def validator(name: str, strict: bool = True) -> jsonschema.Draft202012Validator:
    defs = {k: _convert(v, strict) for k, v in _document()["schemas"].items()}
    schema = {"$defs": defs, "$ref": f"#/$defs/{name}"}
    return jsonschema.Draft202012Validator(schema)


def schema_name(obj: dict[str, Any]) -> str:
    if obj.get("deleted") and obj.get("object") == "customer":
        return "deleted_customer"
    return str(obj["object"])


def errors(obj: dict[str, Any], name: str | None = None, strict: bool = True) -> list[str]:
    """Every violation, as `path: message`; `strict` also rejects fields the spec lacks."""
    v = validator(name or schema_name(obj), strict)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}"
        for e in v.iter_errors(obj)
    ]
