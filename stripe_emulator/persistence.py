"""Keeps an emulated account on disk: one JSON snapshot, replaced atomically after each change.

A snapshot holds every object table, the event log, the finished idempotency keys and
whether webhooks are paused — what Stripe itself would still know after our process died.
Runtime settings (webhook URL, faults) are not kept: the command line gives them anew.
Writes go to a temporary file renamed over the old one, so a crash mid-write leaves the
previous snapshot whole; without fsync a killed process loses nothing (the kernel still
holds the pages), only a power cut could.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .idempotency import Entry
from .store import KINDS, Store

if TYPE_CHECKING:
    from .core import Emulator

log = logging.getLogger(__name__)

FORMAT = 1
# Stripe keeps events for 30 days; older ones leave the log when a saved account loads.
EVENT_RETENTION_SECONDS = 30 * 86400
# Webhook deliveries only flip `pending_webhooks`; they are saved in batches, not one by one.
DELIVERY_SAVE_DELAY = 0.5


def dump(emu: Emulator) -> dict[str, Any]:
    store = emu.store
    keys = [
        {
            "api_key": api_key,
            "key": key,
            "method": entry.method,
            "path": entry.path,
            "params": entry.params,
            "request_id": entry.request_id,
            "created": entry.created,
            "status": entry.status,
            "body": entry.body.decode("utf-8") if entry.body is not None else None,
        }
        for (api_key, key), entry in emu.idempotency.entries.items()
        # A request still running when the snapshot is taken has nothing to replay yet.
        if not entry.in_flight
    ]
    return {
        "format": FORMAT,
        "saved_at": time.time(),
        "tables": store.tables,
        "deleted_customers": store.deleted_customers,
        "lookup_keys": store.lookup_keys,
        "links": store.links,
        "pending_lines": store.pending_lines,
        "seq": store.seq,
        "created_counts": dict(store.created_counts),
        "last_seq": store.last_seq,
        "idempotency": keys,
        "webhooks_paused": emu.webhooks.paused,
    }


def restore(emu: Emulator, data: dict[str, Any]) -> None:
    """Replace the account's state with a snapshot and queue its undelivered events again."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown emulator state format: {data.get('format')!r}")
    store = Store()
    for name, rows in data["tables"].items():
        if name in KINDS:
            store.tables[name] = rows
    store.deleted_customers = data["deleted_customers"]
    store.lookup_keys = data["lookup_keys"]
    store.links = data["links"]
    store.pending_lines = data["pending_lines"]
    store.seq = {k: int(v) for k, v in data["seq"].items()}
    store.created_counts = Counter(data["created_counts"])
    store.last_seq = int(data["last_seq"])
    cutoff = time.time() - EVENT_RETENTION_SECONDS
    events = store.tables["events"]
    for event_id in [i for i, e in events.items() if e["created"] < cutoff]:
        del events[event_id]
        store.seq.pop(event_id, None)
    emu.store = store
    emu.idempotency.entries = {
        (row["api_key"], row["key"]): Entry(
            row["method"],
            row["path"],
            row["params"],
            row["request_id"],
            created=float(row["created"]),
            status=row["status"],
            body=row["body"].encode("utf-8") if row["body"] is not None else None,
        )
        for row in data["idempotency"]
    }
    if data.get("webhooks_paused"):
        emu.webhooks.pause()
    # Stripe keeps retrying what it had not delivered when we stopped; so do we, in order.
    pending = [e for e in events.values() if e.get("pending_webhooks")]
    pending.sort(key=lambda e: store.seq.get(e["id"], 0))
    for event in pending:
        emu.webhooks.enqueue(event)


class StateFile:
    """The snapshot file of one emulator; `save` is synchronous, `save_soon` batches."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._timer: asyncio.TimerHandle | None = None

    def load(self, emu: Emulator) -> bool:
        """Restore the account from the file; False when there is none yet."""
        if not self.path.exists():
            return False
        restore(emu, json.loads(self.path.read_text()))
        log.info("stripe emulator state loaded from %s", self.path)
        return True

    def save(self, emu: Emulator) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(dump(emu), separators=(",", ":")))
        os.replace(temporary, self.path)

    def save_soon(self, emu: Emulator) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save(emu)
            return
        self._timer = loop.call_later(DELIVERY_SAVE_DELAY, self.save, emu)
