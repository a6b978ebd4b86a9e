"""Generate `openapi_subset.json`: the Stripe OpenAPI schemas and parameter names we serve."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "shared/reference/stripe-openapi/spec3.json"
OUTPUT = Path(__file__).with_name("openapi_subset.json")

# Objects the emulator returns; everything else reachable only via an expandable field is cut.
ROOTS = [
    "customer",
    "deleted_customer",
    "product",
    "price",
    "checkout.session",
    "item",
    "billing_portal.session",
    "subscription",
    "subscription_item",
    "invoice",
    "line_item",
    "invoice_payment",
    "payment_intent",
    "charge",
    "refund",
    "payment_method",
    "event",
    "error",
]

# (method, path) of every Stripe operation the emulator serves, for parameter validation.
OPERATIONS = [
    ("get", "/v1/customers"),
    ("post", "/v1/customers"),
    ("get", "/v1/customers/{customer}"),
    ("post", "/v1/customers/{customer}"),
    ("delete", "/v1/customers/{customer}"),
    ("get", "/v1/products"),
    ("post", "/v1/products"),
    ("get", "/v1/products/{id}"),
    ("post", "/v1/products/{id}"),
    ("get", "/v1/prices"),
    ("post", "/v1/prices"),
    ("get", "/v1/prices/{price}"),
    ("post", "/v1/prices/{price}"),
    ("get", "/v1/checkout/sessions"),
    ("post", "/v1/checkout/sessions"),
    ("get", "/v1/checkout/sessions/{session}"),
    ("get", "/v1/checkout/sessions/{session}/line_items"),
    ("post", "/v1/checkout/sessions/{session}/expire"),
    ("post", "/v1/billing_portal/sessions"),
    ("get", "/v1/subscriptions"),
    ("post", "/v1/subscriptions"),
    ("get", "/v1/subscriptions/{subscription_exposed_id}"),
    ("post", "/v1/subscriptions/{subscription_exposed_id}"),
    ("delete", "/v1/subscriptions/{subscription_exposed_id}"),
    ("get", "/v1/subscription_items"),
    ("get", "/v1/invoices"),
    ("get", "/v1/invoices/{invoice}"),
    ("get", "/v1/invoices/{invoice}/lines"),
    ("get", "/v1/invoice_payments"),
    ("get", "/v1/invoice_payments/{invoice_payment}"),
    ("get", "/v1/payment_intents/{intent}"),
    ("get", "/v1/charges"),
    ("get", "/v1/charges/{charge}"),
    ("get", "/v1/refunds"),
    ("post", "/v1/refunds"),
    ("get", "/v1/refunds/{refund}"),
    ("get", "/v1/events"),
    ("get", "/v1/events/{id}"),
]

REF = "#/components/schemas/"


def _prune(node: Any, keep: set[str], resources: set[str], expandable: bool = False) -> Any:
    """Copy a schema node, replacing refs to unserved API resources under expandable fields."""
    if isinstance(node, list):
        return [_prune(n, keep, resources, expandable) for n in node]
    if not isinstance(node, dict):
        return node
    target = node.get("$ref", "")[len(REF) :]
    if expandable and target in resources and target not in keep:
        # An expanded resource we never serve: accept any object there instead of its schema.
        return {"type": "object"}
    out: dict[str, Any] = {}
    expandable_fields = set(node.get("x-expandableFields", []))
    for key, value in node.items():
        if key in ("description", "x-expansionResources"):
            # Prose and the list of expansion targets are not part of a shape check.
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {
                name: _prune(sub, keep, resources, name in expandable_fields)
                for name, sub in value.items()
            }
        elif key in ("anyOf", "oneOf", "allOf", "items"):
            out[key] = _prune(value, keep, resources, expandable)
        else:
            out[key] = _prune(value, keep, resources, False)
    return out


def _refs(node: Any, acc: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF):
            acc.add(ref[len(REF) :])
        for value in node.values():
            _refs(value, acc)
    elif isinstance(node, list):
        for value in node:
            _refs(value, acc)


def extract(spec: dict[str, Any]) -> dict[str, Any]:
    """Return the served schemas, their non-expandable dependencies and operation params."""
    schemas: dict[str, Any] = spec["components"]["schemas"]
    keep = set(ROOTS)
    # API resources have an id; other named schemas are sub-objects embedded inline.
    resources = {name for name, sch in schemas.items() if "id" in sch.get("properties", {})}
    out: dict[str, Any] = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = _prune(schemas[name], keep, resources)
        found: set[str] = set()
        _refs(out[name], found)
        todo.extend(sorted(found - out.keys()))
    operations: dict[str, list[str]] = {}
    for method, path in OPERATIONS:
        op = spec["paths"][path][method]
        names = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
        body = op.get("requestBody", {}).get("content", {})
        form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
        names.extend(form.get("properties", {}).keys())
        operations[f"{method.upper()} {path}"] = sorted(set(names))
    return {"schemas": dict(sorted(out.items())), "operations": operations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    result = extract(spec)
    document = {
        "provenance": {
            "source": "shared/reference/stripe-openapi/spec3.json (Stripe's public OpenAPI spec)",
            "api_version": spec["info"]["version"],
            "generated": dt.date.today().isoformat(),
            "generator": "python -m stripe_emulator.extract_schemas",
            "note": "descriptions dropped; refs under unserved expandable fields -> object",
        },
        **result,
    }
    args.out.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
    logging.basicConfig(level=logging.INFO)
    log.info("wrote %d schemas to %s", len(result["schemas"]), args.out)


if __name__ == "__main__":
    main()
