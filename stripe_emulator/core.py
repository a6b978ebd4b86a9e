"""The emulated Stripe account: state, configuration, event recording and rendering."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .api_faults import ApiFaults
from .config import EmulatorConfig
from .idempotency import IdempotencyStore
from .persistence import StateFile
from .store import Obj, Store, snapshot
from .webhook_faults import DeliveryFaults
from .webhooks import WebhookDispatcher
from .wire import now, rand_token

log = logging.getLogger(__name__)

PORTAL_CONFIGURATION = "bpc_emulatordefault000001"


@dataclass(frozen=True)
class ReqInfo:
    """The API request that caused an event; both null for Stripe-initiated changes."""

    id: str | None = None
    idempotency_key: str | None = None


AUTOMATIC = ReqInfo()


class Emulator:
    """One account's objects plus the machinery around them; lives on one event loop."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.store = Store()
        self.idempotency = IdempotencyStore()
        self.api_faults = ApiFaults()
        self.api_faults.configure(self.config.api_faults)
        self.webhooks = WebhookDispatcher(self)
        self.webhooks.configure_faults(self.config.delivery_faults)
        # While muted, changes record no events (a catalog that predates the test window).
        self.muted = False
        # Where the account is kept between runs (`--state-file`); None keeps it in memory.
        self.state_file: StateFile | None = None

    def save(self) -> None:
        """Write the account to its state file now (after a request changed it)."""
        if self.state_file is not None:
            self.state_file.save(self)

    def save_soon(self) -> None:
        """Write the account shortly (after a webhook delivery changed `pending_webhooks`)."""
        if self.state_file is not None:
            self.state_file.save_soon(self)

    def reset(self, *, keep_config: bool = True) -> None:
        if not keep_config:
            self.config = EmulatorConfig()
        self.store = Store()
        self.idempotency = IdempotencyStore()
        self.api_faults = ApiFaults()
        self.api_faults.configure(self.config.api_faults)
        self.webhooks.reset()
        self.webhooks.configure_faults(self.config.delivery_faults)

    def configure(self, changes: dict[str, Any]) -> list[str]:
        """Apply settings; invalid fault specs raise ValueError before anything changes."""
        if "api_faults" in changes:
            ApiFaults().configure(list(changes["api_faults"] or []))
        if "delivery_faults" in changes:
            DeliveryFaults(dict(changes["delivery_faults"] or {}))
        unknown = self.config.update(changes)
        if "api_faults" in changes:
            self.api_faults.configure(self.config.api_faults)
        if "delivery_faults" in changes:
            self.webhooks.configure_faults(self.config.delivery_faults)
        if "delivery_concurrency" in changes:
            self.webhooks.resize()
        return unknown

    # ---- events ----

    def emit(
        self,
        event_type: str,
        obj: Obj,
        req: ReqInfo = AUTOMATIC,
        previous: dict[str, Any] | None = None,
    ) -> Obj:
        """Record an event holding a snapshot of `obj` and queue its webhook."""
        if self.muted:
            return {}
        seq = self.store.next_seq()
        data: dict[str, Any] = {"object": snapshot(obj)}
        if previous is not None:
            data["previous_attributes"] = snapshot(previous)
        event: Obj = {
            # The zero-padded counter makes ids sort in creation order, like `seq`.
            "id": f"evt_1{seq:09d}{rand_token(14)}",
            "object": "event",
            "api_version": self.config.api_version,
            "created": now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": req.id, "idempotency_key": req.idempotency_key},
            "type": event_type,
        }
        self.store.tables["events"][event["id"]] = event
        self.store.seq[event["id"]] = seq
        self.store.created_counts["events"] += 1
        self.webhooks.enqueue(event)
        return event

    # ---- rendering: objects as the API returns them ----

    def render(self, obj: Obj) -> Obj:
        """Fill references Stripe always expands; simple objects are returned as stored."""
        kind = obj.get("object")
        if kind == "subscription":
            out = dict(obj)
            items = dict(obj["items"])
            items["data"] = [self.render(item) for item in obj["items"]["data"]]
            out["items"] = items
            return out
        if kind in ("subscription_item", "item"):
            out = dict(obj)
            out["price"] = self.store.tables["prices"][obj["price"]]
            return out
        if kind == "checkout.session":
            return {k: v for k, v in obj.items() if not k.startswith("_")}
        return obj

    def resolve(self, table: str, obj_id: str) -> Obj | None:
        """An object for `expand[]`: rendered, and a deleted customer as its stub."""
        obj = self.store.tables[table].get(obj_id)
        if obj is None and table == "customers":
            return self.store.deleted_customers.get(obj_id)
        return None if obj is None else self.render(obj)
