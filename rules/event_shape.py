"""What a Stripe event looks like: the door refuses what Stripe never sends, and nothing it does.

Stripe's event ids (`evt_…`) and types (`customer.subscription.updated`) are short ASCII
words; anything else in an id or type is not from Stripe and is never stored. Object ids
are only judged for the types this service handles, and a bad one is not a refusal: the
event is kept `ignored` (reason `invalid_object`), because Stripe must not retry it for days.
"""

from __future__ import annotations

import re
from typing import Any

from core.constants import HANDLED_EVENT_TYPES
from models.vocabulary import IgnoredReason

EVENT_ID = re.compile(r"[A-Za-z0-9_]{1,128}")
EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,128}")
# Stripe's object ids are far shorter; 255 leaves room for any future prefix.
OBJECT_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800"), which JSON lets through
        return True
    return False


def has_unstorable_text(value: Any) -> bool:
    """Whether any string of decoded JSON holds what PostgreSQL's jsonb refuses: U+0000 or a
    lone surrogate. Stripe never sends either."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def event_problem(event: dict[str, Any]) -> str | None:
    """Why `event` cannot be a Stripe event (id or type not of Stripe's shape, or text the
    ledger cannot store, which Stripe never sends); None if it can."""
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not EVENT_ID.fullmatch(event_id):
        return "event id must be 1-128 characters of [A-Za-z0-9_]"
    if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
        return "event type must be 1-128 characters of [a-z0-9_.]"
    if has_unstorable_text(event):
        return "event holds a NUL character or a lone surrogate"
    return None


def object_id(event: dict[str, Any]) -> Any:
    """`data.object.id` as sent (any JSON value), or None when there is no object."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return obj.get("id") if isinstance(obj, dict) else None


def valid_object_id(value: Any) -> str | None:
    """The object id when it is one Stripe could have made, else None."""
    return value if isinstance(value, str) and OBJECT_ID.fullmatch(value) else None


def ignored_reason(event: dict[str, Any]) -> IgnoredReason | None:
    """Why a well-shaped event is stored `ignored` rather than processed; None to process it.

    Unhandled types are ignored whatever their object; a handled type needs an object id it
    can re-fetch from Stripe.
    """
    if event["type"] not in HANDLED_EVENT_TYPES:
        return IgnoredReason.UNHANDLED_TYPE
    if valid_object_id(object_id(event)) is None:
        return IgnoredReason.INVALID_OBJECT
    return None
