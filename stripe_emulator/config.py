"""Runtime settings of one emulator: webhook target, retry pacing and fault injection."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .versions import KNOWN_API_VERSIONS, SDK_API_VERSION

# The API version the pinned `stripe` SDK (16.1.0) speaks; events carry it like an account's
# default version. The bundled spec is 2026-08-26 but the SDK types win where they differ.
DEFAULT_API_VERSION = SDK_API_VERSION
# Shown by `GET /_emulator/config` but fixed: the versions whose shapes the emulator serves.
READ_ONLY: dict[str, Any] = {"known_api_versions": list(KNOWN_API_VERSIONS)}
DEFAULT_WEBHOOK_SECRET = "whsec_emulator_test_secret"
# The key control routes demand as a bearer token; `billing dev` passes a random one.
DEFAULT_SECRET_KEY = "sk_test_emulator"
# Never shown by, nor changed through, `/_emulator/config`.
PRIVATE = frozenset({"secret_key"})


@dataclass
class EmulatorConfig:
    """Everything `POST /_emulator/config` may change at runtime."""

    webhook_url: str | None = None
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    retry_base_delay: float = 1.0
    max_delivery_attempts: int = 6
    delivery_concurrency: int = 4
    delivery_timeout: float = 10.0
    # {"seed", "drop", "duplicate", "reorder", "delay" (probabilities), "<kind>_next" counts,
    #  "delay_seconds", "reorder_window"}; see webhook_faults.DeliveryFaults.
    delivery_faults: dict[str, Any] = field(default_factory=dict)
    # [{"path": glob, "method"?: "POST", "mode": "500"|"429"|"slow", "count": N, "delay"?: s}]
    api_faults: list[dict[str, Any]] = field(default_factory=list)
    api_version: str = DEFAULT_API_VERSION
    # Base of hosted page URLs; by default taken from the Host header of the API call.
    public_url: str | None = None
    idempotency_ttl: float = 24 * 3600.0
    secret_key: str = DEFAULT_SECRET_KEY

    def update(self, changes: dict[str, Any]) -> list[str]:
        """Apply known keys; return the names it did not know."""
        names = {f.name for f in dataclasses.fields(self)} - PRIVATE
        unknown = [k for k in changes if k not in names]
        for key, value in changes.items():
            if key in names:
                setattr(self, key, value)
        return unknown

    def public(self) -> dict[str, Any]:
        shown = {k: v for k, v in dataclasses.asdict(self).items() if k not in PRIVATE}
        return {**shown, **{k: list(v) for k, v in READ_ONLY.items()}}
