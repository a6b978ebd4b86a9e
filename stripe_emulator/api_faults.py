"""Injected Stripe API failures (500, 429 rate limit, slow answers) for the next N calls."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from .errors import StripeError

MODES = ("500", "429", "slow")


@dataclass
class ApiFault:
    path: str
    method: str | None
    mode: str
    remaining: int
    delay: float

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return fnmatch.fnmatchcase(path, self.path)


class ApiFaults:
    """Rules checked in order; each answers its mode for its next `count` matching calls."""

    def __init__(self) -> None:
        self.rules: list[ApiFault] = []
        self.fired: list[dict[str, Any]] = []

    def configure(self, rules: list[dict[str, Any]]) -> None:
        parsed: list[ApiFault] = []
        for rule in rules:
            mode = str(rule.get("mode", "500"))
            if mode not in MODES:
                raise ValueError(f"api fault mode must be one of {MODES}, not {mode!r}")
            parsed.append(
                ApiFault(
                    path=str(rule.get("path", "*")),
                    method=rule.get("method"),
                    mode=mode,
                    remaining=int(rule.get("count", 1)),
                    delay=float(rule.get("delay", 1.0 if mode == "slow" else 0.0)),
                )
            )
        self.rules = parsed

    def take(self, method: str, path: str) -> ApiFault | None:
        if not self.rules:
            return None
        for rule in self.rules:
            if rule.remaining > 0 and rule.matches(method, path):
                rule.remaining -= 1
                self.fired.append({"method": method, "path": path, "mode": rule.mode})
                return rule
        return None


def fault_error(fault: ApiFault) -> StripeError:
    """The error Stripe answers; neither is stored for idempotent replay (not executed)."""
    if fault.mode == "429":
        return StripeError(
            429,
            "Too many requests hit the API too quickly. We recommend an exponential backoff "
            "of your requests.",
            code="rate_limit",
            replayable=False,
        )
    return StripeError(
        500,
        "An unknown error occurred",
        type="api_error",
        replayable=False,
        headers={"stripe-should-retry": "true"},
    )
