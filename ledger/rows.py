"""What the ledger hands back: a stored delivery's outcome and a claimed row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stored:
    status: str
    inserted: bool


@dataclass(frozen=True)
class LedgerRow:
    status: str
    attempts: int
    type: str
    payload: dict[str, Any] | None
