"""Seeded fault injection for webhook deliveries: drop, duplicate, reorder, delay."""

from __future__ import annotations

import random
from typing import Any

KINDS = ("drop", "duplicate", "reorder", "delay")


class DeliveryFaults:
    """Each kind fires for its next N deliveries (`<kind>_next`) or with a probability."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        spec = spec or {}
        unknown = set(spec) - {
            *KINDS,
            *(f"{k}_next" for k in KINDS),
            "seed",
            "delay_seconds",
            "reorder_window",
            "types",
        }
        if unknown:
            raise ValueError(f"unknown delivery fault settings: {sorted(unknown)}")
        self.rng = random.Random(spec.get("seed"))
        self.prob = {k: float(spec.get(k, 0.0)) for k in KINDS}
        self.next = {k: int(spec.get(f"{k}_next", 0)) for k in KINDS}
        self.delay_seconds = float(spec.get("delay_seconds", 0.5))
        # A reordered event waits for the next one at most this long before going out anyway.
        self.reorder_window = float(spec.get("reorder_window", 1.0))
        # Optional glob-free filter: only events whose type starts with one of these prefixes.
        self.types: list[str] = list(spec.get("types", []))

    @property
    def active(self) -> bool:
        return any(self.prob.values()) or any(self.next.values())

    def decide(self, event_type: str) -> set[str]:
        """The faults to apply to one event's first delivery attempt."""
        if not self.active:
            return set()
        if self.types and not any(event_type.startswith(t) for t in self.types):
            return set()
        chosen: set[str] = set()
        for kind in KINDS:
            if self.next[kind] > 0:
                self.next[kind] -= 1
                chosen.add(kind)
            # Draw even when a count fired so a seed gives the same sequence either way.
            elif self.rng.random() < self.prob[kind]:
                chosen.add(kind)
        if "drop" in chosen:
            return {"drop"}
        return chosen
