"""Stripe's Idempotency-Key semantics: replay, parameter/endpoint mismatch and in-flight 409."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .errors import StripeError


@dataclass
class Entry:
    method: str
    path: str
    params: dict[str, Any]
    request_id: str
    # Wall-clock time, so the 24 h window holds across a restart of a persisted emulator.
    created: float = field(default_factory=time.time)
    status: int | None = None
    body: bytes | None = None

    @property
    def in_flight(self) -> bool:
        return self.status is None


class IdempotencyStore:
    """Keys scoped per API key (one account each), kept at least `ttl` seconds."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], Entry] = {}
        self._inserts = 0

    def begin(
        self,
        api_key: str,
        key: str,
        method: str,
        path: str,
        params: dict[str, Any],
        request_id: str,
        ttl: float,
    ) -> Entry | None:
        """Claim the key for a new execution (None) or return the finished entry to replay.

        Raises Stripe's idempotency errors; all of this runs without awaiting, so two
        concurrent requests on one event loop can never both claim a key.
        """
        scope = (api_key, key)
        entry = self.entries.get(scope)
        if entry is not None and time.time() - entry.created > ttl:
            del self.entries[scope]
            entry = None
        if entry is None:
            self.entries[scope] = Entry(method, path, params, request_id)
            self._inserts += 1
            if self._inserts % 1024 == 0:
                self.prune(ttl)
            return None
        if entry.in_flight:
            raise StripeError(
                409,
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still "
                f"going through): {key}. Please try again later.",
                type="idempotency_error",
                code="idempotency_key_in_use",
                replayable=False,
            )
        if (entry.method, entry.path) != (method, path):
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they "
                f"were first used for ('{entry.method} {entry.path}' vs '{method} {path}'). "
                f"Try using a key other than '{key}' if you meant to execute a different "
                "request.",
                type="idempotency_error",
                replayable=False,
            )
        if entry.params != params:
            raise StripeError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type="idempotency_error",
                replayable=False,
            )
        return entry

    def finish(self, api_key: str, key: str, status: int, body: bytes, keep: bool) -> None:
        scope = (api_key, key)
        entry = self.entries.get(scope)
        if entry is None:
            return
        if keep:
            entry.status, entry.body = status, body
        else:
            # Not executed (validation or injected failure): the key stays free for a retry.
            del self.entries[scope]

    def prune(self, ttl: float) -> None:
        cutoff = time.time() - ttl
        for scope in [s for s, e in self.entries.items() if e.created < cutoff and e.status]:
            del self.entries[scope]
