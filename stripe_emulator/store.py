"""In-memory object tables of one emulated Stripe account, with creation order for lists."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from .errors import no_such

Obj = dict[str, Any]

# Table name per Stripe object type, and the wording Stripe uses in "No such ..." errors.
KINDS: dict[str, str] = {
    "customers": "customer",
    "products": "product",
    "prices": "price",
    "checkout_sessions": "checkout.session",
    "portal_sessions": "billing_portal.session",
    "subscriptions": "subscription",
    "subscription_items": "subscription_item",
    "invoices": "invoice",
    "invoice_payments": "invoice_payment",
    "payment_intents": "payment_intent",
    "charges": "charge",
    "refunds": "refund",
    "payment_methods": "payment_method",
    "events": "event",
}
# Object types Stripe names with their underscore kept in "No such ..." messages.
_VERBATIM = {"payment_intents"}


def snapshot(obj: Any) -> Any:
    """A deep copy of JSON data; a JSON round-trip beats `copy.deepcopy` here."""
    return json.loads(json.dumps(obj))


class Store:
    """Every object by table and id; `seq` orders lists newest first, even within a second."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Obj]] = {name: {} for name in KINDS}
        self.deleted_customers: dict[str, Obj] = {}
        self.lookup_keys: dict[str, str] = {}
        # Parent id → child ids in creation order (invoice → invoice payments, charge → refunds):
        # lookups without scanning whole tables.
        self.links: dict[str, list[str]] = {}
        # Customer → proration credit lines not yet invoiced (Stripe's pending invoice items).
        self.pending_lines: dict[str, list[Obj]] = {}
        self.seq: dict[str, int] = {}
        self.created_counts: Counter[str] = Counter()
        # A plain counter (not itertools.count) so a saved account resumes where it stopped.
        self.last_seq = 0

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

    def add(self, table: str, obj: Obj) -> Obj:
        self.tables[table][obj["id"]] = obj
        self.seq[obj["id"]] = self.next_seq()
        self.created_counts[table] += 1
        return obj

    def get(self, table: str, obj_id: str, *, param: str = "id", status: int = 404) -> Obj:
        obj = self.tables[table].get(obj_id)
        if obj is None:
            kind = KINDS[table] if table in _VERBATIM else KINDS[table].replace("_", " ")
            raise no_such(kind, obj_id, param, status)
        return obj

    def link(self, parent_id: str, child_id: str) -> None:
        self.links.setdefault(parent_id, []).append(child_id)

    def children(self, table: str, parent_id: str) -> list[Obj]:
        """Linked objects of one table, oldest first."""
        rows = self.tables[table]
        return [rows[i] for i in self.links.get(parent_id, ()) if i in rows]

    def customer(self, obj_id: str, *, param: str = "id", status: int = 404) -> Obj:
        """A live customer; deleted ones are missing for every use but retrieve."""
        obj = self.tables["customers"].get(obj_id)
        if obj is None:
            raise no_such("customer", obj_id, param, status)
        return obj

    def price(self, obj_id: str, *, param: str = "id", status: int = 404) -> Obj:
        return self.get("prices", obj_id, param=param, status=status)

    def counts(self) -> dict[str, Any]:
        live = {name: len(table) for name, table in self.tables.items()}
        return {
            "objects": live,
            "created": dict(self.created_counts),
            "deleted_customers": len(self.deleted_customers),
        }

    def ordered(self, table: str, objs: Any = None) -> list[Obj]:
        """Objects newest first by creation sequence."""
        items = list(self.tables[table].values()) if objs is None else list(objs)
        seq = self.seq
        items.sort(key=lambda o: seq.get(o["id"], 0), reverse=True)
        return items
